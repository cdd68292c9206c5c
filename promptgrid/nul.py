"""Refuse a NUL character in the URL before any view sees it.

PostgreSQL text cannot hold NUL, so a ``?model=a%00b`` filter or a ``/activity/a%00/`` id
reached the database and came back as a 500. No URL of this site has a use for NUL: 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.decorators import sync_and_async_middleware

from promptgrid.errors import error_response

MESSAGE = "The URL contains a NUL character."


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if "\x00" not in request.path and not any(
        "\x00" in name or "\x00" in value for name, values in request.GET.lists() for value in values
    ):
        return None
    if request.path.startswith("/api/"):
        return error_response(400, MESSAGE, code="invalid_request")
    return HttpResponseBadRequest(MESSAGE)


@sync_and_async_middleware
def refuse_nul(get_response: Callable[[HttpRequest], Any]) -> Any:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            refusal = _refusal(request)
            return refusal if refusal is not None else await get_response(request)

    else:

        def middleware(request: HttpRequest) -> HttpResponse:  # type: ignore[misc]
            refusal = _refusal(request)
            return refusal if refusal is not None else get_response(request)

    return middleware
