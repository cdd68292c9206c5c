"""Factories for the dashboard tests: users with credit accounts, keys, generations."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import ApiKey
from billing.models import Generation
from catalog.models import Endpoint, Model, Provider

_seq = itertools.count()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-123")


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"key {n}")
    secret_hash = factory.Sequence(lambda n: f"{n:064d}")
    masked = factory.Sequence(lambda n: f"pg-v1-{n:03d}…abcd")


class GenerationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Generation

    id = factory.LazyFunction(lambda: f"gen-test-{next(_seq):08d}")
    user = factory.SubFactory(UserFactory)
    api_key = factory.SubFactory(ApiKeyFactory, user=factory.SelfAttribute("..user"))
    model_slug = "mock/echo"
    provider_slug = "mock"
    provider_name = "Mock"
    status = Generation.Status.SUCCESS
    prompt_tokens = 10
    completion_tokens = 5
    cost_nanos = 1_000
    latency_ms = 100
    ttft_ms = 20
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))


def catalog_with_mock() -> Model:
    provider, _ = Provider.objects.get_or_create(slug="mock", defaults={"name": "Mock", "protocol": "mock"})
    model, _ = Model.objects.get_or_create(
        slug="mock/echo",
        defaults={
            "name": "Mock Echo",
            "context_length": 32_000,
            "supported_parameters": ["tools", "temperature"],
            "input_modalities": ["text"],
            "output_modalities": ["text"],
        },
    )
    Endpoint.objects.get_or_create(
        model=model,
        provider=provider,
        upstream_model="echo",
        defaults={"input_price": Decimal("0.10"), "output_price": Decimal("0.20")},
    )
    return model
