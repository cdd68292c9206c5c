"""The hold and the settlement awaited in the event loop: ``billing.services``'s PostgreSQL
path (``_hold_place_pg``, ``generation_settle``) on ``promptgrid.pgpool``'s native async
connections, without a thread hop or Django's cursor wrappers.

Same statements, same answers: one call of ``billing_hold_place``, one
``WITH generation AS (INSERT …) SELECT billing_hold_settle(…)`` so the Generation row and
the charge commit together; the same refusals (InsufficientCredits, KeyLimitReached,
Hold.DoesNotExist) and Django's database exceptions otherwise. The Generation INSERT is
written once per model; each call only converts its values: as they are for the plain
columns psycopg adapts itself (numbers, text, booleans, datetimes, foreign key ids), JSON
through orjson, and Django's own field conversion for anything else.

A connection lost under a statement may or may not have committed it, so neither is sent
again as is (``promptgrid.pgpool``); each has a retry that is right either way:

* the hold looks for a hold of its generation first (a second hold would reserve the money
  twice until it expired);
* the settlement's INSERT skips a row already there (the charge itself is once only, keyed
  on the generation, so settling again charges nothing).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, JSONField, Model
from django.utils import timezone
from psycopg.types.json import Jsonb

from billing import services
from billing.db_functions import HOLD_PLACE_CALL, HOLD_SETTLE_CALL
from promptgrid import pgpool

# The retry of a hold: the hold of this generation if the lost attempt placed it, else a new one.
# (COALESCE evaluates the call only when the lookup finds nothing.)
_HOLD_PLACE_AGAIN = (
    "SELECT COALESCE((SELECT id FROM billing_hold WHERE account_id = %s AND generation_id = %s"  # noqa: S608
    f" ORDER BY id LIMIT 1), {HOLD_PLACE_CALL.removeprefix('SELECT ')})"
)


async def hold_place(
    *,
    account_id: int,
    amount_nanos: int,
    ttl_seconds: int,
    api_key_id: int | None = None,
    generation_id: str = "",
) -> services.PlacedHold:
    """``services.hold_place`` on PostgreSQL, awaited."""
    services.hold_check(amount_nanos)
    params = [account_id, api_key_id, amount_nanos, ttl_seconds, generation_id, timezone.now()]
    # Without a generation id a placed hold cannot be recognised: no retry.
    retry = (_HOLD_PLACE_AGAIN, [account_id, generation_id, *params]) if generation_id else None
    hold_id = await pgpool.fetch_value(HOLD_PLACE_CALL, params, retry=retry)
    return services.hold_placed(
        hold_id, account_id=account_id, api_key_id=api_key_id, amount_nanos=amount_nanos
    )


Converter = Callable[[Model, Any], Any]
ValueConverter = Callable[[Any], Any]

# Fields whose Python value psycopg sends exactly as Django's get_db_prep_save would.
_AS_IS = (
    models.IntegerField,  # and the Small/Big/Positive variants
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.DateTimeField,
    models.ForeignKey,  # its attname (``user_id``) holds the related primary key
)


def _json(value: Any) -> Jsonb | None:
    # None is SQL NULL, as Django stores it (JSON null would need Value(None, JSONField())).
    return None if value is None else Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _converter(field: Field) -> Converter:
    """What Django's INSERT compiler does with the field's value (pre_save, get_db_prep_save)."""
    if isinstance(field, JSONField) and field.encoder is None:
        attname = field.attname
        return lambda obj, connection: _json(getattr(obj, attname))
    return lambda obj, connection: field.get_db_prep_save(field.pre_save(obj, True), connection)


@functools.cache
def _django_connection() -> BaseDatabaseWrapper:
    """A Django connection object for its value conversions and quoting; it never connects.

    (``connections[alias]`` would make a new one for every task's context.)"""
    return connections.create_connection(DEFAULT_DB_ALIAS)


@functools.cache
def _settle_statements(model: type[Model]) -> tuple[str, str, tuple[Converter, ...]]:
    """(the settlement, its retry, the converters of the row's values) for ``model``'s rows."""
    opts = model._meta
    fields = opts.local_concrete_fields
    quote = _django_connection().ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    insert = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES ({values})"  # noqa: S608 (model names)
    once = f"WITH generation AS ({insert}) {HOLD_SETTLE_CALL}"
    skip_existing = f"ON CONFLICT ({quote(opts.pk.column)}) DO NOTHING"
    again = f"WITH generation AS ({insert} {skip_existing}) {HOLD_SETTLE_CALL}"
    return once, again, tuple(_converter(field) for field in fields)


@functools.cache
def _value_converters(model: type[Model]) -> tuple[tuple[str, ValueConverter | None], ...]:
    """Per column: (attname, None to send the value as it is, or how to convert it)."""
    converters: list[tuple[str, ValueConverter | None]] = []
    for field in model._meta.local_concrete_fields:
        if isinstance(field, JSONField) and field.encoder is None:
            converters.append((field.attname, _json))
        elif isinstance(field, _AS_IS) and type(field).get_db_prep_save is Field.get_db_prep_save:
            converters.append((field.attname, None))
        else:
            converters.append((field.attname, functools.partial(_prep_save, field)))
    return tuple(converters)


def row_params(model: type[Model], values: dict[str, Any]) -> list[Any]:
    """The INSERT's parameters for a row given as ``{attname: value}`` (every column)."""
    return [
        values[name] if convert is None else convert(values[name])
        for name, convert in _value_converters(model)
    ]


def _prep_save(field: Field, value: Any) -> Any:
    return field.get_db_prep_save(value, _django_connection())


async def generation_settle_values(
    model: type[Model], values: dict[str, Any], *, hold_id: int, cost_nanos: int, memo: str = ""
) -> None:
    """``generation_settle`` for a row given as ``{attname: value}`` (every column), which
    spares building a model instance on the hot path."""
    pk = values[model._meta.pk.attname]
    services.settle_check(cost_nanos, pk)
    once, again, _ = _settle_statements(model)
    params = row_params(model, values)
    params += [hold_id, cost_nanos, pk, memo, timezone.now()]
    with services.hold_must_exist(hold_id):
        await pgpool.fetch_value(once, params, retry=(again, params))


async def generation_settle(*, generation: Model, hold_id: int, cost_nanos: int, memo: str = "") -> None:
    """``services.generation_settle`` on PostgreSQL, awaited: the row and the charge, one statement."""
    services.settle_check(cost_nanos, generation.pk)
    once, again, converters = _settle_statements(type(generation))
    connection = _django_connection()
    params = [convert(generation, connection) for convert in converters]
    params += [hold_id, cost_nanos, generation.pk, memo, timezone.now()]
    with services.hold_must_exist(hold_id):
        await pgpool.fetch_value(once, params, retry=(again, params))
