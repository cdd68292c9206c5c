"""Content-Security-Policy on every page: scripts and styles from this site only, inline
scripts only with the request's nonce (``{{ request.csp_nonce }}``), no inline styles.

django-csp's middleware is a ``MiddlewareMixin``, which under ASGI runs each hook in a
thread. Its hooks only build a header, so this subclass calls them inline instead.
"""

from __future__ import annotations

from typing import Any

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class CSPMiddleware(_CSPMiddleware):
    async def __acall__(self, request: HttpRequest) -> Any:  # type: ignore[override]
        self.process_request(request)
        response: HttpResponseBase = await self.get_response(request)
        return self.process_response(request, response)
