"""Who is emailed about an account: its user, or an organisation's owners and admins."""

from __future__ import annotations

from accounts.organisations.models import Membership
from billing.models import CreditAccount


def account_emails(account: CreditAccount) -> list[str]:
    if account.organisation_id:
        admins = Membership.objects.filter(
            organisation_id=account.organisation_id, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
        ).order_by("joined_at", "pk")
        return [email for email in admins.values_list("user__email", flat=True) if email]
    email = getattr(account.user, "email", "") if account.user_id else ""
    return [email] if email else []
