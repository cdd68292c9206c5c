"""Database triggers that keep the audit log append-only even against raw SQL.

As for the ledger (``billing.db_triggers``): updates are refused on both backends,
deletes on PostgreSQL; on SQLite Django's test flush deletes rows, so there the
model and queryset guards refuse deletes instead. Installation is idempotent and
runs again after every ``migrate`` (``AuditLogConfig.ready``).
"""

from __future__ import annotations

from typing import Any

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
    statements = {"postgresql": _POSTGRES, "sqlite": _SQLITE}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"audit log triggers are not written for {connection.vendor}")
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def uninstall(connection: Any) -> None:
    statements = {"postgresql": _POSTGRES_DROP, "sqlite": _SQLITE_DROP}.get(connection.vendor, [])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def installed(connection: Any) -> set[str]:
    """Names of the audit log triggers present in the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'audit_log_%%'"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_log_%'"
            )
        return {row[0] for row in cursor.fetchall()}
