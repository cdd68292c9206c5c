"""Alerts: a low-balance threshold per credit account, what has already been sent, and
the optional webhook (with its delivery log) that receives the same events.

Everything hangs off a ``CreditAccount``, so a personal account and an organisation's
work the same way; who is told (the user, or an organisation's owners and admins) is
decided when an alert fires (``billing.alerts.recipients``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from billing.models import CreditAccount


class AlertSettings(models.Model):
    account = models.OneToOneField(CreditAccount, on_delete=models.CASCADE, related_name="alert_settings")
    # Email when the available balance (balance minus holds) falls below this; None: off.
    low_balance_nanos = models.BigIntegerField(null=True, blank=True)
    # Email when a key reaches 80% and 100% of its spend limit.
    limit_emails = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"alert settings of {self.account}"


class AlertState(models.Model):
    """What was last sent about one subject, so an alert goes once per crossing and period.

    ``subject`` is ``balance:<account id>`` or ``key:<key id>``; ``level`` is the highest
    level sent in ``period`` (1 for a low balance, 80 or 100 for a limit). It falls back
    when the subject recovers (a top-up, a raised limit), which re-arms the alert.
    """

    subject = models.CharField(max_length=100, unique=True)
    period = models.CharField(max_length=40, blank=True)
    level = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.subject} at {self.level} ({self.period or 'no period'})"


class WebhookEndpoint(models.Model):
    """Where an account's alert events are POSTed, signed with HMAC-SHA256.

    The signing secret is not stored: it is derived from ``SECRET_KEY`` and ``nonce``
    (``billing.alerts.signing``), shown once, and changed by a new nonce. A copy of the
    database alone cannot forge deliveries; rotating ``SECRET_KEY`` changes every
    webhook's secret, so owners rotate theirs then.
    """

    account = models.OneToOneField(CreditAccount, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)
    nonce = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook of {self.account} to {self.url}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: sent until the receiver answers 2xx, or given up.

    At least once: a receiver may see an event twice (a timeout after it processed it)
    and deduplicates on ``event_id``, which every retry repeats.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"


class AlertEmail(models.Model):
    """An alert email waiting to be sent, written in the transaction that records the alert
    as sent: a mail server that is down (or a scanner that dies) delays it, never loses it."""

    recipients = models.JSONField()
    subject = models.CharField(max_length=300)
    body = models.TextField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "next_attempt_at"], name="alert_email_due")]

    def __str__(self) -> str:
        return f"{self.subject} to {', '.join(self.recipients)}"
