from __future__ import annotations

from decimal import Decimal

import factory

from catalog.models import Endpoint, Model, Provider


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"provider{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    protocol = Provider.Protocol.MOCK
    base_url = ""
    api_key = ""


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Model

    slug = factory.Sequence(lambda n: f"test/model-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.split("/")[-1].title())
    description = "A test model."
    context_length = 32768
    max_output_tokens = 4096
    input_modalities = factory.LazyFunction(lambda: ["text"])
    output_modalities = factory.LazyFunction(lambda: ["text"])
    supported_parameters = factory.LazyFunction(lambda: ["max_tokens", "temperature"])


class EndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Endpoint

    model = factory.SubFactory(ModelFactory)
    provider = factory.SubFactory(ProviderFactory)
    upstream_model = factory.LazyAttribute(lambda o: o.model.slug.split("/")[-1])
    input_price = Decimal("1")
    output_price = Decimal("2")
    cache_read_price = Decimal("0.5")
    cache_write_price = Decimal("1.25")
