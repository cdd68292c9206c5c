"""Which endpoints the gateway may route to, and how fast catalog edits reach it."""

from decimal import Decimal

import pytest

from catalog.models import Provider
from catalog.snapshot import build_snapshot, get_snapshot
from catalog.tests.factories import EndpointFactory, ModelFactory, ProviderFactory


def _provider(slug, protocol, api_key=""):
    return ProviderFactory(
        slug=slug, protocol=protocol, api_key=api_key, base_url="https://upstream.invalid/v1"
    )


@pytest.mark.django_db
def test_real_provider_without_a_key_is_listed_but_not_routable(settings):
    settings.PROVIDER_ENV = {"openai": {"api_key": "", "base_url": ""}}
    EndpointFactory(
        model=ModelFactory(slug="openai/gpt-x"), provider=_provider("openai", Provider.Protocol.OPENAI)
    )
    info = build_snapshot().models["openai/gpt-x"]
    assert info.endpoints == ()
    assert info.listing is not None and info.listing.input_price == Decimal("1")


@pytest.mark.django_db
def test_real_provider_with_a_stored_key_is_routable(settings):
    settings.PROVIDER_ENV = {}
    provider = _provider("openai", Provider.Protocol.OPENAI, api_key="sk-stored-0000")
    EndpointFactory(model=ModelFactory(slug="openai/gpt-x"), provider=provider)
    (endpoint,) = build_snapshot().models["openai/gpt-x"].endpoints
    assert endpoint.target.api_key == "sk-stored-0000"


@pytest.mark.django_db
def test_environment_key_and_base_url_override_the_record(settings):
    settings.PROVIDER_ENV = {"anthropic": {"api_key": "sk-ant-env", "base_url": "http://127.0.0.1:9/"}}
    provider = _provider("anthropic", Provider.Protocol.ANTHROPIC, api_key="sk-ant-record")
    EndpointFactory(model=ModelFactory(slug="anthropic/claude-x"), provider=provider)
    (endpoint,) = build_snapshot().models["anthropic/claude-x"].endpoints
    assert (endpoint.target.api_key, endpoint.target.base_url) == ("sk-ant-env", "http://127.0.0.1:9/")


@pytest.mark.django_db
def test_environment_key_alone_makes_a_keyless_provider_routable(settings):
    settings.PROVIDER_ENV = {"google": {"api_key": "env-gemini-key", "base_url": ""}}
    EndpointFactory(model=ModelFactory(slug="google/gemini-x"), provider=_provider("google", "google"))
    (endpoint,) = build_snapshot().models["google/gemini-x"].endpoints
    assert endpoint.target.api_key == "env-gemini-key"
    assert endpoint.target.base_url == "https://upstream.invalid/v1"  # record kept where env is blank


@pytest.mark.django_db
def test_mock_provider_needs_no_key():
    EndpointFactory(model=ModelFactory(slug="mock/echo"), provider=_provider("mock", Provider.Protocol.MOCK))
    assert len(build_snapshot().models["mock/echo"].endpoints) == 1


@pytest.mark.django_db
def test_routable_endpoints_come_first_in_priority_order(settings):
    settings.PROVIDER_ENV = {}
    model = ModelFactory(slug="mock/multi")
    keyless = _provider("openai", Provider.Protocol.OPENAI)
    EndpointFactory(model=model, provider=keyless, priority=0, input_price=Decimal("9"))
    EndpointFactory(model=model, provider=_provider("mock", "mock"), priority=2, upstream_model="b")
    EndpointFactory(model=model, provider=_provider("mock2", "mock"), priority=1, upstream_model="a")
    info = build_snapshot().models["mock/multi"]
    assert [e.target.upstream_model for e in info.endpoints] == ["a", "b"]
    assert info.listing is info.endpoints[0]  # listings price what would actually be used


@pytest.mark.django_db
def test_an_admin_save_reaches_a_process_holding_a_cached_snapshot(
    settings, django_capture_on_commit_callbacks
):
    settings.CATALOG_CACHE_SECONDS = 3600
    endpoint = EndpointFactory(model=ModelFactory(slug="mock/echo"), provider=_provider("mock", "mock"))
    assert get_snapshot().models["mock/echo"].endpoints[0].output_price == Decimal("2")

    from catalog import snapshot

    # Simulate another process: its local snapshot is not dropped, only the shared version moves.
    cached = snapshot._snapshot
    with django_capture_on_commit_callbacks(execute=True):
        endpoint.output_price = Decimal("5")
        endpoint.save()
    snapshot._snapshot = cached
    cached.built_at -= 3600  # its trust period ran out; it checks the shared version
    assert get_snapshot().models["mock/echo"].endpoints[0].output_price == Decimal("5")


@pytest.mark.django_db
def test_version_is_published_only_after_commit(django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from catalog.snapshot import VERSION_KEY

    before = cache.get(VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        EndpointFactory(model=ModelFactory(slug="mock/echo"), provider=_provider("mock", "mock"))
        assert cache.get(VERSION_KEY) == before
    assert callbacks  # the bump waits for the commit


@pytest.mark.django_db
def test_an_unchanged_catalog_is_not_rebuilt_when_its_trust_period_ends(settings, monkeypatch):
    from django.core.cache import cache

    from catalog import snapshot

    settings.CATALOG_CACHE_SECONDS = 60
    EndpointFactory(model=ModelFactory(slug="mock/echo"), provider=_provider("mock", "mock"))
    cache.clear()  # as on a fresh cache: no version was ever published
    snapshot.invalidate_local()
    builds = []
    real_build = snapshot.build_snapshot
    monkeypatch.setattr(
        snapshot, "build_snapshot", lambda version=None: builds.append(1) or real_build(version)
    )

    first = get_snapshot()
    first.built_at -= 120  # the trust period ran out
    assert get_snapshot() is first
    assert len(builds) == 1
