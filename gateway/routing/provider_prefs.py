"""OpenRouter's ``provider`` object: which endpoints of a model to try, and in what order.

Fields honoured (the others OpenRouter defines, like ``data_collection``, are accepted
and ignored): ``order`` (provider slugs or names to try first, in that order),
``allow_fallbacks`` (false: only the providers named in ``order``, or only the first
endpoint when there is no ``order``), ``only`` / ``ignore`` (allow and deny lists),
``sort`` (``price``, ``latency`` or ``throughput``; a string or ``{"by": ...}``) and
``max_price`` (USD per million ``prompt``/``completion`` tokens, USD per ``request``).

Preferences apply to each model's endpoints; with ``models: [...]`` the models keep
the order the request gave.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.routing import observed
from gateway.routing.routes import Route
from gateway.surfaces.chat.request import InvalidRequest

SORTS = ("price", "latency", "throughput")
_PRICE_FIELDS = ("prompt", "completion", "request")


@dataclass(frozen=True)
class ProviderPrefs:
    order: tuple[str, ...] = ()
    allow_fallbacks: bool = True
    only: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    sort: str | None = None
    max_price: dict[str, Decimal] = field(default_factory=dict)


def _names(value: Any, param: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidRequest(f"'{param}' must be an array of provider names.", param)
    return tuple(v.strip().lower() for v in value)


def parse(value: Any) -> ProviderPrefs | None:
    """Check the request's ``provider`` object; None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("'provider' must be an object.", "provider")
    order = _names(value["order"], "provider.order") if value.get("order") is not None else ()
    only = frozenset(_names(value["only"], "provider.only")) if value.get("only") is not None else None
    ignore = frozenset(_names(value["ignore"], "provider.ignore")) if value.get("ignore") is not None else ()
    allow = value.get("allow_fallbacks", True)
    if allow is None:
        allow = True
    if not isinstance(allow, bool):
        raise InvalidRequest("'provider.allow_fallbacks' must be a boolean.", "provider.allow_fallbacks")
    sort = value.get("sort")
    if isinstance(sort, dict):
        sort = sort.get("by")
    if sort is not None and sort not in SORTS:
        raise InvalidRequest(f"'provider.sort' must be one of {', '.join(SORTS)}.", "provider.sort")
    max_price: dict[str, Decimal] = {}
    if value.get("max_price") is not None:
        if not isinstance(value["max_price"], dict):
            raise InvalidRequest("'provider.max_price' must be an object.", "provider.max_price")
        for name in _PRICE_FIELDS:
            raw = value["max_price"].get(name)
            if raw is None:
                continue
            param = f"provider.max_price.{name}"
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise InvalidRequest(f"'{param}' must be a number.", param)
            try:
                price = Decimal(str(raw))
            except InvalidOperation:
                raise InvalidRequest(f"'{param}' must be a number.", param) from None
            if not price.is_finite() or price < 0:
                raise InvalidRequest(f"'{param}' must be a non-negative number.", param)
            max_price[name] = price
    return ProviderPrefs(
        order=order,
        allow_fallbacks=allow,
        only=only,
        ignore=frozenset(ignore),
        sort=sort,
        max_price=max_price,
    )


def _provider_names(route: Route) -> set[str]:
    target = route.endpoint.target
    return {target.provider_slug.lower(), target.provider_name.lower()}


def _within_price(route: Route, max_price: dict[str, Decimal]) -> bool:
    endpoint = route.endpoint
    prices = {
        "prompt": endpoint.input_price,
        "completion": endpoint.output_price,
        "request": endpoint.request_price,
    }
    return all(prices[name] <= limit for name, limit in max_price.items())


def _sort_key(sort: str, route: Route) -> tuple[Any, ...]:
    endpoint = route.endpoint
    if sort == "price":
        return (endpoint.input_price + endpoint.output_price, endpoint.request_price)
    figures = observed.figures(endpoint.target.endpoint_id)
    if sort == "latency":
        return (figures.latency_ms is None, figures.latency_ms or 0.0)
    return (figures.throughput is None, -(figures.throughput or 0.0))


def _rank(name_sets: list[set[str]], order: tuple[str, ...]) -> list[int | None]:
    ranks: list[int | None] = []
    for names in name_sets:
        ranks.append(next((i for i, wanted in enumerate(order) if wanted in names), None))
    return ranks


def _one_model(routes: list[Route], prefs: ProviderPrefs) -> list[Route]:
    kept = [
        r
        for r in routes
        if (prefs.only is None or _provider_names(r) & prefs.only)
        and not _provider_names(r) & prefs.ignore
        and _within_price(r, prefs.max_price)
    ]
    if prefs.sort:
        kept.sort(key=lambda r: _sort_key(prefs.sort, r))  # stable: priority breaks ties
    if prefs.order:
        ranks = _rank([_provider_names(r) for r in kept], prefs.order)
        named = sorted((rank, i) for i, rank in enumerate(ranks) if rank is not None)
        first = [kept[i] for _, i in named]
        if not prefs.allow_fallbacks:
            return first
        rest = [r for r, rank in zip(kept, ranks, strict=True) if rank is None]
        return first + rest
    if not prefs.allow_fallbacks:
        return kept[:1]
    return kept


def apply(routes: list[Route], prefs: ProviderPrefs | None) -> list[Route]:
    """The routes to try, in order, under ``prefs`` (each model's group in the request's order)."""
    if prefs is None:
        return routes
    ordered: list[Route] = []
    for _, group in itertools.groupby(routes, key=lambda r: r.model.slug):
        ordered.extend(_one_model(list(group), prefs))
    return ordered
