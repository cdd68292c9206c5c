"""Factories for accounts tests: users, and keys made through the real service (with their secret)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from accounts.models import ApiKey
from accounts.services import api_key_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda o: o.email)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


def make_key(user: Any, name: str = "test key", **kwargs: Any) -> tuple[ApiKey, str]:
    """A key created the way the product creates them; returns ``(key, secret)``."""
    return api_key_create(user=user, name=name, **kwargs)
