"""Group commit of settlements (``BILLING_MODE=batched``, the default; PostgreSQL with the async pool).

``pg_async.generation_settle_values`` commits each request's Generation row and charge as its
own transaction. Here the requests of one event loop commit theirs together: everything
waiting goes in one statement and one transaction: a multi-row
INSERT of the Generation rows (``ON CONFLICT DO NOTHING``) and ``billing_hold_settle_batch``
(``billing.db_batch``) over the rows it inserted. Each request awaits its own row's outcome,
so its answer still ends only after its charge is durably committed.

* A row that finds no batch in flight commits at once, alone, from its own task, with the
  per-request statement: under low load a batch is one row, and nothing waits, changes hands
  or costs more than in strict mode. Rows that arrive while a batch
  commits form the next one, up to ``BILLING_BATCH_MAX_ROWS``, which a drain task commits
  after ``BILLING_BATCH_WAIT_MS`` more for company (there is load), and so on until none wait.
* A row whose generation id is already in the table (a duplicate) is not inserted and not
  charged: its request gets the IntegrityError a single settlement gets, the others commit.
* A batch the database refuses as a whole (a hold that does not exist, a value PostgreSQL
  refuses) is settled again row by row, each as its own transaction, so each refusal reaches
  only its own request.
* A connection lost under the statement may have committed it: the retry is the same
  statement, which inserts nothing already there and so charges nothing twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Model
from django.utils import timezone

from billing import pg_async, services
from billing.db_batch import BATCH_SETTLE_CALL
from promptgrid import pgpool

logger = logging.getLogger(__name__)


def enabled() -> bool:
    """Whether settlements are group-committed: ``BILLING_MODE=batched`` on the async pool."""
    return settings.BILLING_MODE == "batched" and pgpool.enabled()


@dataclass
class _Row:
    model: type[Model]
    values: dict[str, Any]
    params: list[Any]
    hold_id: int
    cost_nanos: int
    memo: str
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def pk(self) -> str:
        return self.values[self.model._meta.pk.attname]


@functools.cache
def _insert_head(model: type[Model]) -> tuple[str, str, int]:
    """(``INSERT INTO … (columns) VALUES``, its ``ON CONFLICT`` tail, the number of columns)."""
    opts = model._meta
    fields = opts.local_concrete_fields
    quote = pg_async._django_connection().ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    head = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES "  # noqa: S608 (model names)
    tail = f" ON CONFLICT ({quote(opts.pk.column)}) DO NOTHING RETURNING {quote(opts.pk.column)} AS id"
    return head, tail, len(fields)


@functools.cache
def batch_statement(model: type[Model], rows: int) -> str:
    """The batch of ``rows`` rows of ``model`` as one statement (cached per size)."""
    head, tail, width = _insert_head(model)
    one = "(" + ", ".join(["%s"] * width) + ")"
    return f"WITH generation AS ({head}{', '.join([one] * rows)}{tail}) {BATCH_SETTLE_CALL}"


def batch_params(rows: list[_Row]) -> list[Any]:
    params: list[Any] = [value for row in rows for value in row.params]
    params += [
        [row.hold_id for row in rows],
        [row.cost_nanos for row in rows],
        [row.pk for row in rows],
        [row.memo for row in rows],
        timezone.now(),
    ]
    return params


class _Writer:
    """The rows one event loop waits on, and who commits them.

    A row that finds no batch in flight commits itself at once, in its own task (no hand-over:
    under low load nothing changes but the statement). Rows arriving while a batch is in
    flight queue up; when it has committed, a drain task commits the queue batch after batch
    until it is empty."""

    def __init__(self) -> None:
        self.queue: list[_Row] = []
        self.busy = False  # a batch is in flight (its own row's, or the drain task's)
        self.drain: asyncio.Task[None] | None = None

    async def settle(self, row: _Row) -> None:
        if self.busy:
            self.queue.append(row)
        else:
            self.busy = True
            try:
                await commit([row])
            finally:
                self.idle()
        await asyncio.shield(row.done)

    def idle(self) -> None:
        """The batch in flight has committed: the queue, if any, goes next."""
        self.busy = bool(self.queue)
        if self.busy:
            self.drain = asyncio.get_running_loop().create_task(self.run(), name="billing settlement batches")

    def take(self) -> list[_Row]:
        """The next batch: rows in arrival order, at most one per generation id (a second
        row of one id waits for the next batch, where it is a duplicate)."""
        batch: list[_Row] = []
        seen: set[str] = set()
        rest: list[_Row] = []
        for row in self.queue:
            if len(batch) < settings.BILLING_BATCH_MAX_ROWS and row.pk not in seen:
                batch.append(row)
                seen.add(row.pk)
            else:
                rest.append(row)
        self.queue = rest
        return batch

    async def run(self) -> None:
        try:
            while self.queue:
                wait = settings.BILLING_BATCH_WAIT_MS / 1000
                if wait and len(self.queue) < settings.BILLING_BATCH_MAX_ROWS:
                    await asyncio.sleep(wait)  # there is load: a little longer for more company
                await commit(self.take())
        finally:
            self.busy = False
            if self.queue:  # cancelled with rows waiting (the loop is closing): try once more
                self.idle()


_writers: dict[asyncio.AbstractEventLoop, _Writer] = {}


def _writer() -> _Writer:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        for old in [other for other in _writers if other.is_closed()]:
            del _writers[old]
        writer = _writers[loop] = _Writer()
    return writer


async def commit(batch: list[_Row]) -> None:
    """Commit ``batch`` in one statement and settle each row's future; never raises."""
    if not batch:
        return
    if len(batch) == 1:
        # Alone, today's statement is the lighter one (billing_hold_settle's few statements
        # against the batch function's set-up): the latency under low load stays as it was.
        await _settle_alone(batch[0])
        return
    try:
        statement = batch_statement(batch[0].model, len(batch))
        params = batch_params(batch)
        settled = set(await pgpool.fetch_value(statement, params, retry=(statement, params)) or ())
    except Exception as error:
        logger.warning("a batch of %s settlements was refused (%s); settling each alone", len(batch), error)
        await asyncio.gather(*(_settle_alone(row) for row in batch))
        return
    for row in batch:
        if row.done.done():
            continue
        if row.pk in settled:
            row.done.set_result(None)
        else:
            row.done.set_exception(IntegrityError(f"generation {row.pk} already exists"))


async def _settle_alone(row: _Row) -> None:
    try:
        await pg_async.generation_settle_values(
            row.model, row.values, hold_id=row.hold_id, cost_nanos=row.cost_nanos, memo=row.memo
        )
    except Exception as error:
        if not row.done.done():
            row.done.set_exception(error)
    else:
        if not row.done.done():
            row.done.set_result(None)


async def generation_settle_values(
    model: type[Model], values: dict[str, Any], *, hold_id: int, cost_nanos: int, memo: str = ""
) -> None:
    """``pg_async.generation_settle_values``, group-committed with the other requests of this
    event loop; returns once this row's batch has committed (or raises what refused it)."""
    services.settle_check(cost_nanos, values[model._meta.pk.attname])
    row = _Row(model, values, pg_async.row_params(model, values), hold_id, cost_nanos, memo)
    await _writer().settle(row)
