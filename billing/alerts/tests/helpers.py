from __future__ import annotations

from billing import services
from billing.tests.factories import generation_for


def spend(account, nanos: int, key=None) -> None:
    """One request's charge, as the gateway makes it: a hold, then its settlement."""
    gen = generation_for(account, cost_nanos=nanos)
    if key is not None:
        type(gen).objects.filter(pk=gen.pk).update(api_key=key)
    hold = services.hold_place(
        account_id=account.pk, amount_nanos=nanos, ttl_seconds=60, api_key_id=key.pk if key else None
    )
    services.hold_settle(hold_id=hold.id, cost_nanos=nanos, generation_id=gen.id)
