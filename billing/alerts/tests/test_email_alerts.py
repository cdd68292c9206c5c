"""Emails go once per crossing (and per limit period), never once per request, and are
sent by the periodic scan, not by the request that crossed."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.services import api_key_create, api_key_update
from billing import services
from billing.alerts.scan import limit_level
from billing.alerts.services import alert_settings_update
from billing.alerts.tests.helpers import spend
from promptgrid.money import usd_to_nanos

USD = usd_to_nanos("1")


@pytest.fixture
def watched(funded):
    """$10 of credits; tell me below $5."""
    alert_settings_update(account=funded, low_balance_nanos=5 * USD, limit_emails=True, actor=funded.user)
    return funded


def test_levels_are_exact_to_the_nano():
    assert limit_level(799_999_999, 1_000_000_000) == 0
    assert limit_level(800_000_000, 1_000_000_000) == 80
    assert limit_level(999_999_999, 1_000_000_000) == 80
    assert limit_level(1_000_000_000, 1_000_000_000) == 100


def test_a_low_balance_is_emailed_once_however_many_requests_cross_it(watched, scan):
    for _ in range(4):  # $10 -> $6: above the threshold
        spend(watched, USD)
        scan()
    assert mail.outbox == []
    for _ in range(5):  # $6 -> $1: crossed once, then further below
        sent = len(mail.outbox)
        spend(watched, USD)
        assert len(mail.outbox) == sent  # the request that crosses never sends it
        scan()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [watched.user.email]
    assert "below $5.00" in message.subject and "$4.000000" in message.body  # as it was at the crossing


def test_a_top_up_re_arms_the_balance_alert(watched, scan):
    spend(watched, 6 * USD)
    scan()
    services.credits_grant(account=watched, amount_nanos=10 * USD)  # $14: recovered
    scan()
    assert len(mail.outbox) == 1
    spend(watched, 10 * USD)  # $4 again: a second crossing
    scan()
    scan()
    assert len(mail.outbox) == 2


def test_open_holds_count_against_the_available_balance(watched, scan):
    services.hold_place(account_id=watched.pk, amount_nanos=6 * USD, ttl_seconds=60)
    scan()
    assert len(mail.outbox) == 1


def test_no_threshold_no_email(funded, scan):
    spend(funded, 9 * USD)
    scan()
    assert mail.outbox == []


def test_a_key_is_emailed_at_80_and_100_percent_once_each(funded, scan):
    key, _ = api_key_create(user=funded.user, name="ci", limit_nanos=USD)
    for _ in range(7):
        spend(funded, USD // 10, key)
        scan()
    assert mail.outbox == []
    spend(funded, USD // 10, key)  # 80%
    scan()
    scan()
    spend(funded, USD // 10, key)  # 90%
    scan()
    assert [m.subject for m in mail.outbox] == ["PromptGrid: key “ci” has used 80% of its spend limit"]
    spend(funded, USD // 10, key)  # 100%
    scan()
    scan()
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject == "PromptGrid: key “ci” has reached its spend limit"
    assert "$1.000000 of $1.00" in mail.outbox[1].body


def test_raising_a_limit_re_arms_the_key_alerts(funded, scan):
    key, _ = api_key_create(user=funded.user, name="ci", limit_nanos=USD)
    spend(funded, USD, key)
    scan()
    api_key_update(key=key, limit_nanos=10 * USD)  # 10%: below every level again
    scan()
    spend(funded, 7 * USD, key)  # 80% of the new limit
    scan()
    assert [m.subject for m in mail.outbox] == [
        "PromptGrid: key “ci” has reached its spend limit",
        "PromptGrid: key “ci” has used 80% of its spend limit",
    ]


def test_a_new_period_alerts_again(funded, scan):
    key, _ = api_key_create(user=funded.user, name="daily", limit_nanos=USD, limit_reset="daily")
    spend(funded, USD * 8 // 10, key)
    scan()
    assert len(mail.outbox) == 1
    tomorrow = timezone.now() + timedelta(days=1)
    scan(tomorrow)  # nothing spent yet in the new day
    assert len(mail.outbox) == 1


def test_key_emails_can_be_turned_off(funded, scan):
    alert_settings_update(account=funded, low_balance_nanos=None, limit_emails=False, actor=funded.user)
    key, _ = api_key_create(user=funded.user, name="ci", limit_nanos=USD)
    spend(funded, USD, key)
    scan()
    assert mail.outbox == []


def test_the_command_sends_what_is_due(watched):
    spend(watched, 6 * USD)
    out = StringIO()
    call_command("send_alerts", stdout=out)
    assert len(mail.outbox) == 1
    assert out.getvalue().startswith("1 alert(s) fired, 1 email(s) sent")


def test_a_mail_server_that_is_down_delays_the_email_and_never_loses_or_doubles_it(watched, monkeypatch):
    from billing.alerts import scan as scanner
    from billing.alerts import services as alert_services
    from billing.alerts.models import AlertEmail

    spend(watched, 6 * USD)
    scanner.alerts_scan()

    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp is down")

    monkeypatch.setattr(alert_services, "send_mail", down)
    now = timezone.now()
    assert alert_services.alert_emails_send(now) == (0, 1)
    assert alert_services.alert_emails_send(now + timedelta(seconds=10)) == (0, 0)  # waiting
    monkeypatch.undo()
    scanner.alerts_scan()  # the alert itself is not fired again
    assert alert_services.alert_emails_send(now + timedelta(seconds=40)) == (1, 0)
    assert alert_services.alert_emails_send(now + timedelta(hours=1)) == (0, 0)
    assert len(mail.outbox) == 1 and AlertEmail.objects.get().attempts == 2


def test_a_scanner_with_an_older_snapshot_cannot_re_arm_a_sent_alert(db):
    """The decision reads the subject again once its state row is locked: a slow scanner
    whose snapshot predates the crossing must not record "below 80%" over a sent 80%
    (which would send it again at the next scan)."""
    from billing.alerts import scan as scanner
    from billing.alerts.models import AlertState

    AlertState.objects.create(subject="key:1", period="total", level=80)  # sent by a newer scanner
    before = scanner.Reading("key:1", "total", 0, 0)
    now = scanner.Reading("key:1", "total", 80, 800_000_000)
    fired = scanner._scan(
        ["as read before the spend"],
        read=lambda item: before if item == "as read before the spend" else now,
        refetch=lambda item: "as read now",
        fire=lambda item, reading: pytest.fail("sent twice"),
    )
    assert fired == 0
    assert AlertState.objects.get(subject="key:1").level == 80
