"""The one place where money is converted and rounded.

Amounts are integers of nano-USD (1 USD = 1_000_000_000 nanos). Prices are
decimals in USD per million tokens, so a token costs ``price * 1000`` nanos,
which may be fractional (e.g. $0.0375/M = 37.5 nanos a token).

Rounding rule: a request's exact cost is computed as a Decimal over all its
token classes and rounded **once**, half up, to a whole nano-USD by
``round_nanos``. Holds round **up** (``ceil_nanos``) so a hold always covers the
charge it stands for.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

NANOS_PER_USD = 1_000_000_000
_NANOS_PER_USD_PER_MTOK = Decimal(NANOS_PER_USD) / Decimal(1_000_000)  # nanos/token per USD/M


def usd_to_nanos(usd: Decimal | str | int) -> int:
    """Convert an exact USD amount (never a float) to nanos, half up."""
    if isinstance(usd, float):
        raise TypeError("money must not be a float")
    return round_nanos(Decimal(usd) * NANOS_PER_USD)


def parse_usd(raw: str) -> int:
    """An amount typed in USD (``10``, ``2.50``, ``0.000000001``) as nanos, exactly.

    Raises ValueError, with a message to show, for anything that is not a non-negative
    amount of whole nano-dollars (so nothing typed is ever silently rounded).
    """
    try:
        usd = Decimal(raw.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(f"{raw!r} is not an amount in USD (e.g. 10 or 2.50).") from None
    if not usd.is_finite() or usd < 0:
        raise ValueError(f"{raw!r} is not a positive amount in USD.")
    nanos = usd * NANOS_PER_USD
    if nanos != nanos.to_integral_value():
        raise ValueError(f"{raw!r} is finer than a nano-dollar (at most 9 decimal places).")
    if nanos >= 2**63:
        raise ValueError(f"{raw!r} is too large an amount.")
    return int(nanos)


def nanos_to_usd(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS_PER_USD


def round_nanos(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def ceil_nanos(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_CEILING))


def token_cost(tokens: int, price_per_million: Decimal) -> Decimal:
    """Exact (unrounded) cost in nanos of ``tokens`` at ``price_per_million`` USD."""
    return Decimal(tokens) * price_per_million * _NANOS_PER_USD_PER_MTOK


def format_usd(nanos: int, places: int = 2) -> str:
    """Human display, e.g. ``$12.34``; small amounts keep enough places to be non-zero."""
    usd = nanos_to_usd(nanos)
    if usd != 0 and abs(usd) < Decimal("0.01"):
        places = max(places, 6)
    sign = "-" if usd < 0 else ""
    return f"{sign}${abs(usd):,.{places}f}"
