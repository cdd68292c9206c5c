"""Index housekeeping for migrations: drop the single-column indexes the hot path's inserts
pay for and no query uses, without rebuilding tables.

On SQLite, Django alters a field by copying its table, which would also drop the ledger's
guard triggers; dropping an index is one ``DROP INDEX`` on both databases instead (the
migrations record the field change in their state only).
"""

from __future__ import annotations

from typing import Any


def _names(schema_editor: Any, table: str, column: str, *, like: bool) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"] == [column]
        and name.endswith("_like") == like
    ]


def drop_index(schema_editor: Any, table: str, column: str, *, like: bool = False) -> None:
    """Drop the plain index over exactly ``column`` (``like``: PostgreSQL's pattern-ops twin)."""
    if like and schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name in _names(schema_editor, table, column, like=like):
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_index(schema_editor: Any, table: str, column: str, *, like: bool = False) -> None:
    """Undo ``drop_index``: the index as Django names and makes it."""
    if like and schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    name = schema_editor._create_index_name(table, [column], suffix="_like" if like else "")
    ops = " varchar_pattern_ops" if like else ""
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)}{ops})"
    )


def run_triggers(connection: Any, by_vendor: dict[str, list[str]], *, what: str, required: bool) -> None:
    """Run a trigger set's statements for this database (``required``: refuse one not written for)."""
    statements = by_vendor.get(connection.vendor)
    if statements is None:
        if required:
            raise NotImplementedError(f"{what} triggers are not written for {connection.vendor}")
        statements = []
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def triggers_named(connection: Any, prefix: str) -> set[str]:
    """Names of the user triggers in the database that start with ``prefix``."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %s", [prefix + "%"]
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [prefix + "%"]
            )
        return {row[0] for row in cursor.fetchall()}
