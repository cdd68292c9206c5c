"""The worst case a request can cost, and the hold that reserves it.

Worst case = (an upper bound on prompt tokens) at the dearest input rate + the
output cap at the output price + the request price, rounded up to a nano. The
prompt bound is the UTF-8 size of the messages and tools (a token is never
shorter than a byte) plus an allowance per image or file and one for the prompt a
provider adds to describe tools. It is not capped by the model's context length: a
catalog's context length can be wrong, and a hold below what the provider then
reports would let the charge overdraw. A prompt whose estimate
(``gateway.pipeline.tokens``) is above the context length is refused before any
hold (``ContextTooLong``, OpenAI's ``context_length_exceeded``). Settlement never
charges more than the hold (``billing.services.hold_settle``); what a provider
reports beyond it is recorded as a shortfall.

Balance-aware max_tokens: when the client gave no max_tokens and cannot pay for
the model's full output, the hold is what the balance allows and the output cap
sent upstream shrinks to what that hold covers. 402 only when not even
``MIN_COMPLETION_TOKENS`` are affordable, or when the client's own max_tokens is.

Two entry points, one set of decisions: ``reserve`` (sync, run through ``db_call``) and
``reserve_async`` (the API's), which with ``GATEWAY_DB_ASYNC`` awaits the first hold on
``promptgrid.pgpool``'s connections in the event loop, no thread hop; only a refused first hold
(reading the budget, resizing) goes through ``db_call``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from accounts.models import ApiKey
from accounts.organisations.models import Membership
from billing import pg_async
from billing import services as billing
from billing.models import CreditAccount
from catalog.snapshot import EndpointInfo
from gateway.pipeline.tokens import count_prompt_tokens
from promptgrid import pgpool
from promptgrid.db import db_call
from promptgrid.money import ceil_nanos, token_cost

# Above any provider's charge for one image or file part at the highest detail (OpenAI's
# patch-priced models reach ~3,800 for one image, Gemini tiles a large one in 258-token tiles).
IMAGE_TOKEN_ALLOWANCE = 10_000
# Above the system prompt a provider adds when tools are declared (Anthropic's: ~350 tokens).
TOOLS_TOKEN_ALLOWANCE = 1_000
MIN_COMPLETION_TOKENS = 16  # below this an answer is not worth starting


class ContextTooLong(Exception):
    """HTTP 400 ``context_length_exceeded``: the prompt alone cannot fit the model."""

    code = "context_length_exceeded"

    def __init__(self, estimate: int, context_length: int) -> None:
        self.message = (
            f"This model's maximum context length is {context_length} tokens. However, your messages "
            f"resulted in about {estimate} tokens. Please reduce the length of the messages."
        )
        super().__init__(self.message)


class HoldRefused(Exception):
    """HTTP 402 with a message that says what to change."""

    def __init__(self, message: str, code: str = "insufficient_credits") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Reservation:
    hold_id: int
    account_id: int
    amount_nanos: int
    max_tokens: int  # the output cap to send upstream
    capped: bool  # True when the balance, not the client or the model, set max_tokens


def prompt_token_bound(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    """More prompt tokens than any provider can report for these messages and tools."""
    size = len(orjson.dumps(messages))
    if tools:
        size += len(orjson.dumps(tools)) + TOOLS_TOKEN_ALLOWANCE
    images = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            images += sum(1 for part in content if isinstance(part, dict) and part.get("type") != "text")
    return size + images * IMAGE_TOKEN_ALLOWANCE


def checked_prompt_bound(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, context_length: int
) -> int:
    """``prompt_token_bound``, after refusing a prompt whose estimate exceeds ``context_length``
    (0: unknown, nothing refused) with ContextTooLong."""
    if context_length:
        estimate = count_prompt_tokens(messages, tools)
        if estimate > context_length:
            raise ContextTooLong(estimate, context_length)
    return prompt_token_bound(messages, tools)


def _input_rate(endpoint: EndpointInfo) -> Decimal:
    # Cache writes can cost more than plain input (Anthropic: 1.25x); the bound must cover them.
    return max(endpoint.input_price, endpoint.cache_write_price, endpoint.cache_read_price)


def fixed_cost(endpoint: EndpointInfo, prompt_tokens: int) -> Decimal:
    """Exact nanos of the prompt bound and the request price."""
    return token_cost(prompt_tokens, _input_rate(endpoint)) + endpoint.request_price * Decimal(1_000_000_000)


def worst_case_nanos(endpoint: EndpointInfo, prompt_tokens: int, max_tokens: int, n: int = 1) -> int:
    return ceil_nanos(fixed_cost(endpoint, prompt_tokens) + token_cost(max_tokens * n, endpoint.output_price))


def affordable_tokens(endpoint: EndpointInfo, prompt_tokens: int, available: int, n: int = 1) -> int:
    """The largest output cap whose worst case fits in ``available`` nanos (huge when output is free)."""
    left = available - ceil_nanos(fixed_cost(endpoint, prompt_tokens))
    if left < 0:
        return 0
    per_token = token_cost(n, endpoint.output_price)  # nanos per token of cap, all n choices
    if per_token <= 0:
        return 1 << 62
    return int(Decimal(left) // per_token)


def _room(row: dict[str, Any], now: Any) -> int | None:
    """What a key or membership (its limit columns) may still hold in its period; None: no limit."""
    if row["limit_nanos"] is None:
        return None
    return row["limit_nanos"] - billing.key_spent(row, now) - row["held_nanos"]


_LIMIT_COLUMNS = billing.LIMIT_FIELDS


@dataclass(frozen=True)
class _Budget:
    available: int  # the account's balance minus its open holds
    key_room: int | None  # what the key's limit still allows (None: no limit)
    member_room: int | None  # what the organisation member's budget still allows

    def limiting(self) -> tuple[int, str, str]:
        """(what may be spent, what limits it as the client is told, its error code)."""
        budget, short, code = self.available, "your credits", "insufficient_credits"
        if self.key_room is not None and self.key_room < budget:
            budget, short, code = self.key_room, "this key's spend limit", "key_limit_reached"
        if self.member_room is not None and self.member_room < budget:
            budget, short, code = (
                self.member_room,
                "your budget in this organisation",
                "member_budget_reached",
            )
        return budget, short, code


def _budget(api_key_id: int, account_id: int, now: Any) -> _Budget:
    """The account's, key's and member's room, for explaining or resizing a refused hold
    (not on the hot path: only after a refusal)."""
    account = CreditAccount.objects.filter(pk=account_id).values("balance_nanos", "held_nanos").first()
    key = ApiKey.objects.filter(pk=api_key_id).values("organisation_id", "user_id", *_LIMIT_COLUMNS).first()
    if account is None or key is None:
        return _Budget(0, None, None)
    member_room = None
    if key["organisation_id"] is not None:
        member = (
            Membership.objects.filter(organisation_id=key["organisation_id"], user_id=key["user_id"])
            .values(*_LIMIT_COLUMNS)
            .first()
        )
        member_room = 0 if member is None else _room(member, now)
    return _Budget(account["balance_nanos"] - account["held_nanos"], _room(key, now), member_room)


def _place(account_id: int, api_key_id: int, amount: int, generation_id: str) -> billing.PlacedHold:
    return billing.hold_place(
        account_id=account_id,
        amount_nanos=amount,
        ttl_seconds=settings.HOLD_TTL_SECONDS,
        api_key_id=api_key_id,
        generation_id=generation_id,
    )


def _refused(error: billing.BillingError) -> HoldRefused:
    if isinstance(error, billing.KeyLimitReached):
        return HoldRefused("This API key's spend limit is reached.", code="key_limit_reached")
    if isinstance(error, billing.NotAMember):
        return HoldRefused(
            "This API key's owner is no longer a member of its organisation.", code="not_a_member"
        )
    if isinstance(error, billing.MemberBudgetReached):
        return HoldRefused(
            f"Your budget in this organisation does not allow this request ({error}); "
            "ask an organisation admin to raise it.",
            code="member_budget_reached",
        )
    return HoldRefused("Insufficient credits for this request.")


def _remedy(code: str) -> str:
    if code == "member_budget_reached":
        return "Ask an organisation admin to raise your budget, or wait for it to reset."
    return "Add credits or send a shorter prompt."


def _model_max(endpoint: EndpointInfo) -> int:
    return endpoint.target.max_output_tokens or 4096


@dataclass(frozen=True)
class _Ask:
    """One request's hold, as both entry points decide it."""

    account_id: int
    api_key_id: int
    endpoint: EndpointInfo
    prompt_tokens: int
    requested_max_tokens: int | None
    n: int
    generation_id: str

    def first(self) -> tuple[int, int]:
        """(output cap, hold) asked for first: the client's max_tokens or the model's whole output."""
        model_max = _model_max(self.endpoint)
        requested = self.requested_max_tokens
        max_tokens = model_max if requested is None else min(requested, model_max)
        return max_tokens, worst_case_nanos(self.endpoint, self.prompt_tokens, max_tokens, self.n)

    def reservation(self, hold_id: int, amount: int, max_tokens: int, *, capped: bool) -> Reservation:
        return Reservation(
            hold_id=hold_id,
            account_id=self.account_id,
            amount_nanos=amount,
            max_tokens=max_tokens,
            capped=capped,
        )


def _after_refusal(refusal: billing.BillingError, ask: _Ask, refused_amount: int) -> Reservation:
    """Sync: read what the account and key can spend, then refuse with what is short, or
    place a smaller hold whose output cap the balance covers."""
    if isinstance(refusal, billing.NotAMember):
        raise _refused(refusal)  # no smaller hold helps
    account_id, api_key_id, endpoint = ask.account_id, ask.api_key_id, ask.endpoint
    prompt_tokens, requested_max_tokens, n = ask.prompt_tokens, ask.requested_max_tokens, ask.n
    budget, short, code = _budget(api_key_id, account_id, timezone.now()).limiting()
    can = affordable_tokens(endpoint, prompt_tokens, budget, n)
    if requested_max_tokens == 0:  # no output to shrink (embeddings): the input is the cost
        if refused_amount <= budget:
            raise _refused(refusal)  # the budget moved between the two looks
        raise HoldRefused(
            f"Insufficient credits: {short} cannot cover this request's input. "
            "Add credits or send less input.",
            code=code,
        )
    if requested_max_tokens is not None:
        if refused_amount > budget:
            raise HoldRefused(
                f"This request requires more credits, or fewer max_tokens. You requested up to "
                f"{requested_max_tokens} tokens, but {short} can only afford {max(can, 0)}."
                + (f" {_remedy(code)}" if code == "member_budget_reached" else ""),
                code=code,
            )
        raise _refused(refusal)  # the budget moved between the two looks
    if can < MIN_COMPLETION_TOKENS:
        raise HoldRefused(
            f"Insufficient credits: {short} cannot cover this prompt and a short answer. " + _remedy(code),
            code=code,
        )
    model_max = _model_max(endpoint)
    max_tokens = min(can, model_max)
    amount = worst_case_nanos(endpoint, prompt_tokens, max_tokens, n)
    try:
        hold = _place(account_id, api_key_id, amount, ask.generation_id)
    except billing.BillingError as error:
        raise _refused(error) from None
    return ask.reservation(hold.id, amount, max_tokens, capped=max_tokens < model_max)


def reserve(
    *,
    user_id: int,
    account_id: int | None,
    api_key_id: int,
    organisation_id: int | None = None,
    endpoint: EndpointInfo,
    prompt_tokens: int,
    requested_max_tokens: int | None,
    n: int,
    generation_id: str,
) -> Reservation:
    """Decide the output cap and place the hold (sync: run through ``db_call``).

    Raises HoldRefused (402). The hold is placed first, at the worst case of the client's
    max_tokens or the model's whole output, by ``billing.services.hold_place``'s conditional
    UPDATEs (two racing requests can never both spend the same nanos). Only when that is
    refused are the balance and the key's room read: to say what is short, or to size a
    smaller output cap that the balance covers and try once more.
    """
    if account_id is None:  # opened on first use, for a user or an organisation
        owner = {"organisation_id": organisation_id} if organisation_id else {"user_id": user_id}
        account_id = CreditAccount.objects.get_or_create(**owner)[0].pk
    ask = _Ask(account_id, api_key_id, endpoint, prompt_tokens, requested_max_tokens, n, generation_id)
    max_tokens, amount = ask.first()
    try:
        hold = _place(account_id, api_key_id, amount, generation_id)
    except billing.BillingError as refusal:
        return _after_refusal(refusal, ask, amount)
    return ask.reservation(hold.id, amount, max_tokens, capped=False)


async def reserve_async(
    *,
    user_id: int,
    account_id: int | None,
    api_key_id: int,
    organisation_id: int | None = None,
    endpoint: EndpointInfo,
    prompt_tokens: int,
    requested_max_tokens: int | None,
    n: int,
    generation_id: str,
) -> Reservation:
    """``reserve`` from async code, with the same decisions.

    With ``GATEWAY_DB_ASYNC`` the first hold is awaited on ``promptgrid.pgpool`` in the event
    loop; the rare rest (an account to open, a refusal to explain or resize) stays sync and
    takes one ``db_call``. Without it, all of ``reserve`` takes one ``db_call``.
    """
    if not pgpool.enabled() or account_id is None:
        return await db_call(
            reserve,
            user_id=user_id,
            account_id=account_id,
            api_key_id=api_key_id,
            organisation_id=organisation_id,
            endpoint=endpoint,
            prompt_tokens=prompt_tokens,
            requested_max_tokens=requested_max_tokens,
            n=n,
            generation_id=generation_id,
        )
    ask = _Ask(account_id, api_key_id, endpoint, prompt_tokens, requested_max_tokens, n, generation_id)
    max_tokens, amount = ask.first()
    try:
        hold = await pg_async.hold_place(
            account_id=account_id,
            amount_nanos=amount,
            ttl_seconds=settings.HOLD_TTL_SECONDS,
            api_key_id=api_key_id,
            generation_id=generation_id,
        )
    except billing.BillingError as refusal:
        return await db_call(_after_refusal, refusal, ask, amount)
    return ask.reservation(hold.id, amount, max_tokens, capped=False)
