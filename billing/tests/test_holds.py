from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create
from billing import services
from billing.models import CreditAccount, Hold, LedgerEntry, Shortfall
from billing.tests.factories import generation_for


@pytest.fixture
def small(account):
    services.credits_grant(account=account, amount_nanos=1000, idempotency_key="seed")
    return account


def _account(pk):
    return CreditAccount.objects.get(pk=pk)


def test_hold_refused_when_available_balance_is_short(small):
    services.hold_place(account_id=small.pk, amount_nanos=600, ttl_seconds=60)
    with pytest.raises(services.InsufficientCredits):
        services.hold_place(account_id=small.pk, amount_nanos=600, ttl_seconds=60)
    assert _account(small.pk).held_nanos == 600


def test_hold_for_the_whole_available_balance_is_allowed(small):
    services.hold_place(account_id=small.pk, amount_nanos=1000, ttl_seconds=60)
    with pytest.raises(services.InsufficientCredits):
        services.hold_place(account_id=small.pk, amount_nanos=1, ttl_seconds=60)


def test_settle_charges_actual_cost_once(small):
    gen = generation_for(small)
    hold = services.hold_place(account_id=small.pk, amount_nanos=500, ttl_seconds=60)
    services.hold_settle(hold_id=hold.id, cost_nanos=123, generation_id=gen.id)
    services.hold_settle(hold_id=hold.id, cost_nanos=123, generation_id=gen.id)
    account = _account(small.pk)
    assert (account.balance_nanos, account.held_nanos) == (877, 0)
    assert LedgerEntry.objects.filter(kind="usage").count() == 1


def test_settle_charges_no_more_than_the_hold_and_records_the_rest_as_a_shortfall(small):
    gen = generation_for(small)
    hold = services.hold_place(account_id=small.pk, amount_nanos=100, ttl_seconds=60)
    entry = services.hold_settle(hold_id=hold.id, cost_nanos=400, generation_id=gen.id)
    assert entry.amount_nanos == -100
    assert (_account(small.pk).balance_nanos, _account(small.pk).held_nanos) == (900, 0)
    shortfall = Shortfall.objects.get()
    assert (shortfall.kind, shortfall.generation_id, shortfall.amount_nanos) == ("over_hold", gen.id, 300)
    assert (shortfall.account_id, shortfall.hold_id) == (small.pk, hold.id)
    # Settling again changes nothing and records nothing more.
    services.hold_settle(hold_id=hold.id, cost_nanos=400, generation_id=gen.id)
    assert Shortfall.objects.count() == 1 and _account(small.pk).balance_nanos == 900


def test_a_charge_never_takes_a_balance_below_zero_even_when_the_hold_is_gone(small):
    gen = generation_for(small)
    hold = services.hold_place(account_id=small.pk, amount_nanos=900, ttl_seconds=60)
    _expire(hold.id)
    services.holds_release_expired()
    services.hold_place(account_id=small.pk, amount_nanos=700, ttl_seconds=60)  # the money moved on
    services.hold_settle(hold_id=hold.id, cost_nanos=900, generation_id=gen.id)
    account = _account(small.pk)
    assert (account.balance_nanos, account.held_nanos) == (700, 700)  # charged the 300 available
    assert Shortfall.objects.get().amount_nanos == 600


def test_a_late_charge_stops_at_the_keys_limit(small):
    key, _ = api_key_create(user=small.user, name="capped", limit_nanos=500)
    gen = generation_for(small)
    hold = services.hold_place(account_id=small.pk, amount_nanos=400, ttl_seconds=60, api_key_id=key.pk)
    _expire(hold.id)
    services.holds_release_expired()
    services.hold_place(account_id=small.pk, amount_nanos=300, ttl_seconds=60, api_key_id=key.pk)
    services.hold_settle(hold_id=hold.id, cost_nanos=400, generation_id=gen.id)
    key.refresh_from_db()
    assert (key.usage_nanos, key.held_nanos) == (200, 300)  # 500 - 300 held: 200 left to charge
    assert _account(small.pk).balance_nanos == 800
    assert Shortfall.objects.get().amount_nanos == 200


def test_settling_a_second_hold_for_the_same_generation_charges_nothing_more(small):
    key, _ = api_key_create(user=small.user, name="k")
    gen = generation_for(small)
    first = services.hold_place(account_id=small.pk, amount_nanos=200, ttl_seconds=60, api_key_id=key.pk)
    second = services.hold_place(account_id=small.pk, amount_nanos=200, ttl_seconds=60, api_key_id=key.pk)
    services.hold_settle(hold_id=first.id, cost_nanos=150, generation_id=gen.id)
    services.hold_settle(hold_id=second.id, cost_nanos=150, generation_id=gen.id)
    key.refresh_from_db()
    assert _account(small.pk).balance_nanos == 850
    assert (key.usage_nanos, key.held_nanos) == (150, 0)


def test_zero_cost_settles_without_an_entry(small):
    hold = services.hold_place(account_id=small.pk, amount_nanos=300, ttl_seconds=60)
    assert services.hold_settle(hold_id=hold.id, cost_nanos=0, generation_id="gen-empty") is None
    assert LedgerEntry.objects.filter(kind="usage").count() == 0
    assert _account(small.pk).held_nanos == 0


def test_release_gives_the_hold_back_once(small):
    hold = services.hold_place(account_id=small.pk, amount_nanos=300, ttl_seconds=60)
    assert services.hold_release(hold_id=hold.id) is True
    assert services.hold_release(hold_id=hold.id) is False
    assert _account(small.pk).held_nanos == 0
    assert services.hold_release(hold_id=999_999) is False


def _expire(hold_id):
    Hold.objects.filter(pk=hold_id).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_expired_holds_are_released_before_a_new_hold(small):
    old = services.hold_place(account_id=small.pk, amount_nanos=900, ttl_seconds=60)
    _expire(old.id)
    services.hold_place(account_id=small.pk, amount_nanos=900, ttl_seconds=60)
    assert Hold.objects.get(pk=old.id).status == Hold.Status.EXPIRED
    assert _account(small.pk).held_nanos == 900


def test_release_expired_holds_command_releases_only_expired_holds(small, capsys):
    key, _ = api_key_create(user=small.user, name="k")
    old = services.hold_place(account_id=small.pk, amount_nanos=400, ttl_seconds=60, api_key_id=key.pk)
    services.hold_place(account_id=small.pk, amount_nanos=100, ttl_seconds=60)
    _expire(old.id)
    call_command("release_expired_holds")
    assert "Released 1 expired hold(s)." in capsys.readouterr().out
    key.refresh_from_db()
    assert (_account(small.pk).held_nanos, key.held_nanos) == (100, 0)


def test_an_expired_hold_settled_late_is_still_charged(small):
    gen = generation_for(small)
    hold = services.hold_place(account_id=small.pk, amount_nanos=400, ttl_seconds=60)
    _expire(hold.id)
    services.holds_release_expired()
    services.hold_settle(hold_id=hold.id, cost_nanos=250, generation_id=gen.id)
    account = _account(small.pk)
    assert (account.balance_nanos, account.held_nanos) == (750, 0)


def test_key_spend_limit_refuses_a_hold_past_it_and_keeps_the_account_untouched(small):
    key, _ = api_key_create(user=small.user, name="capped", limit_nanos=500)
    services.hold_place(account_id=small.pk, amount_nanos=300, ttl_seconds=60, api_key_id=key.pk)
    with pytest.raises(services.KeyLimitReached):
        services.hold_place(account_id=small.pk, amount_nanos=300, ttl_seconds=60, api_key_id=key.pk)
    key.refresh_from_db()
    assert (key.held_nanos, _account(small.pk).held_nanos) == (300, 300)


def test_key_spend_counts_settled_usage(small):
    key, _ = api_key_create(user=small.user, name="capped", limit_nanos=500)
    gen = generation_for(small)
    hold = services.hold_place(account_id=small.pk, amount_nanos=400, ttl_seconds=60, api_key_id=key.pk)
    services.hold_settle(hold_id=hold.id, cost_nanos=400, generation_id=gen.id)
    with pytest.raises(services.KeyLimitReached):
        services.hold_place(account_id=small.pk, amount_nanos=101, ttl_seconds=60, api_key_id=key.pk)
    services.hold_place(account_id=small.pk, amount_nanos=100, ttl_seconds=60, api_key_id=key.pk)


def test_daily_key_limit_resets_at_midnight_utc(small):
    key, _ = api_key_create(user=small.user, name="daily", limit_nanos=500, limit_reset=ApiKey.Reset.DAILY)
    yesterday = timezone.now() - timedelta(days=1)
    ApiKey.objects.filter(pk=key.pk).update(period_usage_nanos=500, usage_nanos=500, period_start=yesterday)
    services.hold_place(account_id=small.pk, amount_nanos=500, ttl_seconds=60, api_key_id=key.pk)
    key.refresh_from_db()
    assert key.period_usage_nanos == 0
    assert key.usage_nanos == 500
    assert key.period_start.hour == 0


def test_monthly_key_limit_holds_within_the_month(small):
    monthly = ApiKey.Reset.MONTHLY
    key, _ = api_key_create(user=small.user, name="monthly", limit_nanos=500, limit_reset=monthly)
    services.hold_place(account_id=small.pk, amount_nanos=200, ttl_seconds=60, api_key_id=key.pk)
    ApiKey.objects.filter(pk=key.pk).update(period_usage_nanos=300)
    with pytest.raises(services.KeyLimitReached):
        services.hold_place(account_id=small.pk, amount_nanos=1, ttl_seconds=60, api_key_id=key.pk)


def test_negative_amounts_are_refused(small):
    with pytest.raises(ValueError):
        services.hold_place(account_id=small.pk, amount_nanos=-1, ttl_seconds=60)
    hold = services.hold_place(account_id=small.pk, amount_nanos=10, ttl_seconds=60)
    with pytest.raises(ValueError):
        services.hold_settle(hold_id=hold.id, cost_nanos=-5, generation_id="g")
    services.hold_release(hold_id=hold.id)


def test_weekly_key_limit_resets_on_monday(small):
    weekly = ApiKey.Reset.WEEKLY
    key, _ = api_key_create(user=small.user, name="weekly", limit_nanos=500, limit_reset=weekly)
    last_week = timezone.now() - timedelta(days=7)
    ApiKey.objects.filter(pk=key.pk).update(period_usage_nanos=500, period_start=last_week)
    services.hold_place(account_id=small.pk, amount_nanos=500, ttl_seconds=60, api_key_id=key.pk)
    key.refresh_from_db()
    assert key.period_usage_nanos == 0
    assert key.period_start.weekday() == 0 and key.period_start.hour == 0
