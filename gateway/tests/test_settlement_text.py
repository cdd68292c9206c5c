"""Settlement never fails for the content's sake: a logged prompt or answer holding a value
PostgreSQL refuses (NUL, a lone surrogate) is stored with U+FFFD in its place, and the
charge, the Generation row and the hold's release commit as for any other request.

The refusal is PostgreSQL's (SQLite stores NUL), so the API tests run there; they commit
(``transaction=True``) as production does, where each settlement is its own transaction.
"""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import UserSettings
from billing.audit import ledger_audit
from billing.models import Generation, Hold
from gateway.tests.conftest import chat
from promptgrid.storable import storable_json, storable_text

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL refuses NUL")

NUL_PROMPT = "before\u0000after"


@pytest.fixture
def logging_customer(make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    UserSettings.objects.update_or_create(user=customer.user, defaults={"log_prompts": True})
    return customer


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_prompt_with_nul_is_charged_and_logged_with_the_nul_replaced(logging_customer, call_api, stream):
    customer = logging_customer
    before = customer.balance()
    body = chat(text=NUL_PROMPT, stream=stream)
    body["messages"][0]["name\u0000"] = "key with a NUL"  # keys are stored too

    result = call_api(body, customer.secret)

    assert result.status == 200
    generation = Generation.objects.get()
    assert generation.cost_nanos > 0
    assert before - customer.balance() == generation.cost_nanos
    assert customer.held() == 0
    assert Hold.objects.get().status == Hold.Status.SETTLED
    assert generation.prompt_text == [
        {"role": "user", "content": "before\ufffdafter", "name\ufffd": "key with a NUL"}
    ]
    assert generation.completion_text == "before\ufffdafter"  # mock/echo answers with the prompt
    assert ledger_audit() == []


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_through_the_async_pool_text_with_nul_and_lone_surrogates_is_stored_replaced(
    make_customer, make_mock_model, settings
):
    """The hot path's own writer (GATEWAY_DB_ASYNC): psycopg refuses NUL in text, PostgreSQL
    the \\u0000 escape in jsonb, and UTF-8 a lone surrogate."""
    import asyncio

    from django.utils import timezone

    from catalog.snapshot import get_snapshot
    from gateway.pipeline import holds, settlement
    from gateway.pipeline.flight import new_generation_id
    from gateway.providers.base import Usage

    settings.GATEWAY_DB_ASYNC = True
    make_mock_model(input_price="1", output_price="2")
    endpoint = get_snapshot().models["mock/echo"].endpoints[0]
    customer = make_customer()
    before = customer.balance()
    generation_id = new_generation_id()

    async def request() -> settlement.Settled:
        reservation = await holds.reserve_async(
            user_id=customer.user.pk,
            account_id=customer.account.pk,
            api_key_id=customer.key.pk,
            endpoint=endpoint,
            prompt_tokens=100,
            requested_max_tokens=50,
            n=1,
            generation_id=generation_id,
        )
        outcome = settlement.Outcome(
            generation_id=generation_id,
            user_id=customer.user.pk,
            api_key_id=customer.key.pk,
            endpoint=endpoint,
            model_id=None,
            hold_id=reservation.hold_id,
            hold_nanos=reservation.amount_nanos,
            streamed=True,
            created_at=timezone.now(),
            usage=Usage(prompt_tokens=10, completion_tokens=5),
            finish_reason="stop",
            prompt_text=[{"role": "user", "content": "a\u0000b", "k\u0000": "\ud800"}],
            completion_text="c\u0000d\udfff",
            error="upstream said \u0000",
        )
        return await settlement.settle_shielded(outcome)

    settled = asyncio.run(request())

    generation = Generation.objects.get(pk=generation_id)
    assert generation.prompt_text == [{"role": "user", "content": "a\ufffdb", "k\ufffd": "\ufffd"}]
    assert (generation.completion_text, generation.error) == ("c\ufffdd\ufffd", "upstream said \ufffd")
    assert settled.cost_nanos == generation.cost_nanos == 10 * 1000 + 5 * 2000
    assert before - customer.balance() == settled.cost_nanos and customer.held() == 0
    assert ledger_audit() == []


def test_storable_text_replaces_nul_and_lone_surrogates_and_leaves_clean_text_alone():
    clean = "héllo ✓ 😀"
    assert storable_text(clean) is clean
    assert storable_text("a\x00b\ud800c\udfff") == "a\ufffdb\ufffdc\ufffd"


def test_storable_json_cleans_strings_and_keys_at_any_depth():
    value = [{"k\x00": ["\udc00", {"deep": "x\x00"}], "n": 1.5, "ok": None}]
    assert storable_json(value) == [{"k\ufffd": ["\ufffd", {"deep": "x\ufffd"}], "n": 1.5, "ok": None}]
    clean = [{"role": "user", "content": "a \\u0000 typed as text"}]
    assert storable_json(clean) == clean


@pytest.fixture
def quick_retries(monkeypatch):
    from gateway.pipeline import settlement

    monkeypatch.setattr(settlement, "RETRY_DELAYS", (0.0, 0.0))
    return settlement


@pytest.mark.django_db(transaction=True)
def test_when_storing_the_logged_text_fails_anyway_the_charge_and_row_commit_without_it(
    logging_customer, call_api, quick_retries, monkeypatch
):
    from django.db import DataError

    settle = quick_retries.settle

    def refuses_text(outcome):
        if outcome.prompt_text is not None:
            raise DataError("a value the database refuses")
        return settle(outcome)

    monkeypatch.setattr(quick_retries, "settle", refuses_text)
    customer = logging_customer
    before = customer.balance()

    result = call_api(chat(text="hello"), customer.secret)

    assert result.status == 200
    generation = Generation.objects.get()
    assert (generation.prompt_text, generation.completion_text) == (None, None)
    assert generation.cost_nanos > 0 and before - customer.balance() == generation.cost_nanos
    assert customer.held() == 0
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_settlement_that_keeps_failing_is_retried_then_left_as_a_shortfall_the_audit_reports(
    logging_customer, call_api, quick_retries, monkeypatch, stream
):
    from django.db import OperationalError

    from billing.models import Shortfall

    tries = []

    def down(outcome):
        tries.append(outcome.generation_id)
        raise OperationalError("the database went away")

    monkeypatch.setattr(quick_retries, "settle", down)
    customer = logging_customer

    result = call_api(chat(text="hello", stream=stream), customer.secret)

    assert result.status == 200  # the answer went out; what it cost is not lost
    assert len(tries) == 1 + 1 + len(quick_retries.RETRY_DELAYS)
    shortfall = Shortfall.objects.get()
    assert shortfall.kind == Shortfall.Kind.UNSETTLED
    assert shortfall.generation_id == tries[0]
    assert shortfall.account_id == customer.account.pk and shortfall.amount_nanos > 0
    assert [v.check for v in ledger_audit()] == ["settlement failed"]
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_ledger", stdout=out)
    assert f"SHORTFALL unsettled: generation {tries[0]}" in out.getvalue()
    # The hold stays reserved until it expires, so nothing is spent twice meanwhile.
    assert customer.held() == Hold.objects.get().amount_nanos
