"""Add, update or remove an organisation member; run again with other options to update.

    python manage.py org_member --org acme --email dev@acme.test --role member --limit 5 --limit-reset daily
    python manage.py org_member --org acme --email dev@acme.test --remove

Refusals (demoting or removing the last owner, an unknown user or organisation) exit non-zero.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.organisations import services
from accounts.organisations.models import Membership, Organisation, Reset
from accounts.services import UNSET
from promptgrid.money import format_usd, parse_usd


def _limit(raw: str) -> int | None:
    if raw.strip().lower() in ("none", "unlimited"):
        return None
    try:
        return parse_usd(raw)
    except ValueError as error:
        raise CommandError(f"--limit: {error}") from None


class Command(BaseCommand):
    help = "Add or update an organisation member's role and budget, or remove them (--remove)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organisation's slug.")
        parser.add_argument("--email", required=True, help="The member's email.")
        parser.add_argument("--role", choices=Membership.Role.values, default=None)
        parser.add_argument("--limit", default=None, help="Budget in USD, or 'none' for no limit.")
        parser.add_argument(
            "--limit-reset",
            choices=[r for r in Reset.values if r != Reset.NEVER],
            default=None,
            help="Reset the budget daily, weekly or monthly (default: a total budget).",
        )
        parser.add_argument("--remove", action="store_true", help="Remove the member and revoke their keys.")

    def handle(self, *args: Any, **opts: Any) -> None:
        organisation = Organisation.objects.filter(slug=opts["org"].strip()).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug {opts['org']!r}.")
        user = get_user_model().objects.filter(email__iexact=opts["email"].strip()).order_by("pk").first()
        if user is None:
            raise CommandError(f"No user with email {opts['email']!r}.")
        try:
            if opts["remove"]:
                removed = services.member_remove(organisation=organisation, user=user)
                self.stdout.write(f"Removed {user.email}." if removed else f"{user.email} is not a member.")
                return
            budget: dict[str, Any] = {}
            if opts["limit"] is not None:
                budget["limit_nanos"] = _limit(opts["limit"])
                budget["limit_reset"] = opts["limit_reset"] or Reset.NEVER
            elif opts["limit_reset"] is not None:
                budget["limit_reset"] = opts["limit_reset"]
            membership, created = services.member_set(
                organisation=organisation,
                user=user,
                role=opts["role"],
                limit_nanos=budget.get("limit_nanos", UNSET),
                limit_reset=budget.get("limit_reset", UNSET),
            )
        except services.OrganisationRefused as error:
            raise CommandError(str(error)) from None
        budget_text = "no budget"
        if membership.limit_nanos is not None:
            reset = membership.get_limit_reset_display().lower()
            budget_text = f"budget {format_usd(membership.limit_nanos)} ({reset})"
        self.stdout.write(
            f"{'Added' if created else 'Updated'} {user.email} in {organisation.slug}: "
            f"{membership.role}, {budget_text}."
        )
