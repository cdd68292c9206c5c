from django.apps import AppConfig


class GatewayConfig(AppConfig):
    """The public API: surfaces, routing and resilience, provider adapters."""

    name = "gateway"
