"""CSV downloads: cells a spreadsheet would run as formulas are neutralised, and rows
stream with flat memory under both WSGI and ASGI."""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, quoted so it reads as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def _next_batch(iterator: Iterator[str], size: int) -> str:
    return "".join(itertools.islice(iterator, size))


async def _aiter_batches(iterator: Iterator[str], size: int = 1000) -> AsyncIterator[str]:
    """Stream a sync iterator of lines from ASGI, a batch of lines per thread hop.

    ``thread_sensitive`` keeps every batch on the same thread, hence on the same
    database connection and cursor.
    """
    while True:
        batch = await sync_to_async(_next_batch, thread_sensitive=True)(iterator, size)
        if not batch:
            return
        yield batch


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one CSV line; text cells neutralised with ``csv_safe``."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_safe(value) for value in row])


def csv_response(request: HttpRequest, lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    """Stream ``lines`` as an attachment named ``filename``."""
    content: Iterator[str] | AsyncIterator[str] = lines
    if isinstance(request, ASGIRequest):
        # Under ASGI a sync iterator would be read whole into memory before the first byte.
        content = _aiter_batches(lines)
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
