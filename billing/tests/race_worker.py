"""A second process for the concurrency tests: hold attempts against the test database.

Usage: python -m billing.tests.race_worker '{"account_id": 1, "amount": 1000, "threads": 5,
"attempts": 4, "mode": "real" | "naive", "start_at": <unix time>}' with DATABASE_URL set to
the test database; an optional "api_key_id" places the real holds with that key (an
organisation member's, say). Prints {"ok": n, "refused": m, "errors": [...]} as JSON.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    args = json.loads(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.test_settings")
    import django

    django.setup()
    from billing import services
    from billing.tests.races import concurrently, naive_hold_place

    place = services.hold_place if args["mode"] == "real" else naive_hold_place

    key = {"api_key_id": args["api_key_id"]} if args.get("api_key_id") and args["mode"] == "real" else {}

    def attempt() -> object:
        return place(account_id=args["account_id"], amount_nanos=args["amount"], ttl_seconds=600, **key)

    results = concurrently(
        attempt, threads=args["threads"], attempts=args["attempts"], start_at=args["start_at"]
    )
    refused = [r for r in results if isinstance(r, services.BillingError)]
    errors = [
        repr(r) for r in results if isinstance(r, Exception) and not isinstance(r, services.BillingError)
    ]
    print(
        json.dumps(
            {"ok": len(results) - len(refused) - len(errors), "refused": len(refused), "errors": errors}
        )
    )


if __name__ == "__main__":
    main()
