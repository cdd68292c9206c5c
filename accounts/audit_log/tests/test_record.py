"""``record`` writes who did what to what, old and new values, and the request id."""

import pytest
from django.db import transaction
from django.test import Client

from accounts.audit_log import record
from accounts.audit_log.models import AuditEntry
from accounts.models import ApiKey
from promptgrid.observability.request_id import use_request_id
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_entry_names_actor_target_values_owner_and_request():
    admin, key = UserFactory(email="ops@example.com"), ApiKeyFactory(name="ci")
    use_request_id("req-abc")
    entry = record(
        actor=admin, action="key.update", target=key, old={"limit_nanos": 1}, new={"limit_nanos": 2}
    )
    entry.refresh_from_db()
    assert (entry.actor, entry.actor_repr, entry.action) == (admin, "ops@example.com", "key.update")
    assert (entry.target_type, entry.target_id, entry.target_repr) == (
        "accounts.apikey",
        str(key.pk),
        str(key),
    )
    assert (entry.old, entry.new) == ({"limit_nanos": 1}, {"limit_nanos": 2})
    assert entry.owner_id == key.user_id  # the key's owner sees it in their log
    assert entry.request_id == "req-abc"
    assert entry.organisation_id is None


def test_labels_stand_for_actors_that_are_not_users_and_requests_give_their_id():
    class _Request:
        request_id = "req-from-request"

    entry = record(
        actor="stripe",
        action="payment.credit",
        target=("billing.payment", "cs_1", "cs_1"),
        request=_Request(),
    )
    assert (entry.actor, entry.actor_repr, entry.request_id) == (None, "stripe", "req-from-request")
    assert record(actor=None, action="x.y").actor_repr == "system"


def test_secret_values_are_never_written():
    entry = record(
        actor=None,
        action="catalog.provider.change",
        old={"api_key": "sk-old-secret", "enabled": True},
        new={"api_key": "sk-new-secret", "enabled": False},
    )
    entry.refresh_from_db()
    assert entry.old == {"api_key": "[redacted]", "enabled": True}
    assert entry.new == {"api_key": "[redacted]", "enabled": False}


def test_an_entry_rolls_back_with_the_change_it_records():
    key = ApiKeyFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        ApiKey.objects.filter(pk=key.pk).update(disabled=True)
        record(actor=key.user, action="key.disable", target=key)
        raise RuntimeError
    assert not AuditEntry.objects.exists()


def test_the_request_id_of_a_served_request_is_the_one_returned_to_the_client(settings):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    response = client.get("/", headers={"x-request-id": "req-client-42"})
    assert response["x-request-id"] == "req-client-42"
    # The contextvar the middleware set is what record() picks up by default.
    assert record(actor=user, action="x.y").request_id == "req-client-42"
