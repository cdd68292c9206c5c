from django.apps import AppConfig


class PromptGridConfig(AppConfig):
    name = "promptgrid"
    verbose_name = "PromptGrid operations"

    def ready(self) -> None:
        from promptgrid import checks  # noqa: F401  (registers the deploy checks)
