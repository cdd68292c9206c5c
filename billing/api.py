"""``GET /api/v1/credits``: the key's user's credits and usage, in USD, as OpenRouter answers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.keyauth import KeyRejected, authenticate
from billing import selectors
from promptgrid.errors import error_response
from promptgrid.money import nanos_to_usd


def _number(nanos: int) -> str:
    # A JSON number written from the exact Decimal, never through a float.
    text = format(nanos_to_usd(nanos).normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


@require_GET
def credits(request: HttpRequest) -> HttpResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return error_response(
            401, "Missing API key: send 'Authorization: Bearer <key>'.", code="missing_api_key"
        )
    try:
        key = authenticate(secret.strip())
    except KeyRejected as exc:
        return error_response(401, str(exc), code="invalid_api_key")
    if key.account_id is None:
        totals = selectors.Totals(credits_nanos=0, usage_nanos=0)
    else:
        totals = selectors.account_totals(account_id=key.account_id)
    body = (
        f'{{"data": {{"total_credits": {_number(totals.credits_nanos)}, '
        f'"total_usage": {_number(totals.usage_nanos)}}}}}'
    )
    return HttpResponse(body, content_type="application/json")
