"""Redis goes down under a running gateway (a private redis-server, stopped by the test):
the gateway keeps serving from process memory, as the README says. Rate limits are then
counted per process, breakers too; /readyz reports Redis as failing (503)."""

from __future__ import annotations

import shutil

import httpx
import pytest

from gateway.tests.faults.servers import gateway, private_redis, requires_postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
    requires_postgres,
]

HELLO = {"model": "mock/echo", "messages": [{"role": "user", "content": "hello"}]}


def test_the_gateway_keeps_serving_with_limits_in_memory_when_redis_stops(
    tmp_path, make_customer, make_mock_model
):
    make_mock_model()
    customer = make_customer()
    limited = make_customer(rpm_limit=3)
    with (
        private_redis(tmp_path) as (port, redis),
        gateway(REDIS_URL=f"redis://127.0.0.1:{port}/0") as (url, _p),
    ):
        with httpx.Client(base_url=url, timeout=20) as client:
            assert (
                client.post("/api/v1/chat/completions", json=HELLO, headers=customer.headers).status_code
                == 200
            )
            assert client.get("/readyz").status_code == 200

            redis.terminate()
            redis.wait(10)

            answers = [
                client.post("/api/v1/chat/completions", json=HELLO, headers=customer.headers)
                for _ in range(5)
            ]
            assert [a.status_code for a in answers] == [200] * 5, answers[-1].text
            stream = client.post(
                "/api/v1/chat/completions", json={**HELLO, "stream": True}, headers=customer.headers
            )
            assert stream.status_code == 200 and "data: [DONE]" in stream.text
            assert client.get("/api/v1/models").status_code == 200
            assert client.get("/api/v1/key", headers=customer.headers).status_code == 200

            # The key's 3 requests a minute still hold, counted in this process.
            statuses = [
                client.post("/api/v1/chat/completions", json=HELLO, headers=limited.headers).status_code
                for _ in range(4)
            ]
            assert statuses == [200, 200, 200, 429]

            ready = client.get("/readyz")
            assert ready.status_code == 503 and "redis" in ready.text.lower()
