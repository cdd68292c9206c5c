"""Database triggers that keep the ledger honest even against raw SQL.

* Ledger entries cannot be updated (both backends) or deleted (PostgreSQL; on
  SQLite Django's test flush deletes rows, so there the model and queryset guards
  refuse deletes instead).
* Inserting a ledger entry moves its account's balance in the same statement, so a
  balance can never change without its entry, nor an entry exist without moving it
  (on PostgreSQL once per statement and account, for the sum of its entries).
* On PostgreSQL any other UPDATE that changes a balance is refused; on both
  backends an account is created with a zero balance.

Installation is idempotent. It runs in migration 0002 and again after every
``migrate`` (``BillingConfig.ready``), because SQLite drops a table's triggers
when a later migration rebuilds that table.
"""

from __future__ import annotations

from typing import Any

from promptgrid.schema import run_triggers, triggers_named

_POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION billing_ledger_immutable() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'billing_ledgerentry is append-only: % refused', TG_OP;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER billing_ledger_immutable
      BEFORE UPDATE OR DELETE ON billing_ledgerentry
      FOR EACH ROW EXECUTE FUNCTION billing_ledger_immutable()
    """,
    # Once per INSERT statement, one UPDATE per account: a batch of settlements (one multi-row
    # INSERT of usage entries) moves a busy account's balance once, not once per entry.
    """
    CREATE OR REPLACE FUNCTION billing_ledger_apply() RETURNS trigger AS $$
    BEGIN
      UPDATE billing_creditaccount a SET balance_nanos = a.balance_nanos + s.amount
        FROM (SELECT account_id, sum(amount_nanos) AS amount FROM billing_ledger_new
               GROUP BY account_id) AS s
       WHERE a.id = s.account_id;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER billing_ledger_apply
      AFTER INSERT ON billing_ledgerentry REFERENCING NEW TABLE AS billing_ledger_new
      FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_apply()
    """,
    # pg_trigger_depth() is 2 only when the UPDATE comes from billing_ledger_apply.
    """
    CREATE OR REPLACE FUNCTION billing_balance_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        IF NEW.balance_nanos <> 0 THEN
          RAISE EXCEPTION 'an account starts with a zero balance';
        END IF;
      ELSIF NEW.balance_nanos IS DISTINCT FROM OLD.balance_nanos AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a balance changes only with its ledger entry';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER billing_balance_guard
      BEFORE INSERT OR UPDATE ON billing_creditaccount
      FOR EACH ROW EXECUTE FUNCTION billing_balance_guard()
    """,
]

_POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS billing_balance_guard ON billing_creditaccount",
    "DROP TRIGGER IF EXISTS billing_ledger_apply ON billing_ledgerentry",
    "DROP TRIGGER IF EXISTS billing_ledger_immutable ON billing_ledgerentry",
    "DROP FUNCTION IF EXISTS billing_balance_guard()",
    "DROP FUNCTION IF EXISTS billing_ledger_apply()",
    "DROP FUNCTION IF EXISTS billing_ledger_immutable()",
]

_SQLITE = [
    """
    CREATE TRIGGER IF NOT EXISTS billing_ledger_immutable
      BEFORE UPDATE ON billing_ledgerentry
    BEGIN
      SELECT RAISE(ABORT, 'billing_ledgerentry is append-only: UPDATE refused');
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS billing_ledger_apply
      AFTER INSERT ON billing_ledgerentry
    BEGIN
      UPDATE billing_creditaccount SET balance_nanos = balance_nanos + NEW.amount_nanos
        WHERE id = NEW.account_id;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS billing_balance_guard
      BEFORE INSERT ON billing_creditaccount WHEN NEW.balance_nanos <> 0
    BEGIN
      SELECT RAISE(ABORT, 'an account starts with a zero balance');
    END
    """,
]

_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS billing_balance_guard",
    "DROP TRIGGER IF EXISTS billing_ledger_apply",
    "DROP TRIGGER IF EXISTS billing_ledger_immutable",
]

TRIGGER_NAMES = ("billing_ledger_immutable", "billing_ledger_apply", "billing_balance_guard")


def install(connection: Any) -> None:
    run_triggers(connection, {"postgresql": _POSTGRES, "sqlite": _SQLITE}, what="billing", required=True)


def uninstall(connection: Any) -> None:
    run_triggers(
        connection, {"postgresql": _POSTGRES_DROP, "sqlite": _SQLITE_DROP}, what="billing", required=False
    )


def installed(connection: Any) -> set[str]:
    """Names of the billing triggers present in the database."""
    return triggers_named(connection, "billing_")
