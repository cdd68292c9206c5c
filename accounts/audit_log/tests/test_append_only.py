"""An audit entry, once written, cannot be changed or removed: not by the ORM, nor by SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.audit_log import db_triggers, record
from accounts.audit_log.models import AuditEntry, AuditImmutable
from tests.factories import UserFactory

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL-only trigger")


@pytest.fixture
def entry(db):
    user = UserFactory()
    return record(actor=user, action="key.revoke", target=("accounts.apikey", "7", "ci key"), owner=user)


def test_the_triggers_are_installed_after_migrations(db):
    assert set(db_triggers.TRIGGER_NAMES) <= db_triggers.installed(connection)


def test_an_entry_cannot_be_saved_again_or_deleted(entry):
    entry.action = "key.create"
    with pytest.raises(AuditImmutable):
        entry.save()
    with pytest.raises(AuditImmutable):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "key.revoke"


def test_querysets_refuse_update_delete_and_bulk_update(entry):
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.all().delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.bulk_update([entry], ["action"])
    assert AuditEntry.objects.count() == 1


def test_raw_sql_cannot_rewrite_an_entry(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_log_auditentry SET action = 'nothing' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "key.revoke"


@needs_postgres
def test_raw_sql_cannot_delete_an_entry_on_postgres(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_log_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_without_the_trigger_raw_sql_could_rewrite_it(entry):
    """The protection above is the trigger's: with it off, the same UPDATE goes through."""
    db_triggers.uninstall(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_log_auditentry SET action = 'nothing' WHERE id = %s", [entry.pk])
        assert AuditEntry.objects.get(pk=entry.pk).action == "nothing"
    finally:
        db_triggers.install(connection)
