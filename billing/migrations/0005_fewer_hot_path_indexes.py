"""Indexes fewer to update on every usage entry and hold (the hot path's two statements).

- LedgerEntry ``account_id`` alone: the (account, -created_at) index and the unique
  (account, idempotency_key) constraint both start with it.
- the ``varchar_pattern_ops`` twins of LedgerEntry and Hold ``generation_id`` (PostgreSQL):
  made for LIKE queries, which nothing runs; the plain indexes stay.
"""

import django.db.models.deletion
from django.db import migrations, models

from promptgrid.schema import create_index, drop_index


def forwards(apps, schema_editor):
    drop_index(schema_editor, "billing_ledgerentry", "account_id")
    drop_index(schema_editor, "billing_ledgerentry", "generation_id", like=True)
    drop_index(schema_editor, "billing_hold", "generation_id", like=True)


def backwards(apps, schema_editor):
    create_index(schema_editor, "billing_ledgerentry", "account_id")
    create_index(schema_editor, "billing_ledgerentry", "generation_id", like=True)
    create_index(schema_editor, "billing_hold", "generation_id", like=True)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_hot_path_functions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="billing.creditaccount",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
