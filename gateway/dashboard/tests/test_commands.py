"""Commands of the dashboard: purge_logged_text and seed_demo."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import UserSettings
from billing.models import CreditAccount, Generation, LedgerEntry
from tests.factories import GenerationFactory, UserFactory, catalog_with_mock

pytestmark = pytest.mark.django_db

TEXT = {"prompt_text": [{"role": "user", "content": "secret"}], "completion_text": "answer"}


def test_purge_deletes_text_past_each_users_retention_only():
    now = timezone.now()
    short = UserFactory()
    UserSettings.objects.create(user=short, log_prompts=True, log_retention_days=1)
    default = UserFactory()  # no settings: 30 days
    old_short = GenerationFactory(user=short, created_at=now - timedelta(days=2), **TEXT)
    new_short = GenerationFactory(user=short, created_at=now - timedelta(hours=2), **TEXT)
    mid_default = GenerationFactory(user=default, created_at=now - timedelta(days=10), **TEXT)
    old_default = GenerationFactory(user=default, created_at=now - timedelta(days=31), **TEXT)

    out = StringIO()
    call_command("purge_logged_text", stdout=out)
    assert "Deleted stored text of 2 generation(s)." in out.getvalue()
    for gen, kept in ((old_short, False), (new_short, True), (mid_default, True), (old_default, False)):
        gen.refresh_from_db()
        assert (gen.completion_text == "answer") is kept
        assert (gen.prompt_text is not None) is kept
        assert gen.cost_nanos == 1_000  # numbers stay


def test_purge_dry_run_changes_nothing():
    gen = GenerationFactory(created_at=timezone.now() - timedelta(days=40), **TEXT)
    out = StringIO()
    call_command("purge_logged_text", "--dry-run", stdout=out)
    assert "Would delete stored text of 1" in out.getvalue()
    gen.refresh_from_db()
    assert gen.completion_text == "answer"


def test_seed_demo_builds_a_consistent_history():
    catalog_with_mock()
    out = StringIO()
    call_command("seed_demo", "--days", "5", "--per-day", "6", stdout=out)
    gens = Generation.objects.filter(user__email="demo@promptgrid.local")
    assert gens.count() >= 5 * 3
    assert gens.values("api_key").distinct().count() >= 2
    account = CreditAccount.objects.get(user__email="demo@promptgrid.local")
    ledger_sum = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount_nanos"))["s"]
    assert account.balance_nanos == ledger_sum  # the ledger explains the balance
    usage = -LedgerEntry.objects.filter(account=account, kind="usage").aggregate(s=Sum("amount_nanos"))["s"]
    assert usage == gens.aggregate(s=Sum("cost_nanos"))["s"]
    assert account.held_nanos == 0
    assert "demo@promptgrid.local" in out.getvalue()


def test_seed_demo_sends_its_chat_traffic_to_chat_models_only():
    call_command("seed_catalog", stdout=StringIO())  # the shipped catalog has mock/embed routable
    call_command("seed_demo", "--days", "2", "--per-day", "6", stdout=StringIO())

    used = set(Generation.objects.values_list("model_slug", flat=True))
    assert used and "mock/embed" not in used


def test_seed_demo_refuses_twice_without_reset():
    catalog_with_mock()
    call_command("seed_demo", "--days", "2", "--per-day", "3", stdout=StringIO())
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed_demo", "--days", "2", "--per-day", "3", stdout=StringIO())
    call_command("seed_demo", "--days", "2", "--per-day", "3", "--reset", stdout=StringIO())
    account = CreditAccount.objects.get(user__email="demo@promptgrid.local")
    assert (
        account.balance_nanos
        == LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount_nanos"))["s"]
    )
