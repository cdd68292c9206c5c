"""Database triggers that keep the audit log append-only even against raw SQL.

As for the ledger (``billing.db_triggers``): updates are refused on both backends,
deletes on PostgreSQL; on SQLite Django's test flush deletes rows, so there the
model and queryset guards refuse deletes instead. Installation is idempotent and
runs again after every ``migrate`` (``AuditLogConfig.ready``).
"""

from __future__ import annotations

from typing import Any

from promptgrid.schema import run_triggers, triggers_named

_POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION audit_log_immutable() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log_auditentry is append-only: % refused', TG_OP;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER audit_log_immutable
      BEFORE UPDATE OR DELETE ON audit_log_auditentry
      FOR EACH ROW EXECUTE FUNCTION audit_log_immutable()
    """,
]

_POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS audit_log_immutable ON audit_log_auditentry",
    "DROP FUNCTION IF EXISTS audit_log_immutable()",
]

_SQLITE = [
    """
    CREATE TRIGGER IF NOT EXISTS audit_log_immutable
      BEFORE UPDATE ON audit_log_auditentry
    BEGIN
      SELECT RAISE(ABORT, 'audit_log_auditentry is append-only: UPDATE refused');
    END
    """,
]

_SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_log_immutable"]

TRIGGER_NAMES = ("audit_log_immutable",)


def install(connection: Any) -> None:
    run_triggers(connection, {"postgresql": _POSTGRES, "sqlite": _SQLITE}, what="audit log", required=True)


def uninstall(connection: Any) -> None:
    run_triggers(
        connection, {"postgresql": _POSTGRES_DROP, "sqlite": _SQLITE_DROP}, what="audit log", required=False
    )


def installed(connection: Any) -> set[str]:
    """Names of the audit log triggers present in the database."""
    return triggers_named(connection, "audit_log_")
