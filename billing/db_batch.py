"""``billing_hold_settle_batch``: many settlements in one statement (PostgreSQL), for the
group commit of ``billing.pg_batch``.

It keeps ``billing_hold_settle``'s promises for every row it is given, set-based:

* the same lock order: the rows' CreditAccounts by id, then their Holds by id; keys and
  members only through their account (a key or a member bills one account), so two batches,
  or a batch and a single settlement, never wait on each other in a circle;
* an open hold is charged ``LEAST(cost, hold)`` and released; what the provider reported
  beyond the hold is an ``over_hold`` Shortfall, as ``billing_hold_settle`` writes it;
* one statement for the open holds: a multi-row INSERT of the usage entries (``ON CONFLICT DO
  NOTHING``: once per generation), one UPDATE per account of what its holds released, one per
  key and one per member (spend follows the entries actually inserted); no temporary table
  (truncating one at each commit writes the catalog);
* a hold that is no longer open (expired, released) is rare and its charge depends on the room
  left, row after row: those go through ``billing_hold_settle`` itself; a settled one charges
  nothing more;
* only the rows named in ``p_inserted`` are settled (the Generation rows the same statement
  inserted; one already there is a duplicate, and is not charged again). It returns them.

Anything a single settlement would refuse (a hold that does not exist, a generation charged
to another account) raises for the whole batch; the caller then settles its rows one by one,
so the refusal reaches only its own request. Installed by migration 0013 and after every
``migrate`` (``BillingConfig``); a no-op on SQLite, which keeps the per-request path.
"""

from __future__ import annotations

from typing import Any

BATCH_SETTLE_CALL = (
    "SELECT billing_hold_settle_batch(%s::bigint[], %s::bigint[], %s::text[], %s::text[],"
    " ARRAY(SELECT id FROM generation)::text[], %s::timestamptz)"
)

_POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION billing_hold_settle_batch(
      p_holds bigint[], p_costs bigint[], p_generations text[], p_memos text[], p_inserted text[],
      p_now timestamptz)
    RETURNS text[] LANGUAGE plpgsql AS $$
    DECLARE
      v_holds bigint[];
      v_late record;
      v_found integer;
      v_elsewhere integer;
    BEGIN
      SELECT array_agg(hold_id) INTO v_holds
        FROM unnest(p_holds, p_generations) AS r(hold_id, generation_id)
       WHERE generation_id = ANY(p_inserted);
      IF v_holds IS NULL THEN
        RETURN '{}';
      END IF;
      -- The fixed lock order: the accounts, then the holds, each by id.
      PERFORM 1 FROM billing_creditaccount
        WHERE id IN (SELECT account_id FROM billing_hold WHERE id = ANY(v_holds))
        ORDER BY id FOR UPDATE;
      SELECT count(*) INTO v_found FROM (
        SELECT 1 FROM billing_hold WHERE id = ANY(v_holds) ORDER BY id FOR UPDATE) AS locked;
      IF v_found <> (SELECT count(DISTINCT h) FROM unnest(v_holds) AS h) THEN
        RAISE EXCEPTION 'a hold of the batch does not exist' USING ERRCODE = 'no_data_found';
      END IF;

      -- Open holds, set-based, in one statement: each sub-statement sees the rows as they
      -- were before it (its own snapshot), and the ledger's trigger moves the balances after.
      WITH batch AS (
        SELECT r.hold_id, r.cost, r.generation_id, r.memo, h.account_id, h.api_key_id,
               h.membership_id, h.amount_nanos AS amount, LEAST(r.cost, h.amount_nanos) AS charge
          FROM unnest(p_holds, p_costs, p_generations, p_memos) AS r(hold_id, cost, generation_id, memo)
          JOIN billing_hold h ON h.id = r.hold_id
         WHERE r.generation_id = ANY(p_inserted) AND h.status = 'open'
      ), closed AS (
        UPDATE billing_hold h SET status = 'settled', closed_at = p_now, generation_id = b.generation_id
          FROM batch b WHERE h.id = b.hold_id
      ), entry AS (
        -- The unique constraints make this once only per generation.
        INSERT INTO billing_ledgerentry
          (account_id, kind, amount_nanos, generation_id, idempotency_key, memo, actor_id, created_at)
        SELECT account_id, 'usage', -charge, generation_id, 'usage:' || generation_id,
               left(memo, 500), NULL, p_now
          FROM batch WHERE charge > 0
        ON CONFLICT DO NOTHING
        RETURNING generation_id, -amount_nanos AS charged
      ), settled AS (
        SELECT b.*, COALESCE(e.charged, 0) AS charged, EXISTS (
                 SELECT 1 FROM billing_ledgerentry x
                  WHERE x.account_id = b.account_id AND x.idempotency_key = 'usage:' || b.generation_id
               ) AS charged_before
          FROM batch b LEFT JOIN entry e USING (generation_id)
      ), shortfall AS (
        -- Beyond the hold: for the operator, once per generation (nothing when charged already).
        INSERT INTO billing_shortfall
          (kind, generation_id, account_id, api_key_id, hold_id, amount_nanos, detail, created_at)
        SELECT 'over_hold', generation_id, account_id, api_key_id, hold_id, cost - charge,
               format('usage cost %s nanos; the hold reserved %s (open)', cost, amount), p_now
          FROM settled WHERE cost > charge AND (charged > 0 OR NOT charged_before)
        ON CONFLICT DO NOTHING
      ), accounts AS (
        UPDATE billing_creditaccount a SET held_nanos = a.held_nanos - s.released
          FROM (SELECT account_id, sum(amount) AS released FROM batch GROUP BY account_id) AS s
         WHERE a.id = s.account_id
      ), keys AS (
        UPDATE accounts_apikey k SET
            held_nanos = k.held_nanos - s.released,
            usage_nanos = k.usage_nanos + s.charged,
            period_usage_nanos = k.period_usage_nanos + s.charged
          FROM (SELECT api_key_id, sum(amount) AS released, sum(charged) AS charged
                  FROM settled WHERE api_key_id IS NOT NULL GROUP BY api_key_id) AS s
         WHERE k.id = s.api_key_id
      ), members AS (
        UPDATE organisations_membership m SET
            held_nanos = m.held_nanos - s.released,
            usage_nanos = m.usage_nanos + s.charged,
            period_usage_nanos = m.period_usage_nanos + s.charged
          FROM (SELECT membership_id, sum(amount) AS released, sum(charged) AS charged
                  FROM settled WHERE membership_id IS NOT NULL GROUP BY membership_id) AS s
         WHERE m.id = s.membership_id
      )
      SELECT count(*) INTO v_elsewhere FROM settled
       WHERE charge > 0 AND charged = 0 AND NOT charged_before;
      IF v_elsewhere > 0 THEN
        RAISE EXCEPTION 'a generation of the batch is already charged to another account'
          USING ERRCODE = 'unique_violation';
      END IF;

      -- Holds that were no longer open (expired, released): their charge stops at the room
      -- left, so one by one. (One settled already charges nothing more, as in billing_hold_settle.)
      FOR v_late IN SELECT r.hold_id, r.cost, r.generation_id, r.memo
                      FROM unnest(p_holds, p_costs, p_generations, p_memos)
                           AS r(hold_id, cost, generation_id, memo)
                      JOIN billing_hold h ON h.id = r.hold_id
                     WHERE r.generation_id = ANY(p_inserted) AND h.status NOT IN ('open', 'settled')
                     ORDER BY r.hold_id LOOP
        PERFORM billing_hold_settle(v_late.hold_id, v_late.cost, v_late.generation_id, v_late.memo, p_now);
      END LOOP;
      RETURN p_inserted;
    END $$
    """,
]

_POSTGRES_DROP = [
    "DROP FUNCTION IF EXISTS billing_hold_settle_batch"
    "(bigint[], bigint[], text[], text[], text[], timestamptz)",
]


def install(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite keeps the per-request path
    with connection.cursor() as cursor:
        for sql in _POSTGRES:
            cursor.execute(sql)


def uninstall(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for sql in _POSTGRES_DROP:
            cursor.execute(sql)
