"""``billing_hold_settle`` replaced: a charge never exceeds its hold, and what a provider
reported beyond it is recorded in ``billing_shortfall`` (which 0008 created); the function
also keeps member budgets (0009)."""

from django.db import migrations


def install(apps, schema_editor):
    from billing import db_functions

    db_functions.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_generation_attribution"),
    ]

    operations = [
        # Backwards the function stays as it is (its older body is not kept); it touches
        # billing_shortfall only when a provider reports more than the hold.
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
