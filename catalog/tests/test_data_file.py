"""The shipped catalog data file and the script that derives it."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from catalog.data import derive
from catalog.services import DATA_FILE

OPENROUTER_PARAMETERS = {
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "max_tokens", "max_completion_tokens", "logit_bias", "logprobs", "top_logprobs",
    "prediction", "seed", "response_format", "structured_outputs", "stop", "tools", "tool_choice",
    "parallel_tool_calls", "include_reasoning", "reasoning", "reasoning_effort", "web_search_options",
    "verbosity",
}  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def test_data_file_has_at_least_30_real_chat_models_of_the_three_providers(data):
    real = [m for m in data["models"] if m["provider"] != "mock"]
    assert len(real) >= 30
    assert {m["provider"] for m in real} == {"openai", "anthropic", "google"}
    ids = {m["id"] for m in data["models"]}
    assert {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "google/gemini-2.5-flash"} <= ids
    assert {"mock/echo", "mock/lorem"} <= ids
    assert len(ids) == len(data["models"])


def test_data_file_prices_are_exact_short_decimals(data):
    for model in data["models"]:
        for name, text in model["prices"].items():
            value = Decimal(text)
            assert value >= 0, (model["id"], name)
            # No float artefacts (0.15000000000000002) and within the catalog's 6 places.
            assert value == value.quantize(Decimal("0.000001")), (model["id"], name, text)
            assert "e" not in text.lower() and len(text) <= 12, (model["id"], name, text)


def test_data_file_limits_modalities_and_parameters_are_usable(data):
    for model in data["models"]:
        assert "text" in model["input_modalities"], model["id"]
        assert set(model["supported_parameters"]) <= OPENROUTER_PARAMETERS, model["id"]
        if model["output_modalities"] == ["embeddings"]:  # served at /embeddings: no output to cap
            assert model["context_length"] > 0 and model["max_output_tokens"] == 0, model["id"]
            assert Decimal(model["prices"]["input"]) > 0 and model["prices"]["output"] == "0"
            continue
        assert model["context_length"] > 0 and model["max_output_tokens"] > 0, model["id"]
        assert model["output_modalities"] == ["text"]
        assert "max_tokens" in model["supported_parameters"]


def test_derive_prices_embedding_models_per_input_token_and_drops_deprecated_ones(monkeypatch):
    monkeypatch.setattr(
        derive, "CURATED_EMBEDDINGS", [("google/gemini-embedding-2", "gemini/gemini-embedding-2")]
    )
    monkeypatch.setattr(derive, "CURATED", [])
    source = {
        "gemini/gemini-embedding-2": {
            "litellm_provider": "gemini",
            "mode": "embedding",
            "input_cost_per_token": 2e-07,
            "output_cost_per_token": 0,
            "max_input_tokens": 8192,
            "output_vector_size": 3072,
        }
    }
    [model] = [m for m in derive.derive(source, dt.date(2026, 1, 1))["models"] if m["provider"] != "mock"]
    assert model["id"] == "google/gemini-embedding-2" and model["upstream_model"] == "gemini-embedding-2"
    assert model["output_modalities"] == ["embeddings"] and model["context_length"] == 8192
    assert model["prices"]["input"] == "0.2" and model["prices"]["output"] == "0"
    source["gemini/gemini-embedding-2"]["deprecation_date"] = "2025-06-01"
    assert [m for m in derive.derive(source, dt.date(2026, 1, 1))["models"] if m["provider"] != "mock"] == []


def test_data_file_ships_embedding_models_of_openai_google_and_mock_at_their_prices(data):
    embedding = {m["id"]: m for m in data["models"] if m["output_modalities"] == ["embeddings"]}
    assert {"openai/text-embedding-3-small", "google/gemini-embedding-001", "mock/embed"} <= set(embedding)
    # LiteLLM's list: $0.02 and $0.15 per million input tokens.
    assert embedding["openai/text-embedding-3-small"]["prices"]["input"] == "0.02"
    assert embedding["google/gemini-embedding-001"]["prices"]["input"] == "0.15"
    assert embedding["google/gemini-embedding-001"]["upstream_model"] == "gemini-embedding-001"


def test_per_million_goes_through_the_float_repr_not_float_arithmetic():
    assert derive.per_million(1.5e-07) == "0.15"  # 1.5e-07 * 1e6 == 0.15000000000000002 as a float
    assert derive.per_million(3e-06) == "3"
    assert derive.per_million(1.25e-05) == "12.5"
    assert derive.per_million(5e-09) == "0.005"
    assert derive.per_million(0) == "0"
    assert derive.per_million(None) is None
    with pytest.raises(ValueError):
        derive.per_million(-1e-06)
    with pytest.raises(ValueError):
        derive.per_million("0.000001")


def test_derive_maps_names_prefixes_and_drops_deprecated_models(monkeypatch):
    monkeypatch.setattr(
        derive,
        "CURATED",
        [("google/gemini-9-flash", "gemini/gemini-9-flash"), ("openai/gpt-old", "gpt-old")],
    )
    monkeypatch.setattr(derive, "CURATED_EMBEDDINGS", [])
    source = {
        "gemini/gemini-9-flash": {
            "litellm_provider": "gemini",
            "mode": "chat",
            "input_cost_per_token": 3e-07,
            "output_cost_per_token": 2.5e-06,
            "max_input_tokens": 1048576,
            "max_output_tokens": 65536,
            "supports_vision": True,
            "supports_function_calling": True,
        },
        "gpt-old": {
            "litellm_provider": "openai",
            "mode": "chat",
            "deprecation_date": "2020-01-01",
            "input_cost_per_token": 1e-06,
            "output_cost_per_token": 2e-06,
        },
    }
    result = derive.derive(source, dt.date(2026, 1, 1))
    real = [m for m in result["models"] if m["provider"] != "mock"]
    assert [m["id"] for m in real] == ["google/gemini-9-flash"]
    model = real[0]
    assert model["upstream_model"] == "gemini-9-flash"
    assert model["provider"] == "google"
    assert model["name"] == "Google: Gemini 9 Flash"
    assert model["prices"] == {
        "input": "0.3",
        "output": "2.5",
        "cache_read": "0.3",  # no separate cache price: cached tokens cost the input price
        "cache_write": "0.3",
        "request": "0",
    }
    assert model["input_modalities"] == ["text", "image"]
    assert "tools" in model["supported_parameters"]
