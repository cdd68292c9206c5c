from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # SQLite drops triggers when a migration rebuilds a table; put them back.
    from django.db import connections

    from billing import db_batch, db_functions, db_triggers

    connection = connections[using]
    tables = connection.introspection.table_names()
    if "billing_ledgerentry" in tables and "billing_creditaccount" in tables:
        db_triggers.install(connection)
        # The hot path's functions (PostgreSQL) follow the code: a changed function body
        # takes effect at the next migrate without a migration of its own.
        db_functions.install(connection)
        db_batch.install(connection)


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import signals  # noqa: F401

        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="billing_ensure_triggers")
