from __future__ import annotations

import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    password = factory.django.Password("correct horse battery staple")


def generation_for(account, generation_id: str | None = None, cost_nanos: int = 0):
    """The Generation row a usage entry charges (the audit requires it to exist)."""
    from billing.models import Generation

    return Generation.objects.create(
        id=generation_id or f"gen-{uuid.uuid4().hex}",
        user_id=account.user_id,
        model_slug="mock/echo",
        status=Generation.Status.SUCCESS,
        cost_nanos=cost_nanos,
        created_at=timezone.now(),
    )
