"""Two indexes fewer to update on every Generation insert (the hot path's settlement).

- ``user_id`` alone: every per-user index (dashboard, activity, usage) starts with user_id,
  so they serve lookups and the user's cascade delete as well.
- the id's ``varchar_pattern_ops`` twin (PostgreSQL): made for LIKE queries on the primary
  key, which nothing runs.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from promptgrid.schema import create_index, drop_index

TABLE = "gateway_generation"


def forwards(apps, schema_editor):
    drop_index(schema_editor, TABLE, "user_id")
    drop_index(schema_editor, TABLE, "id", like=True)


def backwards(apps, schema_editor):
    create_index(schema_editor, TABLE, "user_id")
    create_index(schema_editor, TABLE, "id", like=True)


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0003_dashboard_usage_index_all_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="generation",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="generations",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
