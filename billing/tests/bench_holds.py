"""Not a test: how fast one process can place and settle holds (the billing part of a request).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pg_billing python -m billing.tests.bench_holds 2000

Migrates the database named by DATABASE_URL, creates a throwaway user, then times
``hold_place`` + ``hold_settle`` (with its Generation row, as the gateway writes it) in
one thread, and prints the median and p99 per cycle.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.test_settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from billing import services
    from billing.tests.factories import UserFactory, generation_for

    user = UserFactory(username=f"bench-{uuid.uuid4().hex}@example.com")
    account = services.account_for_user(user=user)
    services.credits_grant(account=account, amount_nanos=10**15)
    timings = []
    for _ in range(cycles):
        start = time.perf_counter()
        hold = services.hold_place(account_id=account.pk, amount_nanos=2_000_000, ttl_seconds=600)
        gen = generation_for(account)
        services.hold_settle(hold_id=hold.id, cost_nanos=1_234_567, generation_id=gen.id)
        timings.append(time.perf_counter() - start)
    timings.sort()
    median = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99) - 1] * 1000
    print(f"{cycles} cycles: median {median:.2f} ms, p99 {p99:.2f} ms, {cycles / sum(timings):.0f} cycles/s")


if __name__ == "__main__":
    main()
