"""What a request costs: token counts by class times an endpoint's prices.

Input tokens that were cache reads or cache writes are priced at their own
rates; the rest at the input price. The sum is exact and rounded once
(``promptgrid.money.round_nanos``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from promptgrid.money import round_nanos, token_cost


class Prices(Protocol):
    input_price: Decimal
    output_price: Decimal
    cache_read_price: Decimal
    cache_write_price: Decimal
    request_price: Decimal


class TokenCounts(Protocol):
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int


def usage_cost_nanos(usage: TokenCounts, prices: Prices, *, charge_request: bool = True) -> int:
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    plain_input = usage.prompt_tokens - cached - written
    exact = (
        token_cost(plain_input, prices.input_price)
        + token_cost(cached, prices.cache_read_price)
        + token_cost(written, prices.cache_write_price)
        + token_cost(usage.completion_tokens, prices.output_price)
    )
    if charge_request:
        exact += prices.request_price * Decimal(1_000_000_000)
    return round_nanos(exact)
