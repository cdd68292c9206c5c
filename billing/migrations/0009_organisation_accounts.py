import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _sqlite_triggers_off(apps, schema_editor):
    # SQLite alters a table by rebuilding it, which its triggers on that table would block.
    from billing import db_triggers

    if schema_editor.connection.vendor == "sqlite":
        db_triggers.uninstall(schema_editor.connection)


def _sqlite_triggers_on(apps, schema_editor):
    from billing import db_triggers

    if schema_editor.connection.vendor == "sqlite":
        db_triggers.install(schema_editor.connection)


def install(apps, schema_editor):
    # The hold and settlement functions now also keep organisation members' budgets.
    from billing import db_functions

    db_functions.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_shortfall"),
        ("organisations", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_sqlite_triggers_off, _sqlite_triggers_on),
        migrations.AddField(
            model_name="creditaccount",
            name="organisation",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credit_account",
                to="organisations.organisation",
            ),
        ),
        migrations.AddField(
            model_name="hold",
            name="membership",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="holds",
                to="organisations.membership",
            ),
        ),
        migrations.AlterField(
            model_name="creditaccount",
            name="user",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credit_account",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="creditaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("organisation__isnull", True), ("user__isnull", False)),
                    models.Q(("organisation__isnull", False), ("user__isnull", True)),
                    _connector="OR",
                ),
                name="account_has_one_owner",
            ),
        ),
        migrations.RunPython(_sqlite_triggers_on, _sqlite_triggers_off),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
