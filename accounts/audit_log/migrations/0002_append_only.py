from django.db import migrations


def install(apps, schema_editor):
    from accounts.audit_log import db_triggers

    db_triggers.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from accounts.audit_log import db_triggers

    db_triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit_log", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
