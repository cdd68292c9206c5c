"""One command from a fresh checkout to a working demo: schema, catalog, user, credits, key."""

from __future__ import annotations

import secrets
import shlex
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

DEMO_EMAIL = "demo@promptgrid.local"
DEMO_CREDITS_USD = "10"
GRANT_KEY = "bootstrap:demo"


class Command(BaseCommand):
    help = (
        "Migrate, seed the catalog, create the demo user (once, with $10 of credits) and a new "
        "'demo' API key, then print the login, the key and a curl command for mock/echo. "
        "Safe to run again: only the API key is new each time (a secret can be shown only once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL, help=f"Demo user's email (default {DEMO_EMAIL}).")
        parser.add_argument(
            "--reset-password", action="store_true", help="Give an existing demo user a new printed password."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = max(int(options["verbosity"]) - 1, 0)
        call_command("migrate", interactive=False, verbosity=quiet, stdout=self.stdout)
        call_command("seed_catalog", verbosity=quiet, stdout=self.stdout)
        email, password, secret, balance = self._demo(options["email"], options["reset_password"])

        site = settings.SITE_URL
        body = '{"model": "mock/echo", "messages": [{"role": "user", "content": "Hello, PromptGrid!"}]}'
        curl = (
            f"curl {site}/api/v1/chat/completions \\\n"
            f'  -H "Authorization: Bearer {secret}" \\\n'
            f'  -H "Content-Type: application/json" \\\n'
            f"  -d {shlex.quote(body)}"
        )
        shown = password or "(unchanged since it was first printed; --reset-password sets a new one)"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    self.style.SUCCESS("PromptGrid is ready."),
                    f"  Dashboard: {site}/",
                    f"  Email:     {email}",
                    f"  Password:  {shown}",
                    f"  API key:   {secret}",
                    f"  Credits:   {balance}",
                    "",
                    "Try it (once the server runs):",
                    curl,
                    "",
                ]
            )
        )

    @transaction.atomic
    def _demo(self, email: str, reset_password: bool) -> tuple[str, str, str, str]:
        from accounts.services import api_key_create
        from billing.models import CreditAccount
        from billing.services import account_for_user, credits_grant
        from promptgrid.money import format_usd, usd_to_nanos

        user_model = get_user_model()
        user = user_model.objects.filter(email__iexact=email).first()
        password = ""
        if user is None:
            password = secrets.token_urlsafe(12)
            username = email.split("@", 1)[0]
            if user_model.objects.filter(username=username).exists():
                username = email
            user = user_model.objects.create_user(username=username, email=email, password=password)
        elif reset_password:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
        _verify_email(user, email)

        account = account_for_user(user=user)
        credits_grant(
            account=account,
            amount_nanos=usd_to_nanos(DEMO_CREDITS_USD),
            memo="Demo credits (bootstrap)",
            idempotency_key=GRANT_KEY,
        )
        _key, secret = api_key_create(user=user, name="demo")
        balance = CreditAccount.objects.values_list("balance_nanos", flat=True).get(pk=account.pk)
        return email, password, secret, format_usd(balance)


def _verify_email(user: Any, email: str) -> None:
    """Mark the address verified so the demo login works even when verification is mandatory."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email__iexact=email, defaults={"email": email, "verified": True, "primary": True}
    )
