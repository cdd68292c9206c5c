"""A local stand-in for the parts of Stripe's API that Checkout uses.

``POST /v1/checkout/sessions`` answers like Stripe (form-encoded request, JSON
session with a ``url``); ``GET /pay/<session id>`` plays the hosted payment page
by redirecting to the session's ``success_url``. Webhook deliveries are built
and signed by ``signed_event`` exactly as Stripe signs them.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import stripe
from aiohttp import web

from tests.fakes.server import FakeUpstream

WEBHOOK_SECRET = "whsec_standin_0123456789abcdef"
SECRET_KEY = "sk_test_standin_0123456789"


def _unflatten(form: Any) -> dict[str, Any]:
    """``line_items[0][price_data][unit_amount]=500`` → nested dicts (lists as dicts by index)."""
    out: dict[str, Any] = {}
    for raw_key, value in form.items():
        parts = raw_key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def make_app(fake: FakeUpstream) -> web.Application:
    fake.sessions = {}  # type: ignore[attr-defined]

    async def create_session(request: web.Request) -> web.Response:
        await fake.record(request)
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=401)
        params = _unflatten(await request.post())
        fake.requests[-1].json = params
        behaviour = fake.next_behaviour()
        if behaviour == "error":
            return web.json_response({"error": {"type": "api_error", "message": "boom"}}, status=500)
        item = params["line_items"]["0"]
        session_id = "cs_test_" + secrets.token_hex(12)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "url": f"{fake.url}/pay/{session_id}",
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "client_reference_id": params.get("client_reference_id"),
            "amount_total": int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)),
            "currency": item["price_data"]["currency"],
            "payment_status": "unpaid",
            "status": "open",
            "metadata": params.get("metadata", {}),
        }
        fake.sessions[session_id] = session  # type: ignore[attr-defined]
        return web.json_response(session)

    async def pay(request: web.Request) -> web.Response:
        session = fake.sessions[request.match_info["session_id"]]  # type: ignore[attr-defined]
        session.update(payment_status="paid", status="complete")
        raise web.HTTPSeeOther(session["success_url"])

    app = web.Application()
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/pay/{session_id}", pay)
    return app


def completed_event(
    session: dict[str, Any], event_type: str = "checkout.session.completed"
) -> dict[str, Any]:
    return {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": dict(session, payment_status=session.get("payment_status", "paid"))},
    }


def signed_event(event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """The body and ``Stripe-Signature`` header of one delivery."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload, header
