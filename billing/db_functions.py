"""The hot path's bookkeeping as PL/pgSQL functions: one round trip to hold, one to settle.

Placing a hold and settling it are the two transactions of every request. Done through the
ORM they take 5 and 9 round trips (each statement, plus BEGIN and COMMIT), and the account's
row stays locked across all of them. As functions, each is a single statement that
PostgreSQL runs in autocommit as its own transaction. They do exactly what the ORM path in
``billing.services`` does (SQLite keeps that path):

* the same conditional UPDATEs (``balance - held`` and a key's spend never overshoot);
* the same lock order: the CreditAccount row, then its Hold rows by id, then the ApiKey row,
  then the Membership row;
* the ledger's own trigger still moves the balance (nothing here writes ``balance_nanos``);
* usage is inserted with ``ON CONFLICT DO NOTHING`` under the same unique constraints, so a
  generation is charged at most once.

An organisation's key also reserves against its member's budget (``organisations_membership``),
in the same function and with the same rule as the key's own limit; the membership is found
from the key's row (``RETURNING``), so this costs no extra round trip.

Refusals are return codes, not exceptions, so a refused hold never aborts a caller's
transaction; the code is mapped to InsufficientCredits / KeyLimitReached / MemberBudgetReached
in Python. Installed by migration 0004, again with member budgets by 0009, and by 0011 (the settlement
that never charges more than its hold); a no-op on SQLite; ``CREATE OR REPLACE`` makes it
idempotent.
"""

from __future__ import annotations

from typing import Any

HOLD_INSUFFICIENT_CREDITS = -1
HOLD_KEY_LIMIT_REACHED = -2
HOLD_MEMBER_BUDGET_REACHED = -3
HOLD_NOT_A_MEMBER = -4

# The calls, typed as the functions' arguments: with server-side binding (billing.pg_async)
# psycopg sends a Python int as the narrowest integer type that holds it.
HOLD_PLACE_CALL = (
    "SELECT billing_hold_place(%s::bigint, %s::bigint, %s::bigint, %s::integer, %s::text, %s::timestamptz)"
)
HOLD_SETTLE_CALL = "SELECT billing_hold_settle(%s::bigint, %s::bigint, %s::text, %s::text, %s::timestamptz)"

# A key's limit and an organisation member's budget have the same columns and the same rule:
# the SET and WHERE of one conditional UPDATE of either row (``p_amount``, ``p_now`` bound).
_NEW_PERIOD = """limit_nanos IS NOT NULL AND billing_period_start(limit_reset, p_now) IS NOT NULL
             AND (period_start IS NULL OR period_start < billing_period_start(limit_reset, p_now))"""
_LIMITED_HOLD = f"""
          held_nanos = held_nanos + p_amount,
          period_usage_nanos = CASE WHEN {_NEW_PERIOD} THEN 0 ELSE period_usage_nanos END,
          period_start = CASE WHEN {_NEW_PERIOD}
            THEN billing_period_start(limit_reset, p_now) ELSE period_start END"""
_WITHIN_LIMIT = """
           limit_nanos IS NULL OR limit_nanos >= held_nanos + p_amount + CASE
             WHEN billing_period_start(limit_reset, p_now) IS NULL THEN usage_nanos
             WHEN period_start IS NULL OR period_start < billing_period_start(limit_reset, p_now) THEN 0
             ELSE period_usage_nanos END"""

# What a key's limit or a member's budget still allows a charge that no hold reserved.
_LIMIT_ROOM = """GREATEST(limit_nanos - held_nanos - CASE
                   WHEN billing_period_start(limit_reset, p_now) IS NULL THEN usage_nanos
                   WHEN period_start IS NULL OR period_start < billing_period_start(limit_reset, p_now) THEN 0
                   ELSE period_usage_nanos END, 0)"""

_POSTGRES = [
    # Mirrors promptgrid.periods.period_start: periods start at midnight UTC, weeks on Monday.
    """
    CREATE OR REPLACE FUNCTION billing_period_start(p_reset text, p_now timestamptz)
    RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE p_reset
        WHEN 'daily' THEN date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        WHEN 'weekly' THEN date_trunc('week', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        WHEN 'monthly' THEN date_trunc('month', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
      END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION billing_hold_place(
      p_account bigint, p_key bigint, p_amount bigint, p_ttl_seconds integer, p_generation text,
      p_now timestamptz)
    RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
      v_hold record;
      v_released integer := 0;
      v_id bigint;
      v_org bigint;
      v_user bigint;
      v_member bigint;
    BEGIN
      -- A hold lost in a crash is harmless: the request it was for died with the server and
      -- nothing was charged against it; the client sees an error and retries. So this
      -- transaction does not wait for its WAL to reach the disk (the settlement does: it
      -- charges money). Local to this transaction only.
      PERFORM set_config('synchronous_commit', 'off', true);

      -- The check and the reservation are one statement (the row stays locked until commit).
      UPDATE billing_creditaccount SET held_nanos = held_nanos + p_amount
       WHERE id = p_account AND balance_nanos >= held_nanos + p_amount;
      IF NOT FOUND THEN
        -- Expired holds are the sweep's job; they are released here only when they stand in
        -- the way of this hold, then the reservation is tried once more.
        IF EXISTS (SELECT 1 FROM billing_hold
                    WHERE account_id = p_account AND status = 'open' AND expires_at < p_now) THEN
          PERFORM 1 FROM billing_creditaccount WHERE id = p_account FOR UPDATE;
          PERFORM 1 FROM billing_hold
            WHERE account_id = p_account AND status = 'open' AND expires_at < p_now
            ORDER BY id FOR UPDATE;
          FOR v_hold IN
            SELECT id, api_key_id, membership_id, amount_nanos FROM billing_hold
             WHERE account_id = p_account AND status = 'open' AND expires_at < p_now ORDER BY id
          LOOP
            UPDATE billing_hold SET status = 'expired', closed_at = p_now WHERE id = v_hold.id;
            UPDATE billing_creditaccount SET held_nanos = held_nanos - v_hold.amount_nanos
             WHERE id = p_account;
            IF v_hold.api_key_id IS NOT NULL THEN
              UPDATE accounts_apikey SET held_nanos = held_nanos - v_hold.amount_nanos
               WHERE id = v_hold.api_key_id;
            END IF;
            IF v_hold.membership_id IS NOT NULL THEN
              UPDATE organisations_membership SET held_nanos = held_nanos - v_hold.amount_nanos
               WHERE id = v_hold.membership_id;
            END IF;
            v_released := v_released + 1;
          END LOOP;
        END IF;
        IF v_released = 0 THEN
          RETURN -1;
        END IF;
        UPDATE billing_creditaccount SET held_nanos = held_nanos + p_amount
         WHERE id = p_account AND balance_nanos >= held_nanos + p_amount;
        IF NOT FOUND THEN
          RETURN -1;
        END IF;
      END IF;

      IF p_key IS NOT NULL THEN
        -- A limited key whose period rolled over starts the new one at zero, in the same
        -- statement as the check (SET and WHERE both read the row as it was).
        UPDATE accounts_apikey SET @LIMITED_HOLD@
         WHERE id = p_key AND (@WITHIN_LIMIT@)
        RETURNING organisation_id, user_id INTO v_org, v_user;
        IF NOT FOUND AND EXISTS (SELECT 1 FROM accounts_apikey WHERE id = p_key) THEN
          -- Take the account's reservation back (its row is ours until commit); expired
          -- holds released above stay released, as the sweep would have done.
          UPDATE billing_creditaccount SET held_nanos = held_nanos - p_amount WHERE id = p_account;
          RETURN -2;
        END IF;
      END IF;

      IF v_org IS NOT NULL THEN
        -- An organisation's key: its member's budget, checked and reserved the same way.
        UPDATE organisations_membership SET @LIMITED_HOLD@
         WHERE organisation_id = v_org AND user_id = v_user AND (@WITHIN_LIMIT@)
        RETURNING id INTO v_member;
        IF NOT FOUND THEN
          UPDATE billing_creditaccount SET held_nanos = held_nanos - p_amount WHERE id = p_account;
          UPDATE accounts_apikey SET held_nanos = held_nanos - p_amount WHERE id = p_key;
          IF EXISTS (SELECT 1 FROM organisations_membership
                      WHERE organisation_id = v_org AND user_id = v_user) THEN
            RETURN -3;
          END IF;
          RETURN -4;
        END IF;
      END IF;

      INSERT INTO billing_hold
        (account_id, api_key_id, membership_id, amount_nanos, status, generation_id, created_at,
         expires_at)
      VALUES (p_account, p_key, v_member, p_amount, 'open', p_generation, p_now,
              p_now + make_interval(secs => p_ttl_seconds))
      RETURNING id INTO v_id;
      RETURN v_id;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION billing_hold_settle(
      p_hold bigint, p_cost bigint, p_generation text, p_memo text, p_now timestamptz)
    RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
      v_account bigint;
      h billing_hold%ROWTYPE;
      v_key text := 'usage:' || p_generation;
      v_released bigint := 0;
      v_charge bigint;
      v_charged bigint := 0;
      v_room bigint;
      v_limit_room bigint;
      v_entry bigint;
    BEGIN
      SELECT account_id INTO v_account FROM billing_hold WHERE id = p_hold;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % does not exist', p_hold USING ERRCODE = 'no_data_found';
      END IF;
      -- The fixed lock order: the account, then the hold (then the key, below).
      PERFORM 1 FROM billing_creditaccount WHERE id = v_account FOR UPDATE;
      SELECT * INTO h FROM billing_hold WHERE id = p_hold FOR UPDATE;
      IF h.status = 'settled' THEN
        SELECT id INTO v_entry FROM billing_ledgerentry
         WHERE account_id = h.account_id AND idempotency_key = v_key;
        RETURN v_entry;
      END IF;
      -- Never charge more than was reserved: balance - held and the key's room were checked
      -- for the hold's amount only. A hold no longer open reserves nothing: its charge stops
      -- at what the balance, the key's limit and the member's budget still leave.
      IF h.status = 'open' THEN
        v_released := h.amount_nanos;
        v_charge := LEAST(p_cost, h.amount_nanos);
      ELSE
        SELECT GREATEST(balance_nanos - held_nanos, 0) INTO v_room
          FROM billing_creditaccount WHERE id = h.account_id;
        IF h.api_key_id IS NOT NULL THEN
          SELECT @LIMIT_ROOM@ INTO v_limit_room FROM accounts_apikey
           WHERE id = h.api_key_id AND limit_nanos IS NOT NULL FOR UPDATE;
          IF v_limit_room IS NOT NULL THEN  -- NULL: no such key, or no limit
            v_room := LEAST(v_room, v_limit_room);
          END IF;
        END IF;
        IF h.membership_id IS NOT NULL THEN
          SELECT @LIMIT_ROOM@ INTO v_limit_room FROM organisations_membership
           WHERE id = h.membership_id AND limit_nanos IS NOT NULL FOR UPDATE;
          IF v_limit_room IS NOT NULL THEN
            v_room := LEAST(v_room, v_limit_room);
          END IF;
        END IF;
        v_charge := LEAST(p_cost, v_room);
      END IF;
      UPDATE billing_hold SET status = 'settled', closed_at = p_now, generation_id = p_generation
       WHERE id = p_hold;
      IF v_charge > 0 THEN
        -- The ledger's trigger moves the balance; the unique constraints make this once only.
        INSERT INTO billing_ledgerentry
          (account_id, kind, amount_nanos, generation_id, idempotency_key, memo, actor_id, created_at)
        VALUES (h.account_id, 'usage', -v_charge, p_generation, v_key, left(p_memo, 500), NULL, p_now)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_entry;
        IF v_entry IS NOT NULL THEN
          v_charged := v_charge;
        ELSE
          SELECT id INTO v_entry FROM billing_ledgerentry
           WHERE account_id = h.account_id AND idempotency_key = v_key;
          IF NOT FOUND THEN
            RAISE EXCEPTION 'generation % is already charged to another account', p_generation
              USING ERRCODE = 'unique_violation';
          END IF;
        END IF;
      ELSIF p_cost > 0 THEN
        SELECT id INTO v_entry FROM billing_ledgerentry
         WHERE account_id = h.account_id AND idempotency_key = v_key;
      END IF;
      -- What the provider reported beyond the charge, for the operator (once per generation;
      -- nothing when this generation was charged already).
      IF p_cost > v_charge AND (v_charged > 0 OR v_entry IS NULL) THEN
        INSERT INTO billing_shortfall
          (kind, generation_id, account_id, api_key_id, hold_id, amount_nanos, detail, created_at)
        VALUES ('over_hold', p_generation, h.account_id, h.api_key_id, p_hold, p_cost - v_charge,
                format('usage cost %s nanos; the hold reserved %s (%s)', p_cost, h.amount_nanos, h.status),
                p_now)
        ON CONFLICT DO NOTHING;
      END IF;
      IF v_released <> 0 THEN
        UPDATE billing_creditaccount SET held_nanos = held_nanos - v_released WHERE id = h.account_id;
      END IF;
      -- The key's counters follow the ledger: no new entry, no new spend.
      IF h.api_key_id IS NOT NULL AND (v_released <> 0 OR v_charged <> 0) THEN
        UPDATE accounts_apikey SET
          held_nanos = held_nanos - v_released,
          usage_nanos = usage_nanos + v_charged,
          period_usage_nanos = period_usage_nanos + v_charged
         WHERE id = h.api_key_id;
      END IF;
      IF h.membership_id IS NOT NULL AND (v_released <> 0 OR v_charged <> 0) THEN
        UPDATE organisations_membership SET
          held_nanos = held_nanos - v_released,
          usage_nanos = usage_nanos + v_charged,
          period_usage_nanos = period_usage_nanos + v_charged
         WHERE id = h.membership_id;
      END IF;
      RETURN v_entry;
    END $$
    """,
]

_POSTGRES_DROP = [
    "DROP FUNCTION IF EXISTS billing_hold_settle(bigint, bigint, text, text, timestamptz)",
    "DROP FUNCTION IF EXISTS billing_hold_place(bigint, bigint, bigint, integer, text, timestamptz)",
    "DROP FUNCTION IF EXISTS billing_period_start(text, timestamptz)",
]


def _statements() -> list[str]:
    return [
        sql.replace("@LIMITED_HOLD@", _LIMITED_HOLD)
        .replace("@WITHIN_LIMIT@", _WITHIN_LIMIT)
        .replace("@LIMIT_ROOM@", _LIMIT_ROOM)
        for sql in _POSTGRES
    ]


def shortfall_detail(cost_nanos: int, hold_nanos: int, hold_status: str) -> str:
    """An over-hold Shortfall's detail, as ``billing_hold_settle`` writes it."""
    return f"usage cost {cost_nanos} nanos; the hold reserved {hold_nanos} ({hold_status})"


def install(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite keeps the ORM path
    with connection.cursor() as cursor:
        for sql in _statements():
            cursor.execute(sql)


def uninstall(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for sql in _POSTGRES_DROP:
            cursor.execute(sql)
