from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"

    def ready(self) -> None:
        # Revokes the playground's session key at logout.
        from gateway import playground  # noqa: F401
