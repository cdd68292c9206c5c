"""``billing_hold_settle_batch``: many settlements in one statement (PostgreSQL), for the
group commit of ``billing.pg_batch``.

It keeps ``billing_hold_settle``'s promises for every row it is given, set-based:

* the same lock order: the rows' CreditAccounts by id, then their Holds by id; keys and
  members only through their account (a key or a member bills one account), so two batches,
  or a batch and a single settlement, never wait on each other in a circle;
* an open hold is charged ``LEAST(cost, hold)`` and released; what the provider reported
  beyond the hold is an ``over_hold`` Shortfall, as ``billing_hold_settle`` writes it;
* one multi-row INSERT of the usage entries (``ON CONFLICT DO NOTHING``: once per
  generation), then one UPDATE per account of what its holds released, one per key and one
  per member (spend follows the entries actually inserted);
* a hold that is no longer open (expired, released, settled already) is rare and its charge
  depends on the room left, row after row: those go through ``billing_hold_settle`` itself;
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

      CREATE TEMP TABLE IF NOT EXISTS billing_batch_row (
        hold_id bigint, cost bigint, generation_id text, memo text, account_id bigint,
        api_key_id bigint, membership_id bigint, amount bigint, charge bigint, charged bigint,
        open boolean) ON COMMIT DELETE ROWS;
      INSERT INTO billing_batch_row
      SELECT r.hold_id, r.cost, r.generation_id, r.memo, h.account_id, h.api_key_id,
             h.membership_id, h.amount_nanos, LEAST(r.cost, h.amount_nanos), 0, h.status = 'open'
        FROM unnest(p_holds, p_costs, p_generations, p_memos) AS r(hold_id, cost, generation_id, memo)
        JOIN billing_hold h ON h.id = r.hold_id
       WHERE r.generation_id = ANY(p_inserted);

      UPDATE billing_hold h SET status = 'settled', closed_at = p_now, generation_id = b.generation_id
        FROM billing_batch_row b WHERE h.id = b.hold_id AND b.open;

      -- The ledger's trigger moves the balances; the unique constraints make this once only.
      WITH entry AS (
        INSERT INTO billing_ledgerentry
          (account_id, kind, amount_nanos, generation_id, idempotency_key, memo, actor_id, created_at)
        SELECT account_id, 'usage', -charge, generation_id, 'usage:' || generation_id,
               left(memo, 500), NULL, p_now
          FROM billing_batch_row WHERE open AND charge > 0
        ON CONFLICT DO NOTHING
        RETURNING generation_id, -amount_nanos AS charged)
      UPDATE billing_batch_row b SET charged = entry.charged
        FROM entry WHERE b.generation_id = entry.generation_id;
      IF EXISTS (SELECT 1 FROM billing_batch_row b
                  WHERE b.open AND b.charge > 0 AND b.charged = 0 AND NOT EXISTS (
                    SELECT 1 FROM billing_ledgerentry e
                     WHERE e.account_id = b.account_id AND e.idempotency_key = 'usage:' || b.generation_id))
      THEN
        RAISE EXCEPTION 'a generation of the batch is already charged to another account'
          USING ERRCODE = 'unique_violation';
      END IF;

      -- Beyond the hold: for the operator, once per generation (nothing when it was charged already).
      INSERT INTO billing_shortfall
        (kind, generation_id, account_id, api_key_id, hold_id, amount_nanos, detail, created_at)
      SELECT 'over_hold', generation_id, account_id, api_key_id, hold_id, cost - charge,
             format('usage cost %s nanos; the hold reserved %s (%s)', cost, amount, 'open'), p_now
        FROM billing_batch_row b
       WHERE open AND cost > charge AND (charged > 0 OR NOT EXISTS (
               SELECT 1 FROM billing_ledgerentry e
                WHERE e.account_id = b.account_id AND e.idempotency_key = 'usage:' || b.generation_id))
      ON CONFLICT DO NOTHING;

      UPDATE billing_creditaccount a SET held_nanos = a.held_nanos - s.released
        FROM (SELECT account_id, sum(amount) AS released FROM billing_batch_row
               WHERE open GROUP BY account_id) AS s
       WHERE a.id = s.account_id;
      UPDATE accounts_apikey k SET
          held_nanos = k.held_nanos - s.released,
          usage_nanos = k.usage_nanos + s.charged,
          period_usage_nanos = k.period_usage_nanos + s.charged
        FROM (SELECT api_key_id, sum(amount) AS released, sum(charged) AS charged
                FROM billing_batch_row WHERE open AND api_key_id IS NOT NULL GROUP BY api_key_id) AS s
       WHERE k.id = s.api_key_id;
      UPDATE organisations_membership m SET
          held_nanos = m.held_nanos - s.released,
          usage_nanos = m.usage_nanos + s.charged,
          period_usage_nanos = m.period_usage_nanos + s.charged
        FROM (SELECT membership_id, sum(amount) AS released, sum(charged) AS charged
                FROM billing_batch_row WHERE open AND membership_id IS NOT NULL GROUP BY membership_id) AS s
       WHERE m.id = s.membership_id;

      -- Holds no longer open: their charge stops at the room left, so one by one.
      FOR v_late IN SELECT hold_id, cost, generation_id, memo FROM billing_batch_row
                     WHERE NOT open ORDER BY hold_id LOOP
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
