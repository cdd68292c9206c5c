"""Generation moved from the gateway app to billing without copying a row.

The migration pair (billing 0006, gateway 0005) changes Django's state only. Run on a
database that already holds generations and ledger rows, written before and after the
move, every row is still there, the ledger audits clean and its guard triggers stand.
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing import db_triggers, services
from billing.models import Generation
from billing.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("gateway", "0004_fewer_generation_indexes"), ("billing", "0005_fewer_hot_path_indexes")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _charged_generation(account, cost: int) -> str:
    """A settled request as the gateway makes it: hold, then the row and its charge together."""
    hold = services.hold_place(account_id=account.pk, amount_nanos=cost * 2, ttl_seconds=60)
    generation_id = f"gen-migrate-{hold.id}"
    row = Generation(
        id=generation_id,
        user_id=account.user_id,
        model_slug="mock/echo",
        status=Generation.Status.SUCCESS,
        cost_nanos=cost,
        prompt_tokens=12,
        completion_tokens=7,
        created_at=timezone.now(),
    )
    services.generation_settle(generation=row, hold_id=hold.id, cost_nanos=cost, memo="mock/echo")
    return generation_id


def test_generations_and_ledger_survive_the_move_in_place():
    latest = _latest()
    user = UserFactory()
    account = services.account_for_user(user=user)
    services.credits_grant(account=account, amount_nanos=5_000_000)
    charged = [_charged_generation(account, cost) for cost in (1_900, 2_300)]

    # Back to the schema before the move: the model is the gateway's again, on the same table.
    old = _migrate(BEFORE)
    old_apps = old.loader.project_state(BEFORE).apps
    OldGeneration = old_apps.get_model("gateway", "Generation")
    assert sorted(OldGeneration.objects.values_list("id", flat=True)) == sorted(charged)
    OldGeneration.objects.create(
        id="gen-written-before-the-move",
        user_id=user.pk,
        model_slug="mock/lorem",
        status="error",
        created_at=timezone.now(),
    )

    _migrate(latest)

    assert set(Generation.objects.values_list("id", flat=True)) == {*charged, "gen-written-before-the-move"}
    assert Generation._meta.db_table == "gateway_generation"
    assert sum(Generation.objects.values_list("cost_nanos", flat=True)) == 4_200
    account.refresh_from_db()
    assert account.balance_nanos == 5_000_000 - 4_200
    assert ContentType.objects.filter(app_label="billing", model="generation").exists()
    assert not ContentType.objects.filter(app_label="gateway", model="generation").exists()
    assert set(db_triggers.TRIGGER_NAMES) <= db_triggers.installed(connection)
    call_command("audit_ledger")  # raises CommandError on any violation

    # And the moved model keeps taking charges.
    _charged_generation(account, 500)
    call_command("audit_ledger")
