"""Generation: the record of one chat completion request that reached routing."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Generation(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    id = models.CharField(primary_key=True, max_length=64)  # gen-…
    # No index of its own: every per-user index below starts with user_id.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations", db_index=False
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    model = models.ForeignKey(
        "catalog.Model", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoint = models.ForeignKey(
        "catalog.Endpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Denormalised names so history survives catalog edits.
    model_slug = models.CharField(max_length=200)
    provider_slug = models.CharField(max_length=100, blank=True)
    provider_name = models.CharField(max_length=100, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    streamed = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices)
    http_status = models.PositiveSmallIntegerField(default=200)
    finish_reason = models.CharField(max_length=32, blank=True)
    native_finish_reason = models.CharField(max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    cost_nanos = models.BigIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    upstream_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    attempts = models.JSONField(default=list, blank=True)
    # Stored only when the user turned logging on; deleted after their retention period.
    prompt_text = models.JSONField(null=True, blank=True)
    completion_text = models.TextField(null=True, blank=True)  # noqa: DJ001 (null = not logged)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user", "model_slug", "-created_at"]),
            models.Index(fields=["user", "api_key", "-created_at"]),
            models.Index(fields=["user", "status", "-created_at"]),
            # The dashboard overview aggregates a user's last 30 days from this index alone
            # (an index-only scan; key columns rather than INCLUDE so SQLite covers it too).
            models.Index(
                fields=[
                    "user",
                    "created_at",
                    "model_slug",
                    "status",
                    "cost_nanos",
                    "prompt_tokens",
                    "completion_tokens",
                    "latency_ms",
                    "ttft_ms",
                ],
                name="generation_user_usage",
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
