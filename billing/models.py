"""Money: credit accounts, the append-only ledger, holds, redeem codes, payments.

All amounts are integers of nano-USD (1e-9 USD); see ``promptgrid.money`` for the
one conversion and rounding rule. Only ``billing.services`` writes these rows.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


class LedgerImmutable(Exception):
    """Raised on any attempt to change or remove a ledger entry, or to move a balance by hand."""


class CreditAccountQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        # The balance is moved only by the database trigger that applies each new
        # ledger entry (migration 0002); a hand-written UPDATE would break invariant 1.
        if "balance_nanos" in kwargs:
            raise LedgerImmutable(
                "a balance changes only with its ledger entry (billing.services.ledger_post)"
            )
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        if "balance_nanos" in fields:
            raise LedgerImmutable(
                "a balance changes only with its ledger entry (billing.services.ledger_post)"
            )
        return super().bulk_update(objs, fields, batch_size=batch_size)


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise LedgerImmutable("ledger entries are append-only")

    def delete(self) -> NoReturn:
        raise LedgerImmutable("ledger entries are append-only")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> NoReturn:
        raise LedgerImmutable("ledger entries are append-only")


class CreditAccount(models.Model):
    """The balance of one user (their personal account) or of one organisation, never both."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_account",
    )
    organisation = models.OneToOneField(
        "organisations.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_account",
    )
    # Cached sum of the ledger, updated in the same transaction as each entry.
    balance_nanos = models.BigIntegerField(default=0)
    # Cached sum of open holds; available = balance - held, never negative.
    held_nanos = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CreditAccountQuerySet.as_manager()

    # Money columns are written only by services (F() updates) and the ledger trigger,
    # never by save(): a stale instance saved back would otherwise undo a charge.
    MONEY_FIELDS = frozenset({"balance_nanos", "held_nanos"})

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(held_nanos__gte=0), name="account_held_non_negative"),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, organisation__isnull=True)
                | models.Q(user__isnull=True, organisation__isnull=False),
                name="account_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"account of {self.user or self.organisation}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            if self.balance_nanos or self.held_nanos:
                raise LedgerImmutable("an account starts empty; credit it with a ledger entry")
            return super().save(*args, **kwargs)
        fields = kwargs.pop("update_fields", None)
        if fields is None:
            fields = [f.name for f in self._meta.concrete_fields if not f.primary_key]
        kwargs["update_fields"] = [f for f in fields if f not in self.MONEY_FIELDS]
        if kwargs["update_fields"]:
            super().save(*args, **kwargs)

    @property
    def available_nanos(self) -> int:
        return self.balance_nanos - self.held_nanos


class LedgerEntry(models.Model):
    """An immutable record of money moving.

    Rows are never updated or deleted: a mistake is corrected by a new
    ``adjustment`` or ``refund`` entry, so the history always explains the balance.
    """

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        TOPUP = "topup", "Top-up"
        USAGE = "usage", "Usage"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    # No index of its own: the (account, -created_at) index and the idempotency key's start with it.
    account = models.ForeignKey(
        CreditAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount_nanos = models.BigIntegerField(help_text="Signed: credits positive, charges negative.")
    generation_id = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=200)
    memo = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="ledger_idempotency_unique"),
            # A generation is charged at most once, whatever account it was billed to.
            models.UniqueConstraint(
                fields=["generation_id"],
                condition=models.Q(kind="usage"),
                name="ledger_usage_generation_unique",
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_nanos} on {self.account_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Three layers refuse changes: this method, the queryset above and, in the
        # database, the triggers of migration 0002 (which also catch raw SQL).
        if not self._state.adding:
            raise LedgerImmutable("ledger entries are append-only; post a correcting entry instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LedgerImmutable("ledger entries are append-only; post a correcting entry instead")


class Hold(models.Model):
    """Money reserved for an in-flight request, released or converted when it ends."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="holds")
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="holds"
    )
    # The organisation member whose budget this hold counts against (an organisation key's).
    membership = models.ForeignKey(
        "organisations.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="holds"
    )
    amount_nanos = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    generation_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"hold {self.amount_nanos} ({self.status})"


class RedeemCode(models.Model):
    """A single-use credit code; only its hash is stored, like API keys."""

    code_hash = models.CharField(max_length=64, unique=True)
    batch = models.CharField(max_length=100, db_index=True)
    value_nanos = models.BigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(
        CreditAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code {self.batch} ({'redeemed' if self.redeemed_at else 'open'})"


class Payment(models.Model):
    """A card payment through Stripe Checkout, credited once per session id."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="payments")
    stripe_session_id = models.CharField(max_length=255, unique=True)
    amount_nanos = models.BigIntegerField()
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=10)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"payment {self.stripe_session_id} ({self.status})"


class Generation(models.Model):
    """The record of one request that reached routing, written in the same statement as its
    charge (``billing.services.generation_settle``, ``billing.pg_async``)."""

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    class Api(models.TextChoices):
        """The API surface the request came in through."""

        CHAT = "chat", "Chat completions"
        MESSAGES = "messages", "Messages"
        RESPONSES = "responses", "Responses"
        EMBEDDINGS = "embeddings", "Embeddings"

    id = models.CharField(primary_key=True, max_length=64)  # gen-…
    # No index of its own: every per-user index below starts with user_id.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations", db_index=False
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    # The organisation whose balance paid (its key's), kept on the row so an organisation's
    # activity is one index range; None for a personal key's request.
    organisation = models.ForeignKey(
        "organisations.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
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
    api = models.CharField(max_length=16, choices=Api.choices, default=Api.CHAT)
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
    # App attribution as OpenRouter's clients send it (HTTP-Referer; X-Title or X-OpenRouter-Title),
    # and the request's own ``user`` (the client's end user, as the client named it).
    app_referer = models.CharField(max_length=500, blank=True)
    app_title = models.CharField(max_length=200, blank=True)
    end_user = models.CharField(max_length=256, blank=True)
    # Stored only when the user turned logging on; deleted after their retention period.
    prompt_text = models.JSONField(null=True, blank=True)
    completion_text = models.TextField(null=True, blank=True)  # noqa: DJ001 (null = not logged)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        # The table keeps the name it was created with (it moved here from the gateway app
        # without copying a row: migrations billing 0006 and gateway 0005).
        db_table = "gateway_generation"
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
            models.Index(fields=["organisation", "-created_at"], name="generation_org_recent"),
            models.Index(fields=["organisation", "user", "-created_at"], name="generation_org_member_recent"),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Shortfall(models.Model):
    """Usage that was not charged in full: what an operator must see and settle by hand.

    ``over_hold``: the provider reported more than the request's hold covered (a catalog
    whose context length or prices are wrong, say); the charge stopped at what the hold and
    the balance allowed, and ``amount_nanos`` is the rest. ``unsettled``: the settlement
    itself could not be written after its retries; ``amount_nanos`` is the whole cost and
    the request's hold stays until it expires. ``manage.py audit_ledger`` lists both; an
    unsettled one fails the audit until it is resolved.
    """

    class Kind(models.TextChoices):
        OVER_HOLD = "over_hold", "Usage above its hold"
        UNSETTLED = "unsettled", "Settlement failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    generation_id = models.CharField(max_length=64)
    account = models.ForeignKey(
        CreditAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="shortfalls"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hold_id = models.BigIntegerField(null=True, blank=True)
    amount_nanos = models.BigIntegerField(help_text="Not charged.")
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["generation_id", "kind"], name="shortfall_once_per_generation"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_nanos} for {self.generation_id}"
