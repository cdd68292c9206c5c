"""API keys and per-user settings.

A key's secret (``pg-v1-…``) is shown once and stored only as its SHA-256 hash:
a 256-bit random secret needs no slow hash, and SHA-256 keeps the lookup on the
hot path to one indexed equality match.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiKey(models.Model):
    class Reset(models.TextChoices):
        NEVER = "never", "Total (never resets)"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    class Kind(models.TextChoices):
        STANDARD = "standard", "Standard"
        MANAGEMENT = "management", "Management"
        PLAYGROUND = "playground", "Playground (internal)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    # The key's context: None is the user's personal account; an organisation's key spends
    # the organisation's account and counts against its member's budget.
    organisation = models.ForeignKey(
        "organisations.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STANDARD)
    secret_hash = models.CharField(max_length=64, unique=True)
    masked = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    # Edits by the owner (name, limits, status); billing's counter updates do not touch it.
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    disabled = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Spend limit in nano-USD (promptgrid.money); None means unlimited.
    limit_nanos = models.BigIntegerField(null=True, blank=True)
    limit_reset = models.CharField(max_length=10, choices=Reset.choices, default=Reset.NEVER)
    # Running spend counters, maintained only by billing services.
    usage_nanos = models.BigIntegerField(default=0)
    period_usage_nanos = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    held_nanos = models.BigIntegerField(default=0)

    rpm_limit = models.PositiveIntegerField(null=True, blank=True)
    tpm_limit = models.PositiveIntegerField(null=True, blank=True)
    allowed_models = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def is_management(self) -> bool:
        return self.kind == self.Kind.MANAGEMENT

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.disabled:
            return "disabled"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_usable(self) -> bool:
        return self.status == "active"


class UserSettings(models.Model):
    """Per-user preferences: prompt logging (off by default) and its retention."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prefs")
    log_prompts = models.BooleanField(default=False)
    log_retention_days = models.PositiveIntegerField(default=30)
    rpm_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Per-user requests/min.")

    def __str__(self) -> str:
        return f"settings of {self.user}"
