"""Price and provider changes made in admin are in the audit log, old and new, by whom."""

import pytest

from accounts.audit_log.models import AuditEntry
from catalog.models import Endpoint, Model, Provider
from catalog.tests.test_admin import SECRET, _inline_form, _provider_form, admin_client  # noqa: F401


def test_an_endpoint_price_edited_inline_is_logged_with_old_and_new(admin_client):  # noqa: F811
    model = Model.objects.get(slug="openai/gpt-4o-mini")
    endpoint = model.endpoints.get()
    form = _inline_form(model) | {"endpoints-0-input_price": "0.25"}
    assert admin_client.post(f"/admin/catalog/model/{model.pk}/change/", form).status_code == 302
    entry = AuditEntry.objects.get(action="catalog.endpoint.change")
    assert (entry.actor_repr, entry.target_id) == ("root@example.com", str(endpoint.pk))
    assert entry.old == {"input_price": "0.150000"}
    assert entry.new == {"input_price": "0.25"}
    # The model itself did not change: no entry for it.
    assert not AuditEntry.objects.filter(action="catalog.model.change").exists()


def test_a_price_edited_on_the_endpoint_list_is_logged(admin_client):  # noqa: F811
    endpoint = Endpoint.objects.select_related("model", "provider").order_by("pk").first()
    page = admin_client.get("/admin/catalog/endpoint/")
    rows = list(page.context["cl"].result_list)
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(len(rows)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, ep in enumerate(rows):
        data |= {
            f"form-{i}-id": str(ep.pk),
            f"form-{i}-priority": str(ep.priority),
            f"form-{i}-enabled": "on" if ep.enabled else "",
            **{
                f"form-{i}-{f}": str(getattr(ep, f))
                for f in (
                    "input_price",
                    "output_price",
                    "cache_read_price",
                    "cache_write_price",
                    "request_price",
                )
            },
        }
    index = next(i for i, ep in enumerate(rows) if ep.pk == endpoint.pk)
    data[f"form-{index}-output_price"] = "7.5"
    response = admin_client.post("/admin/catalog/endpoint/", data)
    assert response.status_code == 302, response.content.decode()[:1500]
    entries = list(AuditEntry.objects.filter(action="catalog.endpoint.change"))
    assert len(entries) == 1
    assert entries[0].target_id == str(endpoint.pk)
    assert entries[0].new == {"output_price": "7.5"}


def test_disabling_a_provider_and_changing_its_key_is_logged_without_the_key(admin_client):  # noqa: F811
    openai = Provider.objects.get(slug="openai")
    url = f"/admin/catalog/provider/{openai.pk}/change/"
    form = _provider_form(openai, api_key=SECRET)
    form.pop("enabled")
    assert admin_client.post(url, form).status_code == 302
    entry = AuditEntry.objects.get(action="catalog.provider.change")
    assert entry.old == {"enabled": True, "api_key": "[redacted]"} or entry.old == {
        "enabled": True,
        "api_key": "",
    }
    assert entry.new == {"enabled": False, "api_key": "[redacted]"}
    assert SECRET not in str(entry.old) + str(entry.new)


def test_deleting_an_alias_in_admin_is_logged(admin_client):  # noqa: F811
    model = Model.objects.filter(aliases__isnull=False).first()
    if model is None:
        pytest.skip("the seeded catalog has no aliases")
    alias = model.aliases.first()
    response = admin_client.post(f"/admin/catalog/modelalias/{alias.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="catalog.modelalias.delete")
    assert entry.target_id == str(alias.pk) and entry.old["name"] == alias.name and entry.new is None


def test_making_a_user_staff_in_admin_is_logged_without_their_password(admin_client):  # noqa: F811
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("dana", "dana@example.com", "pw-dana-123")
    joined = user.date_joined
    form = {
        "username": "dana",
        "first_name": "",
        "last_name": "",
        "email": "dana@example.com",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": joined.strftime("%H:%M:%S"),
    }
    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditEntry.objects.get(action="auth.user.change")
    assert (entry.old, entry.new) == ({"is_staff": False}, {"is_staff": True})
    assert entry.actor_repr == "root@example.com" and entry.target_id == str(user.pk)
    assert user.password not in str(entry.old) + str(entry.new)
