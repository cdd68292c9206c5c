from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "billing.alerts"
    label = "alerts"
    verbose_name = "Alerts and webhooks"
    default_auto_field = "django.db.models.BigAutoField"
