"""The ledger's balance trigger runs once per INSERT statement (a transition table), moving each
account's balance once by the sum of its new entries (``billing.db_triggers``); PostgreSQL only."""

from django.db import migrations


def install(apps, schema_editor):
    from billing import db_triggers

    if schema_editor.connection.vendor == "postgresql":
        db_triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_settle_batch"),
    ]

    operations = [
        # Backwards the trigger stays per statement: it moves every balance exactly as the
        # per-row one did.
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
