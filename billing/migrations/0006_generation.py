"""Generation moves from the gateway app to billing, which writes it with its charge.

State only: the table keeps its name (``gateway_generation``), so an existing database
migrates in place without copying a row, and its indexes, statistics and triggers stay as
they are. The content type is relabelled so admin history and permissions follow the model.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=new, model="generation").exists():
        ContentType.objects.filter(app_label=old, model="generation").update(app_label=new)


def relabel_content_type(apps, schema_editor):
    _move(apps, "gateway", "billing")


def unrelabel_content_type(apps, schema_editor):
    _move(apps, "billing", "gateway")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_apikey_updated_at'),
        ('billing', '0005_fewer_hot_path_indexes'),
        ('catalog', '0002_provider_timeouts'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('gateway', '0004_fewer_generation_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
        migrations.CreateModel(
            name='Generation',
            fields=[
                ('id', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('model_slug', models.CharField(max_length=200)),
                ('provider_slug', models.CharField(blank=True, max_length=100)),
                ('provider_name', models.CharField(blank=True, max_length=100)),
                ('upstream_model', models.CharField(blank=True, max_length=200)),
                ('streamed', models.BooleanField(default=False)),
                ('status', models.CharField(choices=[('success', 'Success'), ('error', 'Error'), ('cancelled', 'Cancelled')], max_length=10)),
                ('http_status', models.PositiveSmallIntegerField(default=200)),
                ('finish_reason', models.CharField(blank=True, max_length=32)),
                ('native_finish_reason', models.CharField(blank=True, max_length=64)),
                ('prompt_tokens', models.PositiveIntegerField(default=0)),
                ('completion_tokens', models.PositiveIntegerField(default=0)),
                ('cached_tokens', models.PositiveIntegerField(default=0)),
                ('cache_write_tokens', models.PositiveIntegerField(default=0)),
                ('reasoning_tokens', models.PositiveIntegerField(default=0)),
                ('cost_nanos', models.BigIntegerField(default=0)),
                ('ttft_ms', models.PositiveIntegerField(blank=True, null=True)),
                ('latency_ms', models.PositiveIntegerField(default=0)),
                ('upstream_id', models.CharField(blank=True, max_length=200)),
                ('error', models.TextField(blank=True)),
                ('attempts', models.JSONField(blank=True, default=list)),
                ('prompt_text', models.JSONField(blank=True, null=True)),
                ('completion_text', models.TextField(blank=True, null=True)),
                ('created_at', models.DateTimeField(db_index=True)),
                ('api_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='generations', to='accounts.apikey')),
                ('endpoint', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.endpoint')),
                ('model', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.model')),
                ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='generations', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'gateway_generation',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['user', '-created_at'], name='gateway_gen_user_id_bbfe4c_idx'), models.Index(fields=['user', 'model_slug', '-created_at'], name='gateway_gen_user_id_0e6956_idx'), models.Index(fields=['user', 'api_key', '-created_at'], name='gateway_gen_user_id_e0ce69_idx'), models.Index(fields=['user', 'status', '-created_at'], name='gateway_gen_user_id_e616d8_idx'), models.Index(fields=['user', 'created_at', 'model_slug', 'status', 'cost_nanos', 'prompt_tokens', 'completion_tokens', 'latency_ms', 'ttft_ms'], name='generation_user_usage')],
            },
        ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel_content_type, unrelabel_content_type, elidable=False),
    ]
