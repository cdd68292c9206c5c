"""Who is emailed about an account: its user today (an organisation's owners and admins
once accounts can belong to one)."""

from __future__ import annotations

from billing.models import CreditAccount


def account_emails(account: CreditAccount) -> list[str]:
    email = getattr(account.user, "email", "") if account.user_id else ""
    return [email] if email else []
