from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # SQLite drops a table's triggers when a migration rebuilds it; put them back.
    from django.db import connections

    from accounts.audit_log import db_triggers

    connection = connections[using]
    if "audit_log_auditentry" in connection.introspection.table_names():
        db_triggers.install(connection)


class AuditLogConfig(AppConfig):
    name = "accounts.audit_log"
    label = "audit_log"
    verbose_name = "Audit log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.audit_log import receivers  # noqa: F401

        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="audit_log_ensure_triggers")
