"""A gateway worker killed with SIGKILL in the middle of a stream cannot settle: its hold stays
open until it expires, then ``release_expired_holds`` gives the money back, nothing is charged
for the lost request, and ``audit_ledger`` stays clean."""

from __future__ import annotations

import signal
import time
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Generation, Hold
from gateway.tests.faults.servers import gateway, requires_postgres

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), requires_postgres]

TTL = 10  # HOLD_TTL_SECONDS' minimum


def test_holds_of_a_killed_worker_are_released_by_the_sweep_and_the_ledger_stays_clean(
    make_customer, make_mock_model
):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    balance = customer.balance()
    body = {
        "model": "mock/echo",
        "messages": [{"role": "user", "content": " ".join(["word"] * 40)}],
        "stream": True,
        "mock_delay_ms": 500,
    }
    with gateway(HOLD_TTL_SECONDS=str(TTL)) as (url, worker):
        with httpx.stream(
            "POST", f"{url}/api/v1/chat/completions", json=body, headers=customer.headers, timeout=20
        ) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("data: {"))  # the stream has begun
            assert customer.held() > 0
            worker.send_signal(signal.SIGKILL)
            worker.wait(5)
            with pytest.raises(httpx.HTTPError):
                for _ in lines:
                    pass

    # The worker never settled: the hold is open, nothing charged, no answer recorded.
    hold = Hold.objects.get(account=customer.account)
    assert hold.status == Hold.Status.OPEN and customer.balance() == balance
    assert not Generation.objects.filter(api_key=customer.key).exists()
    out = StringIO()
    call_command("release_expired_holds", stdout=out)
    assert "Released 0" in out.getvalue()  # not before its ttl: the request might still be running

    time.sleep(max(0.0, (hold.expires_at - timezone.now()).total_seconds()) + 0.5)
    call_command("release_expired_holds", stdout=out)
    assert "Released 1 expired hold" in out.getvalue()
    hold.refresh_from_db()
    assert hold.status != Hold.Status.OPEN
    assert (customer.held(), customer.balance()) == (0, balance)
    call_command("audit_ledger", stdout=StringIO())  # raises on any violation
