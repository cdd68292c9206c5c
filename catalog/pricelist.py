"""Reading and checking a price list in LiteLLM's ``model_prices.json`` format.

The whole list is validated before anything is compared or written: one bad
value anywhere (bad JSON, a string where a number belongs, a negative price)
rejects the file, so a malformed download can never half-update the catalog.
Per-token float costs become exact per-million decimals through the float's
shortest ``repr``, never through float arithmetic.
"""

from __future__ import annotations

import json
import math
import urllib.request
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MILLION = Decimal(1_000_000)
PRICE_PLACES = Decimal("0.000001")
MAX_PRICE_PER_MILLION = Decimal("999999999999")  # fits the catalog's DecimalField(18, 6)
FETCH_TIMEOUT_SECONDS = 15
MAX_BYTES = 20 * 1024 * 1024

# Source field → Endpoint field (prices, USD per token in the source).
PRICE_FIELDS = {
    "input_cost_per_token": "input_price",
    "output_cost_per_token": "output_price",
    "cache_read_input_token_cost": "cache_read_price",
    "cache_creation_input_token_cost": "cache_write_price",
}
LIMIT_FIELDS = ("max_input_tokens", "max_output_tokens", "max_tokens")
# Entries that document the format rather than price a model.
IGNORED_KEYS = {"sample_spec"}


class PriceListError(Exception):
    """The price list cannot be read or is malformed; nothing may change."""


@dataclass(frozen=True)
class PriceEntry:
    key: str
    provider: str  # LiteLLM's ``litellm_provider``, e.g. "openai", "anthropic", "gemini"
    prices: dict[str, Decimal]  # Endpoint field → USD per million tokens (only those given)
    context_length: int | None
    max_output_tokens: int | None


def read_source(
    source: str, *, timeout: float = FETCH_TIMEOUT_SECONDS, max_bytes: int | None = None
) -> bytes:
    """Return the raw bytes of a local file or an http(s) URL, at most ``max_bytes`` (MAX_BYTES)."""
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    scheme = urlsplit(source).scheme
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(source, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                data = response.read(max_bytes + 1)
        except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
            raise PriceListError(f"cannot fetch {source}: {exc}") from exc
    elif scheme and len(scheme) > 1:
        raise PriceListError(f"{source}: only local files and http(s) URLs are supported")
    else:
        path = Path(source)
        try:
            with path.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise PriceListError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise PriceListError(f"{source} is larger than {max_bytes} bytes")
    return data


def per_million(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PriceListError(f"{where}: expected a number, got {value!r}")
    if value < 0:
        raise PriceListError(f"{where}: a price cannot be negative ({value!r})")
    try:
        price = (Decimal(repr(value)) * MILLION).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise PriceListError(f"{where}: {value!r} is not a usable price") from exc
    if price > MAX_PRICE_PER_MILLION:
        raise PriceListError(f"{where}: {value!r} per token is implausibly large")
    return price


def _token_count(value: Any, where: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PriceListError(f"{where}: expected a whole number of tokens, got {value!r}")
    if value < 0 or value > 2**31 - 1:
        raise PriceListError(f"{where}: {value!r} tokens is out of range")
    return value


def _entry(key: str, raw: Any) -> PriceEntry:
    if not isinstance(raw, dict):
        raise PriceListError(f"entry {key!r}: expected an object, got {type(raw).__name__}")
    provider = raw.get("litellm_provider", "")
    if not isinstance(provider, str):
        raise PriceListError(f"entry {key!r}: litellm_provider must be a string, got {provider!r}")
    prices = {
        field: per_million(raw[source_field], f"entry {key!r}: {source_field}")
        for source_field, field in PRICE_FIELDS.items()
        if raw.get(source_field) is not None
    }
    limits = {
        name: _token_count(raw[name], f"entry {key!r}: {name}")
        for name in LIMIT_FIELDS
        if raw.get(name) is not None
    }
    return PriceEntry(
        key=key,
        provider=provider,
        prices=prices,
        context_length=limits.get("max_input_tokens") or None,
        max_output_tokens=limits.get("max_output_tokens") or limits.get("max_tokens") or None,
    )


def parse_price_list(data: bytes) -> dict[str, PriceEntry]:
    """Validate a whole price list; raise PriceListError naming the first problem."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PriceListError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PriceListError(f"expected a JSON object of models, got {type(document).__name__}")
    return {key: _entry(key, raw) for key, raw in document.items() if key not in IGNORED_KEYS}


def load_price_list(source: str) -> dict[str, PriceEntry]:
    return parse_price_list(read_source(source))
