"""Sending webhook deliveries: signed POSTs, retried with exponential backoff.

A delivery is claimed by pushing its next attempt into the future before the request
goes out, so a scanner that crashes mid-send leaves it to be retried, and two
scanners never send the same attempt (rows are locked ``SKIP LOCKED`` on PostgreSQL).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.alerts import signing
from billing.alerts.models import WebhookDelivery
from billing.alerts.urlsafety import UnsafeWebhookUrl, check_webhook_url, pinned

logger = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
_CLAIM_SECONDS = 120  # longer than one attempt can take


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, … at most 6 h."""
    return timedelta(seconds=min(BACKOFF_FIRST_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS))


def _claim(now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at")[:limit]
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = [row.pk for row in due]
        WebhookDelivery.objects.filter(pk__in=ids).update(
            next_attempt_at=now + timedelta(seconds=_CLAIM_SECONDS)
        )
    return ids


def _attempt(delivery: WebhookDelivery, client: httpx.Client) -> tuple[int | None, str]:
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    secret = signing.signing_secret(endpoint.nonce)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PromptGrid-Webhooks/1",
        "PromptGrid-Event-Id": delivery.event_id,
        "PromptGrid-Event-Type": delivery.event_type,
        "PromptGrid-Signature": signing.signature_header(secret, body, int(timezone.now().timestamp())),
    }
    try:
        url, host, extensions = pinned(endpoint.url, check_webhook_url(endpoint.url))
        # Streamed and never read: only the status matters, and a receiver's body could be huge.
        with client.stream(
            "POST", url, content=body, headers=headers | host, extensions=extensions
        ) as response:
            status = response.status_code
    except UnsafeWebhookUrl as exc:
        return None, str(exc)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: could not deliver"
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def _settle(delivery: WebhookDelivery, status_code: int | None, error: str, now: datetime) -> None:
    attempts = delivery.attempts + 1
    fields = {"attempts": attempts, "last_status_code": status_code, "last_error": error[:300]}
    if not error:
        fields |= {"status": WebhookDelivery.Status.DELIVERED, "delivered_at": now}
    elif attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields |= {"status": WebhookDelivery.Status.FAILED}
    else:
        fields |= {"next_attempt_at": now + backoff(attempts)}
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)


def webhooks_deliver(now: datetime | None = None, limit: int = 100) -> tuple[int, int]:
    """Attempt every due delivery once; returns (delivered, not yet)."""
    now = now or timezone.now()
    ids = _claim(now, limit)
    delivered = failed = 0
    timeout = httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS)
    # No redirects: a public URL must not bounce the POST to a private one.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for delivery in WebhookDelivery.objects.filter(pk__in=ids).select_related("endpoint"):
            status_code, error = _attempt(delivery, client)
            _settle(delivery, status_code, error, timezone.now())
            if error:
                failed += 1
                logger.info("webhook %s not delivered: %s", delivery.event_id, error)
            else:
                delivered += 1
    return delivered, failed


def webhooks_purge(now: datetime | None = None) -> int:
    """Forget finished deliveries (and sent alert emails) older than ``WEBHOOK_LOG_DAYS``."""
    from billing.alerts.models import AlertEmail

    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    finished = [WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED]
    deleted, _ = WebhookDelivery.objects.filter(status__in=finished, created_at__lt=cutoff).delete()
    AlertEmail.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
