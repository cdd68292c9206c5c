"""Model aliases: the shipped names file, seeding, the admin and the model's page."""

from __future__ import annotations

import pytest

from catalog.models import Model, ModelAlias
from catalog.services import NAMES_FILE, catalog_data, catalog_seed
from catalog.snapshot import build_snapshot
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_shipped_names_point_at_shipped_models():
    slugs = {m["id"] for m in catalog_data()["models"]}
    names = catalog_data(NAMES_FILE)
    for group in ("aliases", "snapshots", "retired"):
        missing = {name: slug for name, slug in names[group].items() if slug not in slugs}
        assert not missing, group
    folded = [n.lower() for group in ("aliases", "snapshots", "retired") for n in names[group]]
    assert len(folded) == len(set(folded))  # names are unique ignoring case


def test_seeding_creates_aliases_once_and_keeps_operator_edits():
    report = catalog_seed()
    names = catalog_data(NAMES_FILE)
    assert report.aliases_created == sum(len(names[k]) for k in ("aliases", "snapshots", "retired"))
    dated = ModelAlias.objects.get(name="claude-sonnet-4-5-20250929")
    assert dated.model.slug == "anthropic/claude-sonnet-4-5" and dated.kind == "snapshot"
    ModelAlias.objects.filter(name="chatgpt-4o-latest").delete()
    assert catalog_seed().aliases_created == 1  # a deleted one comes back only on seeding
    ModelAlias.objects.filter(name="gpt-4o-2024-08-06").update(model=Model.objects.get(slug="openai/gpt-4.1"))
    catalog_seed()
    assert ModelAlias.objects.get(name="gpt-4o-2024-08-06").model.slug == "openai/gpt-4.1"


def test_snapshot_resolves_names_in_order():
    catalog_seed()
    snap = build_snapshot()
    assert snap.lookup("openai/gpt-4o-mini").slugs == ("openai/gpt-4o-mini",)
    assert snap.lookup("gpt-4o-mini").slugs == ("openai/gpt-4o-mini",)
    assert snap.lookup("GPT-4O-2024-08-06").slugs == ("openai/gpt-4o",)
    retired = snap.lookup("claude-3-opus-20240229")
    assert retired.retired and retired.slugs == ("anthropic/claude-opus-4-5",)
    assert snap.lookup("no-such-model") is None
    assert "claude-sonnet-4-5-20250929" in snap.models["anthropic/claude-sonnet-4-5"].aliases


def test_model_page_shows_its_aliases_but_not_retired_names(client):
    catalog_seed()
    client.force_login(UserFactory())
    body = client.get("/models/anthropic/claude-opus-4-5/").content.decode()
    assert "claude-opus-4-5-20251101" in body and "claude-opus-4.5" in body
    assert "claude-3-opus-20240229" not in body


def test_alias_admin_lists_and_adds(admin_client):
    catalog_seed()
    assert "claude-sonnet-4-5-20250929" in admin_client.get("/admin/catalog/modelalias/").content.decode()
    model = Model.objects.get(slug="openai/gpt-4o")
    response = admin_client.post(
        "/admin/catalog/modelalias/add/", {"name": "my-gpt", "model": model.pk, "kind": "alias"}
    )
    assert response.status_code == 302
    assert build_snapshot().lookup("MY-GPT").slugs == ("openai/gpt-4o",)
