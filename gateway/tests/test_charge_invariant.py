"""The money invariant over generated requests: whatever the prompt size, max_tokens, prices,
balance, key limit, organisation member's budget and whatever the provider then reports, a
request is either refused before any hold (400 or 402) or charged at most its hold; no
balance, available balance, key limit or member budget goes below zero; what was not charged
is a Shortfall; the audit stays clean.

The same property runs on the database the suite runs on (SQLite's ORM path, or
PostgreSQL's single-statement functions), and on PostgreSQL once more through the async
pool that production's hot path uses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import ApiKey
from billing.audit import ledger_audit
from billing.models import CreditAccount, Hold, Shortfall
from catalog.snapshot import get_snapshot
from gateway.pipeline import holds, settlement
from gateway.pipeline.flight import new_generation_id
from gateway.providers.base import Usage
from promptgrid import pgpool
from tests.fixtures import create_customer

PRICES = st.sampled_from(["0", "0.01", "0.15", "0.6", "1", "3", "15", "75"]).map(Decimal)
NANOS = st.integers(min_value=0, max_value=5_000_000_000)  # up to $5

case = st.fixed_dictionaries(
    {
        "prompt_chars": st.integers(min_value=0, max_value=120_000),
        "context_length": st.sampled_from([0, 1_000, 8_000, 32_000, 128_000]),
        "max_tokens": st.none() | st.integers(min_value=1, max_value=50_000),
        "input_price": PRICES,
        "output_price": PRICES,
        "request_price": st.sampled_from([Decimal(0), Decimal("0.001")]),
        "balance": NANOS,
        "key_limit": st.none() | NANOS,
        # An organisation's key instead of a personal one: the member's budget limits it too.
        "member_budget": st.sampled_from([False, None]) | NANOS,
        # What the provider reports, as a multiple of the hold's prompt bound and output cap:
        # above 1 is a provider (or a catalog) that the hold did not foresee.
        "prompt_factor": st.sampled_from([0, 0.25, 1, 1.5, 40]),
        "completion_factor": st.sampled_from([0, 0.5, 1, 3]),
    }
)

_emails = itertools.count()


@pytest.fixture
def endpoint(make_mock_model):
    make_mock_model()
    return get_snapshot().models["mock/echo"].endpoints[0]


@dataclasses.dataclass
class Spender:
    user: Any
    account: Any
    key: Any
    member: Any = None  # the Membership whose budget the key spends, for an organisation's key


def _customer(balance: int, key_limit: int | None, member_budget: int | bool | None) -> Spender:
    n = next(_emails)
    if member_budget is False:
        customer = create_customer(email=f"prop{n}@example.com", credits_nanos=balance, limit_nanos=key_limit)
        return Spender(customer.user, customer.account, customer.key)
    from django.contrib.auth import get_user_model

    from accounts.organisations import services as orgs
    from accounts.organisations.models import Membership
    from accounts.services import api_key_create
    from billing import services as billing

    users = get_user_model().objects
    organisation = orgs.organisation_create(
        name=f"Org {n}", owner=users.create_user(f"owner{n}", f"owner{n}@example.com", "pw-123456789")
    )
    account = billing.account_for_organisation(organisation=organisation)
    if balance:
        billing.credits_grant(account=account, amount_nanos=balance, idempotency_key=f"seed:org{n}")
    user = users.create_user(f"member{n}", f"member{n}@example.com", "pw-123456789")
    orgs.member_set(organisation=organisation, user=user, limit_nanos=member_budget)
    key, _ = api_key_create(user=user, name="k", organisation_id=organisation.pk, limit_nanos=key_limit)
    return Spender(user, account, key, Membership.objects.get(organisation=organisation, user=user))


def _outcome(customer: Any, endpoint: Any, reservation: holds.Reservation, generation_id: str, usage: Usage):
    return settlement.Outcome(
        generation_id=generation_id,
        user_id=customer.user.pk,
        api_key_id=customer.key.pk,
        endpoint=endpoint,
        model_id=None,
        hold_id=reservation.hold_id,
        hold_nanos=reservation.amount_nanos,
        streamed=False,
        created_at=timezone.now(),
        usage=usage,
        finish_reason="stop",
    )


def _request(example: dict[str, Any], endpoint: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
    priced = dataclasses.replace(
        endpoint,
        input_price=example["input_price"],
        output_price=example["output_price"],
        request_price=example["request_price"],
        context_length=example["context_length"],
    )
    customer = _customer(example["balance"], example["key_limit"], example["member_budget"])
    messages = [{"role": "user", "content": "x" * example["prompt_chars"]}]
    return priced, customer, messages


def _ask(
    example: dict[str, Any], priced: Any, customer: Any, messages: list[dict[str, Any]], generation_id: str
) -> tuple[int, dict[str, Any]]:
    """(the prompt bound, ``reserve``'s arguments) as the API computes them; ContextTooLong first."""
    bound = holds.checked_prompt_bound(messages, None, priced.context_length)
    return bound, {
        "user_id": customer.user.pk,
        "account_id": customer.account.pk,
        "api_key_id": customer.key.pk,
        "endpoint": priced,
        "prompt_tokens": bound,
        "requested_max_tokens": example["max_tokens"],
        "n": 1,
        "generation_id": generation_id,
    }


def _usage(example: dict[str, Any], bound: int, reservation: holds.Reservation) -> Usage:
    return Usage(
        prompt_tokens=int(bound * example["prompt_factor"]),
        completion_tokens=int(reservation.max_tokens * example["completion_factor"]),
    )


def _check(customer: Any, example: dict[str, Any], reservation: holds.Reservation | None, cost: int) -> None:
    account = CreditAccount.objects.get(pk=customer.account.pk)
    key = ApiKey.objects.get(pk=customer.key.pk)
    spent = example["balance"] - account.balance_nanos
    assert account.balance_nanos >= 0 and account.balance_nanos - account.held_nanos >= 0
    assert account.held_nanos == 0 and key.held_nanos == 0
    if key.limit_nanos is not None:
        assert key.usage_nanos <= key.limit_nanos
    assert key.usage_nanos == spent
    if customer.member is not None:
        member = type(customer.member).objects.get(pk=customer.member.pk)
        assert member.held_nanos == 0 and member.usage_nanos == spent
        if member.limit_nanos is not None:
            assert member.usage_nanos <= member.limit_nanos
    if reservation is None:  # refused before any hold
        assert spent == 0 and not Hold.objects.filter(account_id=account.pk).exists()
    else:
        assert 0 <= spent <= reservation.amount_nanos
        short = sum(Shortfall.objects.filter(account_id=account.pk).values_list("amount_nanos", flat=True))
        assert spent + short == cost
    assert ledger_audit() == []


def _cost(outcome: settlement.Outcome) -> int:
    return settlement.cost_of(outcome)


HYPOTHESIS = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.mark.django_db
@HYPOTHESIS
@given(example=case)
def test_no_request_is_charged_past_its_hold_or_takes_anything_below_zero(endpoint, example):
    priced, customer, messages = _request(example, endpoint)
    generation_id = new_generation_id()
    try:
        bound, ask = _ask(example, priced, customer, messages, generation_id)
        reservation = holds.reserve(**ask)
    except (holds.ContextTooLong, holds.HoldRefused):
        _check(customer, example, None, 0)
        return
    outcome = _outcome(customer, priced, reservation, generation_id, _usage(example, bound, reservation))
    settled = settlement.settle(outcome)
    assert settled.cost_nanos <= reservation.amount_nanos
    _check(customer, example, reservation, _cost(outcome))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the async pool is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@hypothesis_settings(HYPOTHESIS, max_examples=25)
@given(example=case)
def test_through_the_async_pool_no_request_is_charged_past_its_hold(endpoint, example, settings):
    settings.GATEWAY_DB_ASYNC = True
    priced, customer, messages = _request(example, endpoint)
    generation_id = new_generation_id()

    async def request() -> tuple[holds.Reservation | None, int]:
        try:
            bound, ask = _ask(example, priced, customer, messages, generation_id)
            reservation = await holds.reserve_async(**ask)
        except (holds.ContextTooLong, holds.HoldRefused):
            return None, 0
        assert pgpool.enabled()
        usage = _usage(example, bound, reservation)
        outcome = _outcome(customer, priced, reservation, generation_id, usage)
        settled = await settlement.settle_shielded(outcome)
        assert settled.cost_nanos <= reservation.amount_nanos
        return reservation, _cost(outcome)

    reservation, cost = asyncio.run(request())
    _check(customer, example, reservation, cost)
