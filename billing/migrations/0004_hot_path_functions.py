from django.db import migrations


def install(apps, schema_editor):
    from billing import db_functions

    db_functions.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from billing import db_functions

    db_functions.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_usage_generation_unique"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
