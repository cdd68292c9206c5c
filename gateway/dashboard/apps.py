from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Overview, activity, playground, charts and the live consumer."""

    name = "gateway.dashboard"
    label = "dashboard"

    def ready(self) -> None:
        from gateway.dashboard import live_events, playground  # noqa: F401 (playground: logout signal)
        from promptgrid import live

        # Billing and the gateway publish through promptgrid.live, which knows no app;
        # the dashboard is the subscriber that turns events into websocket sends.
        live.subscribe(live_events)
