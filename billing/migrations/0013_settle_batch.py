"""``billing_hold_settle_batch``: the group commit's settlement of many holds in one statement
(``billing.db_batch``); PostgreSQL only."""

from django.db import migrations


def install(apps, schema_editor):
    from billing import db_batch

    db_batch.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from billing import db_batch

    db_batch.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_generation_organisation"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
