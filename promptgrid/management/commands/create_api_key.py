"""Create (or reuse) a user and give them a new API key; print the secret last.

    python manage.py create_api_key --email dev@example.com --credits 10
    SECRET=$(python manage.py create_api_key --email bench@example.com | tail -n 1)
    python manage.py create_api_key --email dev@acme.test --org acme   # spends the organisation's

With ``--org`` the key is made in that organisation (the user must be a member) and
``--credits`` go to the organisation's account, the one the key spends.

The secret is printed alone on the last line of stdout (scripts rely on it);
everything else goes before it. It is stored only as a hash and cannot be shown again.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import ApiKey
from accounts.services import api_key_create


def _usd(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise CommandError(f"--credits {raw!r} is not an amount in USD (e.g. 10 or 2.50).") from None
    if not value.is_finite() or value < 0:
        raise CommandError("--credits must be a positive amount in USD.")
    return value


class Command(BaseCommand):
    help = "Create a user when missing, optionally grant credits, and print a new API key's secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The user's email (the login).")
        parser.add_argument("--name", default="default", help="The key's name (default: default).")
        parser.add_argument("--credits", type=_usd, default=None, help="Grant this many USD of credits.")
        parser.add_argument(
            "--password", default=None, help="Password for a new user (default: none, an unusable password)."
        )
        parser.add_argument("--management", action="store_true", help="Create a management key.")
        parser.add_argument("--org", default=None, help="Make the key in this organisation (its slug).")

    def handle(self, *args: Any, **opts: Any) -> None:
        email = opts["email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"--email {opts['email']!r} is not an email address.") from None
        from accounts.organisations.models import Membership, Organisation
        from billing import services as billing
        from promptgrid.money import usd_to_nanos

        organisation = None
        if opts["org"] is not None:
            organisation = Organisation.objects.filter(slug=opts["org"].strip()).first()
            if organisation is None:
                raise CommandError(f"No organisation with slug {opts['org']!r}.")
        with transaction.atomic():
            user, created = self._user(email, opts["password"])
            if organisation is None:
                account = billing.account_for_user(user=user)
            elif Membership.objects.filter(organisation=organisation, user=user).exists():
                account = billing.account_for_organisation(organisation=organisation)
            else:
                raise CommandError(
                    f"{email} is not a member of {organisation.slug}; add them with org_member."
                )
            credits = opts["credits"]
            if credits:
                billing.credits_grant(
                    account=account, amount_nanos=usd_to_nanos(credits), memo="create_api_key command"
                )
            kind = ApiKey.Kind.MANAGEMENT if opts["management"] else ApiKey.Kind.STANDARD
            key, secret = api_key_create(
                user=user,
                name=opts["name"],
                kind=kind,
                organisation_id=organisation.pk if organisation else None,
            )
        self.stdout.write(f"{'Created' if created else 'Found'} user {email} (id {user.pk}).")
        if credits:
            self.stdout.write(f"Granted ${credits} of credits.")
        where = f" in {organisation.slug}" if organisation else ""
        self.stdout.write(
            f"Created {kind} key {key.name!r} ({key.masked}){where}. The secret is shown only once:"
        )
        self.stdout.write(secret)

    def _user(self, email: str, password: str | None) -> tuple[Any, bool]:
        user_model = get_user_model()
        user = user_model.objects.filter(email__iexact=email).first()
        if user is not None:
            return user, False
        user = user_model(username=email[:150], email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        # Mark the address verified so the user can sign in when verification is mandatory.
        from allauth.account.models import EmailAddress

        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user, True
