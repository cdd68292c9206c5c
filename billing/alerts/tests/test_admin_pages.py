"""Operators can read alerts, webhooks, deliveries and queued emails in admin, and change none."""

import pytest
from django.test import Client

from billing.tests.factories import UserFactory


@pytest.mark.parametrize("model", ["alertsettings", "webhookendpoint", "webhookdelivery", "alertemail"])
def test_admin_lists_them_read_only(db, model):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(f"/admin/alerts/{model}/").status_code == 200
    assert client.get(f"/admin/alerts/{model}/add/").status_code == 403
