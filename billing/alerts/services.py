"""Alert settings, webhook endpoints, and firing an alert: one email per recipient and,
if the account has a webhook, one delivery row (sent by ``billing.alerts.delivery``).

Nothing here runs on the request path of the API: alerts are found by a periodic scan
(``billing.alerts.scan``, ``manage.py send_alerts``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit_log import record
from billing.alerts import signing
from billing.alerts.models import AlertEmail, AlertSettings, WebhookDelivery, WebhookEndpoint
from billing.alerts.recipients import account_emails
from billing.alerts.urlsafety import UnsafeWebhookUrl, check_webhook_url
from billing.models import CreditAccount

logger = logging.getLogger(__name__)

__all__ = ["UnsafeWebhookUrl"]


def _url_for_log(url: str) -> str:
    """A webhook URL as the audit log keeps it: its host, not its path (Slack-style URLs
    carry their credential there)."""
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"
        if parts.path.strip("/") or parts.query
        else url
    )


def alert_settings_for(*, account: CreditAccount) -> AlertSettings:
    prefs, _ = AlertSettings.objects.get_or_create(account=account)
    return prefs


@transaction.atomic
def alert_settings_update(
    *, account: CreditAccount, low_balance_nanos: int | None, limit_emails: bool, actor: Any
) -> AlertSettings:
    if low_balance_nanos is not None and low_balance_nanos < 0:
        raise ValueError("a threshold is not negative")
    prefs, _ = AlertSettings.objects.select_for_update().get_or_create(account=account)
    old = {"low_balance_nanos": prefs.low_balance_nanos, "limit_emails": prefs.limit_emails}
    prefs.low_balance_nanos, prefs.limit_emails = low_balance_nanos, limit_emails
    prefs.save(update_fields=["low_balance_nanos", "limit_emails"])
    new = {"low_balance_nanos": low_balance_nanos, "limit_emails": limit_emails}
    if new != old:
        record(actor=actor, action="alerts.settings", target=account, old=old, new=new)
    return prefs


@transaction.atomic
def webhook_set(*, account: CreditAccount, url: str, actor: Any) -> tuple[WebhookEndpoint, str | None]:
    """Point the account's webhook at ``url``; returns the secret if one was made (shown once)."""
    check_webhook_url(url, resolve=False)
    endpoint = WebhookEndpoint.objects.select_for_update().filter(account=account).first()
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(account=account, url=url, nonce=signing.new_nonce())
        record(actor=actor, action="webhook.create", target=account, new={"url": _url_for_log(url)})
        return endpoint, signing.signing_secret(endpoint.nonce)
    if endpoint.url != url:
        record(
            actor=actor, action="webhook.update", target=account, old={"url": endpoint.url}, new={"url": url}
        )
        endpoint.url = url
        endpoint.save(update_fields=["url"])
    return endpoint, None


@transaction.atomic
def webhook_rotate_secret(*, endpoint: WebhookEndpoint, actor: Any) -> str:
    """A new secret (shown once); deliveries from now on are signed with it, retries included."""
    endpoint.nonce = signing.new_nonce()
    endpoint.save(update_fields=["nonce"])
    record(actor=actor, action="webhook.rotate_secret", target=endpoint.account)
    return signing.signing_secret(endpoint.nonce)


def _queue(endpoint: WebhookEndpoint, event_type: str, data: dict[str, Any]) -> WebhookDelivery:
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = {"id": event_id, "type": event_type, "created": int(timezone.now().timestamp()), "data": data}
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=event_id, event_type=event_type, payload=payload
    )


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``ping`` event, to check the receiver and its signature check; delivered like any other."""
    return _queue(endpoint, "ping", {"account_id": endpoint.account_id})


@transaction.atomic
def webhook_delete(*, endpoint: WebhookEndpoint, actor: Any) -> None:
    record(
        actor=actor, action="webhook.delete", target=endpoint.account, old={"url": _url_for_log(endpoint.url)}
    )
    endpoint.delete()


def alert_fire(
    *,
    account: CreditAccount,
    event_type: str,
    data: dict[str, Any],
    subject: str,
    body: str,
    emails: bool,
    also_to: list[str] | None = None,
) -> None:
    """Queue the webhook event and the email to the account's people (and ``also_to``,
    e.g. the member concerned). Call inside the transaction that records the alert as
    sent, so all three commit or none does; ``send_alerts`` sends what is queued."""
    event_id = f"evt_{uuid.uuid4().hex}"
    endpoint = WebhookEndpoint.objects.filter(account=account, enabled=True).first()
    if endpoint is not None:
        payload = {
            "id": event_id,
            "type": event_type,
            "created": int(timezone.now().timestamp()),
            "data": data,
        }
        WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=event_id, event_type=event_type, payload=payload
        )
    recipients = list(dict.fromkeys([*account_emails(account), *(also_to or [])])) if emails else []
    recipients = [email for email in recipients if email]
    if recipients:
        AlertEmail.objects.create(recipients=recipients, subject=subject[:300], body=body)


def alert_emails_send(now: datetime | None = None, limit: int = 100) -> tuple[int, int]:
    """Send the alert emails that are due; returns (sent, to retry). A failure waits as a
    webhook retry does (30 s, doubling, at most 6 h) and is tried again, without limit."""
    from billing.alerts.delivery import backoff

    now = now or timezone.now()
    with transaction.atomic():  # claimed for a while, so two scanners do not both send
        due = AlertEmail.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now).order_by("pk")[:limit]
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = [row.pk for row in due]
        AlertEmail.objects.filter(pk__in=ids).update(next_attempt_at=now + timedelta(minutes=2))
    sent = failed = 0
    for email in AlertEmail.objects.filter(pk__in=ids):
        try:
            send_mail(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, email.recipients)
        except Exception as exc:  # a mail server that is down must not stop the other alerts
            logger.warning("could not send an alert email", exc_info=True)
            attempts = email.attempts + 1
            AlertEmail.objects.filter(pk=email.pk).update(
                attempts=attempts,
                next_attempt_at=timezone.now() + backoff(attempts),
                last_error=f"{type(exc).__name__}"[:300],
            )
            failed += 1
        else:
            AlertEmail.objects.filter(pk=email.pk).update(sent_at=timezone.now(), attempts=email.attempts + 1)
            sent += 1
    return sent, failed
