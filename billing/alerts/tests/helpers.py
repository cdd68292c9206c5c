from __future__ import annotations

import uuid

from django.utils import timezone

from billing import services
from billing.models import Generation


def spend(account, nanos: int, key=None) -> None:
    """One request's charge, as the gateway makes it: a hold, then its settlement."""
    gen = Generation.objects.create(
        id=f"gen-{uuid.uuid4().hex}",
        user_id=key.user_id if key is not None else account.user_id,  # an organisation's member
        api_key=key,
        model_slug="mock/echo",
        status=Generation.Status.SUCCESS,
        cost_nanos=nanos,
        created_at=timezone.now(),
    )
    hold = services.hold_place(
        account_id=account.pk, amount_nanos=nanos, ttl_seconds=60, api_key_id=key.pk if key else None
    )
    services.hold_settle(hold_id=hold.id, cost_nanos=nanos, generation_id=gen.id)
