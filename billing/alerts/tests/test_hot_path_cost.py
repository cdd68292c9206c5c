"""Alerts cost the API nothing: a request runs the same statements with every alert and a
webhook configured (and about to cross) as with none, and sends nothing itself."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.alerts.models import WebhookDelivery
from billing.alerts.services import alert_settings_update, webhook_set
from promptgrid.money import usd_to_nanos


def _statements(customer) -> list[str]:
    client = Client()
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 16}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/v1/chat/completions", body, content_type="application/json", headers=customer.headers
        )
    assert response.status_code == 200, response.content
    return [q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries]


@pytest.mark.django_db
def test_a_request_runs_the_same_statements_with_alerts_on_as_off(make_customer, make_mock_model, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    make_mock_model(input_price="1000", output_price="1000")
    plain = make_customer(limit_nanos=usd_to_nanos("1000"))
    # Below its balance threshold: the scan would alert; the request must not.
    watched = make_customer(limit_nanos=usd_to_nanos("1000"), credits_nanos=usd_to_nanos("0.5"))
    alert_settings_update(
        account=watched.account, low_balance_nanos=usd_to_nanos("100"), limit_emails=True, actor=watched.user
    )
    webhook_set(account=watched.account, url="http://127.0.0.1:9/hook", actor=watched.user)
    _statements(plain), _statements(watched)  # warm caches (catalog, keys) alike
    without = _statements(plain)
    with_alerts = _statements(watched)
    print(f"statements per request: {len(without)} without alerts, {len(with_alerts)} with")
    assert with_alerts == without
    assert mail.outbox == [] and not WebhookDelivery.objects.exists()
