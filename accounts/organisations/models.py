"""Organisations: one balance and one bill for a team, with a budget per member.

An organisation owns a billing CreditAccount of its own (``CreditAccount.organisation``).
Its API keys (``ApiKey.organisation``) spend that account and are attributed to the member
who made them. Each membership carries the member's budget and its running counters, kept
by billing in the same statements as the hold and the charge, exactly like a key's limit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import ApiKey

Reset = ApiKey.Reset  # one set of budget periods for keys and members


class Organisation(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Models every key of the organisation may call; empty means the whole catalog.
    allowed_models = models.JSONField(default=list, blank=True)
    # The budget a new member starts with (None: no limit).
    default_limit_nanos = models.BigIntegerField(null=True, blank=True)
    default_limit_reset = models.CharField(max_length=10, choices=Reset.choices, default=Reset.NEVER)
    require_mfa = models.BooleanField(default=False, help_text="Members must sign in with two factors.")
    # Deleting an organisation closes it: its keys are revoked and its members removed, while
    # its account, ledger and generations stay (money history is never deleted).
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    # The member's budget in nano-USD (None: unlimited) and its optional model allowlist.
    limit_nanos = models.BigIntegerField(null=True, blank=True)
    limit_reset = models.CharField(max_length=10, choices=Reset.choices, default=Reset.NEVER)
    allowed_models = models.JSONField(default=list, blank=True)
    # Running spend counters, maintained only by billing (hold placement and settlement).
    usage_nanos = models.BigIntegerField(default=0)
    period_usage_nanos = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    held_nanos = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["organisation", "joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user.email or self.user} in {self.organisation} ({self.role})"

    @property
    def is_admin(self) -> bool:
        """Owners and admins manage members, budgets, every key and all activity."""
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class Invitation(models.Model):
    """An invitation by email; the link carries a signed token naming this row.

    Single use and revocable: ``accepted_at`` and ``revoked_at`` are set once, by
    conditional UPDATEs, so two clicks on one link make one membership.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A random nonce inside the signed token: a revoked and re-sent invitation gets a new link.
    nonce = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organisation}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
