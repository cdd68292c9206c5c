"""Create an organisation with an owner, optionally grant it credits; print its slug last.

    SLUG=$(python manage.py create_org --name "Acme" --owner ops@acme.test --credits 100 | tail -n 1)

The owner must already have an account (signed up, or made by ``create_api_key``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.organisations.services import OrganisationRefused, organisation_create
from billing import services as billing
from promptgrid.money import format_usd, parse_usd


def usd_nanos(raw: str) -> int:
    try:
        return parse_usd(raw)
    except ValueError as error:
        raise CommandError(str(error)) from None


class Command(BaseCommand):
    help = "Create an organisation owned by an existing user; print its slug on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The organisation's name.")
        parser.add_argument("--owner", required=True, help="Email of the user who owns it.")
        parser.add_argument("--credits", default=None, help="Grant the organisation this many USD.")

    def handle(self, *args: Any, **opts: Any) -> None:
        credits = usd_nanos(opts["credits"]) if opts["credits"] is not None else 0
        owner = get_user_model().objects.filter(email__iexact=opts["owner"].strip()).order_by("pk").first()
        if owner is None:
            raise CommandError(f"No user with email {opts['owner']!r}; they must sign up first.")
        with transaction.atomic():
            try:
                organisation = organisation_create(name=opts["name"], owner=owner)
            except OrganisationRefused as error:
                raise CommandError(str(error)) from None
            account = billing.account_for_organisation(organisation=organisation)
            if credits:
                billing.credits_grant(account=account, amount_nanos=credits, memo="create_org command")
        self.stdout.write(f"Created organisation {organisation.name!r} owned by {owner.email}.")
        if credits:
            self.stdout.write(f"Granted {format_usd(credits)} of credits.")
        self.stdout.write(organisation.slug)
