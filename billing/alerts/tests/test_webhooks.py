"""The webhook gets the same events as the emails, signed with a secret shown once,
retried with backoff until it answers 2xx, with one event id per event; the Alerts
page shows its delivery log."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.audit_log.models import AuditEntry
from accounts.services import api_key_create
from billing.alerts import signing
from billing.alerts.delivery import backoff, webhooks_deliver
from billing.alerts.models import WebhookDelivery, WebhookEndpoint
from billing.alerts.services import alert_settings_update
from billing.alerts.tests import receiver as local
from billing.alerts.tests.helpers import spend
from promptgrid.money import usd_to_nanos

USD = usd_to_nanos("1")


@pytest.fixture
def hook(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1
    receiver, server = local.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def owner(funded) -> Client:
    client = Client()
    client.force_login(funded.user)
    return client


def _add_webhook(owner, url: str) -> str:
    page = owner.post("/alerts/", {"form": "webhook", "url": url})
    assert page.status_code == 200
    return page.context["secret"]


def test_the_secret_is_shown_once_and_not_stored(owner, funded, hook):
    secret = _add_webhook(owner, hook.url)
    assert secret.startswith("whsec_") and len(secret) > 40
    page = owner.get("/alerts/").content.decode()
    assert secret not in page and hook.url in page
    endpoint = WebhookEndpoint.objects.get(account=funded)
    stored = " ".join(str(v) for v in WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get().values())
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert AuditEntry.objects.filter(action="webhook.create", owner=funded.user).exists()


def test_a_low_balance_event_is_signed_and_verifiable_by_the_receiver(owner, funded, hook, scan):
    secret = _add_webhook(owner, hook.url)
    alert_settings_update(account=funded, low_balance_nanos=5 * USD, limit_emails=False, actor=funded.user)
    spend(funded, 6 * USD)
    scan()
    assert hook.received == []  # queued by the scan, sent by the delivery step
    assert webhooks_deliver() == (1, 0)
    [got] = hook.received
    assert signing.verify(secret, got.body, got.headers["promptgrid-signature"], now=int(time.time()))
    assert not signing.verify(
        "whsec_wrong", got.body, got.headers["promptgrid-signature"], now=int(time.time())
    )
    event = json.loads(got.body)
    assert event["type"] == "balance.low" and got.headers["promptgrid-event-id"] == event["id"]
    assert event["data"] == {"account_id": funded.pk, "available_nanos": 4 * USD, "threshold_nanos": 5 * USD}
    assert WebhookDelivery.objects.get().status == "delivered"


def test_failures_are_retried_with_backoff_under_the_same_event_id(owner, funded, hook, scan):
    _add_webhook(owner, hook.url)
    hook.statuses = [500, 503]
    key, _ = api_key_create(user=funded.user, name="ci", limit_nanos=USD)
    spend(funded, USD, key)
    scan()
    now = timezone.now()
    assert webhooks_deliver(now) == (0, 1)
    assert webhooks_deliver(now) == (0, 0)  # not due again yet
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code, delivery.status) == (1, 500, "pending")
    assert delivery.next_attempt_at >= now + backoff(1)
    assert webhooks_deliver(now + timedelta(seconds=31)) == (0, 1)
    assert webhooks_deliver(now + timedelta(seconds=31 + 61)) == (1, 0)
    ids = {r.headers["promptgrid-event-id"] for r in hook.received}
    assert len(hook.received) == 3 and len(ids) == 1
    assert json.loads(hook.received[-1].body)["data"]["level"] == 100
    assert backoff(1) == timedelta(seconds=30) and backoff(3) == timedelta(seconds=120)
    assert backoff(30) == timedelta(hours=6)


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_last_attempt(
    owner, funded, hook, scan, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    _add_webhook(owner, hook.url)
    hook.statuses = [500] * 5
    alert_settings_update(account=funded, low_balance_nanos=20 * USD, limit_emails=False, actor=funded.user)
    scan()
    later = timezone.now()
    for _ in range(4):
        later += timedelta(hours=7)
        webhooks_deliver(later)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    page = owner.get("/alerts/").content.decode()
    assert "Failed" in page and delivery.event_id in page and "HTTP 500" in page


def test_an_unreachable_receiver_is_logged_and_retried(owner, funded, hook, scan):
    _add_webhook(owner, "http://127.0.0.1:9/nothing-listens")
    alert_settings_update(account=funded, low_balance_nanos=20 * USD, limit_emails=False, actor=funded.user)
    scan()
    assert webhooks_deliver() == (0, 1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and "could not deliver" in delivery.last_error


def test_private_addresses_are_refused_unless_allowed(owner, settings, funded):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8000/x", "http://10.0.0.5/x", "http://localhost/x", "ftp://example.com/x"):
        page = owner.post("/alerts/", {"form": "webhook", "url": url})
        assert page.status_code == 400, url
    assert not WebhookEndpoint.objects.exists()


def test_a_new_secret_signs_from_then_on(owner, funded, hook, scan):
    first = _add_webhook(owner, hook.url)
    second = owner.post("/alerts/", {"form": "rotate"}).context["secret"]
    assert second != first
    alert_settings_update(account=funded, low_balance_nanos=20 * USD, limit_emails=False, actor=funded.user)
    scan()
    webhooks_deliver()
    got = hook.received[0]
    assert signing.verify(second, got.body, got.headers["promptgrid-signature"], now=int(time.time()))
    assert not signing.verify(first, got.body, got.headers["promptgrid-signature"], now=int(time.time()))


def test_the_page_sets_the_threshold_and_refuses_bad_input(owner, funded):
    assert (
        owner.post(
            "/alerts/", {"form": "settings", "low_balance_usd": "2.5", "limit_emails": "on"}
        ).status_code
        == 302
    )
    assert funded.alert_settings.low_balance_nanos == 2_500_000_000
    page = owner.post("/alerts/", {"form": "settings", "low_balance_usd": "-1"})
    assert page.status_code == 400 and "greater than or equal to 0" in page.content.decode()
    assert owner.post("/alerts/", {"form": "nonsense"}).status_code == 400
    assert AuditEntry.objects.filter(action="alerts.settings").count() == 1


def test_another_users_webhook_and_log_are_not_on_my_page(owner, funded, hook, scan):
    from billing import services

    stranger = services.account_for_user(
        user=type(funded.user).objects.create_user("x", "x@example.com", "pw")
    )
    other = Client()
    other.force_login(stranger.user)
    other.post("/alerts/", {"form": "webhook", "url": hook.url})
    page = owner.get("/alerts/").content.decode()
    assert hook.url not in page
    owner.post("/alerts/", {"form": "delete"})  # I have none: nothing of theirs is removed
    assert WebhookEndpoint.objects.filter(account=stranger).exists()


def test_pages_need_a_login_and_csrf(funded):
    assert Client().get("/alerts/").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(funded.user)
    assert strict.post("/alerts/", {"form": "settings", "low_balance_usd": "1"}).status_code == 403


def test_the_delivery_log_forgets_finished_deliveries_after_its_retention(
    owner, funded, hook, scan, settings
):
    from billing.alerts.delivery import webhooks_purge

    _add_webhook(owner, hook.url)
    alert_settings_update(account=funded, low_balance_nanos=20 * USD, limit_emails=False, actor=funded.user)
    scan()
    webhooks_deliver()
    assert webhooks_purge(timezone.now() + timedelta(days=29)) == 0
    assert webhooks_purge(timezone.now() + timedelta(days=31)) == 1
    assert not WebhookDelivery.objects.exists()


def test_the_audit_log_keeps_the_webhooks_host_not_its_secret_path(owner, funded, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    owner.post("/alerts/", {"form": "webhook", "url": "https://hooks.example.com/services/T0/B0/s3cr3tT0ken"})
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.new == {"url": "https://hooks.example.com/…"}


def test_a_test_event_checks_the_receiver(owner, funded, hook):
    secret = _add_webhook(owner, hook.url)
    assert owner.post("/alerts/", {"form": "ping"}).status_code == 302
    assert webhooks_deliver() == (1, 0)
    got = hook.received[0]
    assert json.loads(got.body)["type"] == "ping"
    assert signing.verify(secret, got.body, got.headers["promptgrid-signature"], now=int(time.time()))


def test_a_delivery_whose_sender_died_mid_attempt_is_sent_again(owner, funded, hook):
    """At least once: a claimed attempt that never recorded its answer is due again later."""
    from billing.alerts import delivery

    _add_webhook(owner, hook.url)
    owner.post("/alerts/", {"form": "ping"})
    now = timezone.now()
    assert len(delivery._claim(now, 10)) == 1  # claimed, then the process dies
    assert webhooks_deliver(now) == (0, 0)  # still claimed by the dead one
    assert webhooks_deliver(now + timedelta(seconds=121)) == (1, 0)


def test_a_host_that_resolves_to_a_private_address_is_refused_at_delivery(
    owner, funded, hook, settings, monkeypatch
):
    """Checked again at each attempt: a public name re-pointed to 127.0.0.1 gets nothing."""
    import socket

    _add_webhook(owner, hook.url.replace("127.0.0.1", "hooks.example.com"))
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("127.0.0.1", 0))])
    owner.post("/alerts/", {"form": "ping"})
    assert webhooks_deliver() == (0, 1)
    assert hook.received == []
    assert WebhookDelivery.objects.get().last_error == "The webhook must be on a public host."


def test_a_checked_address_is_the_one_connected_to():
    from billing.alerts.urlsafety import pinned

    assert pinned("https://hooks.example.com:8443/a?b=1", "93.184.215.14") == (
        "https://93.184.215.14:8443/a?b=1",
        {"Host": "hooks.example.com:8443"},
        {"sni_hostname": "hooks.example.com"},
    )
    assert pinned("http://hooks.example.com/a", "2606:2800::1")[0] == "http://[2606:2800::1]/a"
    assert pinned("http://127.0.0.1:9/a", None) == ("http://127.0.0.1:9/a", {}, {})


def test_the_post_goes_to_the_checked_address_with_the_hosts_name(owner, funded, hook, monkeypatch):
    from billing.alerts import delivery

    named = hook.url.replace("127.0.0.1", "hooks.example.com")
    _add_webhook(owner, named)
    # The name would resolve elsewhere; the attempt connects to the address that was checked.
    monkeypatch.setattr(delivery, "check_webhook_url", lambda url: "127.0.0.1")
    owner.post("/alerts/", {"form": "ping"})
    assert webhooks_deliver() == (1, 0)
    assert hook.received[0].headers["host"] == named.split("/")[2]
