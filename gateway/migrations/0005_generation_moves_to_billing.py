"""Generation now lives in billing (billing 0006): forget it here, keep its table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0004_fewer_generation_indexes"),
        ("billing", "0006_generation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Generation")],
            database_operations=[],
        ),
    ]
