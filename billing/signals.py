"""Every new user gets a credit account and, once, the signup grant."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="billing_new_user_account")
def _new_user_account(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    from billing.services import account_open_for_new_user

    account_open_for_new_user(user=instance)
