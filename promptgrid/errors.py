"""OpenAI-shaped errors: ``{"error": {"message", "type", "code", "param"}}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

logger = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None, type_: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": type_ or _TYPES.get(status, "api_error"),
            "code": code,
            "param": param,
        }
    }


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    return JsonResponse(
        error_body(status, message, code=code, param=param, type_=type_), status=status, headers=headers
    )


def drf_exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF errors in the same OpenAI shape as the gateway's."""
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    from promptgrid.db import DATABASE_DOWN

    if isinstance(exc, RequestDataTooBig):
        # Django's own answer is an HTML 400 page; API clients need JSON and the true status.
        return Response(error_body(413, "Request body is too large."), status=413)
    if isinstance(exc, DATABASE_DOWN):
        # A restart or failover dropped the connection: retry, as on the chat path.
        logger.warning("API request failed: the database is unavailable", exc_info=True)
        down = "The database is unavailable for a moment; retry the request."
        body = error_body(503, down, code="database_unavailable")
        return Response(body, status=503, headers={"Retry-After": "1"})
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    param = None
    if isinstance(detail, dict) and "detail" in detail:
        message = str(detail["detail"])
    elif isinstance(detail, dict) and detail:
        param, errors = next(iter(detail.items()))
        message = f"{param}: {errors[0] if isinstance(errors, list) and errors else errors}"
    else:
        message = str(detail)
    return Response(
        error_body(response.status_code, message, param=param),
        status=response.status_code,
        headers={k: v for k, v in response.items()},
    )
