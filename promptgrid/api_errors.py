"""Errors under ``/api/`` are OpenAI-shaped JSON, whatever raised them.

Django's own 404, 405 and 500 pages are HTML; an API client would get a page it cannot
parse. The site's pages keep Django's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.views import defaults

from promptgrid.errors import error_response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_response(404, f"No such API path: {request.path[:200]}", code="not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return error_response(500, "The server failed to answer this request.", code="server_error")
    return defaults.server_error(request)


def _as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status_code == 405 and _is_api(request) and "json" not in response.get("Content-Type", ""):
        allow = response.get("Allow", "")
        headers = {"Allow": allow} if allow else None
        return error_response(405, f"Method {request.method} is not allowed here.", headers=headers)
    return response


@sync_and_async_middleware
def api_method_not_allowed(get_response: Callable[[HttpRequest], Any]) -> Any:
    """Django's bare 405 (``require_POST`` and the like) as JSON under ``/api/``."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return _as_json(request, await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponse:  # type: ignore[misc]
            return _as_json(request, get_response(request))

    return middleware
