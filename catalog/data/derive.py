"""Derive ``catalog/data/models.json`` from a LiteLLM-format price list.

Run by hand when prices change upstream, review the diff, commit the result:

    python catalog/data/derive.py path/to/model_prices.json [--as-of YYYY-MM-DD] > catalog/data/models.json

The project never reads the source list at run time; ``seed_catalog`` reads only
the derived file. The source gives per-token USD costs as JSON floats; they are
turned into exact decimal strings in USD per million tokens by going through
the float's shortest ``repr`` (``1.5e-07`` → ``"0.15"``), never through float
arithmetic, so no ``0.15000000000000002`` can appear.

Which models are listed is a reviewed choice (``CURATED``): current chat models
only, by their alias rather than a dated snapshot; no fine-tunes, audio,
realtime, search, TTS or computer-use previews. A curated model whose
``deprecation_date`` is before ``--as-of`` is dropped with a warning on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

MILLION = Decimal(1_000_000)
PRICE_PLACES = Decimal("0.000001")  # the catalog stores 6 decimals per million tokens

# (public id, key in the source list). The upstream model name is the key
# without its ``gemini/`` routing prefix.
CURATED: list[tuple[str, str]] = [
    # OpenAI
    ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ("openai/gpt-4o", "gpt-4o"),
    ("openai/gpt-4.1", "gpt-4.1"),
    ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
    ("openai/gpt-5", "gpt-5"),
    ("openai/gpt-5-mini", "gpt-5-mini"),
    ("openai/gpt-5-nano", "gpt-5-nano"),
    ("openai/gpt-5.1", "gpt-5.1"),
    ("openai/gpt-5.2", "gpt-5.2"),
    ("openai/gpt-5.4", "gpt-5.4"),
    ("openai/gpt-5.4-mini", "gpt-5.4-mini"),
    ("openai/gpt-5.4-nano", "gpt-5.4-nano"),
    ("openai/gpt-5.5", "gpt-5.5"),
    ("openai/gpt-5.6", "gpt-5.6"),
    ("openai/gpt-5.6-sol", "gpt-5.6-sol"),
    ("openai/gpt-5.6-terra", "gpt-5.6-terra"),
    ("openai/gpt-5.6-luna", "gpt-5.6-luna"),
    ("openai/gpt-6-sol", "gpt-6-sol"),
    ("openai/gpt-6-luna", "gpt-6-luna"),
    ("openai/gpt-6-astra", "gpt-6-astra"),
    ("openai/gpt-6.1-sol", "gpt-6.1-sol"),
    ("openai/gpt-6.1-terra", "gpt-6.1-terra"),
    ("openai/o3", "o3"),
    # Anthropic (aliases; the dated ids such as claude-sonnet-4-5-20250929 price the same)
    ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
    ("anthropic/claude-haiku-5-5", "claude-haiku-5-5"),
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("anthropic/claude-sonnet-4-6", "claude-sonnet-4-6"),
    ("anthropic/claude-sonnet-5", "claude-sonnet-5"),
    ("anthropic/claude-sonnet-5-5", "claude-sonnet-5-5"),
    ("anthropic/claude-opus-4-5", "claude-opus-4-5"),
    ("anthropic/claude-opus-4-6", "claude-opus-4-6"),
    ("anthropic/claude-opus-4-7", "claude-opus-4-7"),
    ("anthropic/claude-opus-4-8", "claude-opus-4-8"),
    ("anthropic/claude-opus-5", "claude-opus-5"),
    ("anthropic/claude-opus-5-5", "claude-opus-5-5"),
    # Google
    ("google/gemini-2.5-flash", "gemini/gemini-2.5-flash"),
    ("google/gemini-2.5-flash-lite", "gemini/gemini-2.5-flash-lite"),
    ("google/gemini-2.5-pro", "gemini/gemini-2.5-pro"),
    ("google/gemini-3.1-pro-preview", "gemini/gemini-3.1-pro-preview"),
    ("google/gemini-3.1-flash-lite", "gemini/gemini-3.1-flash-lite"),
    ("google/gemini-3.5-flash", "gemini/gemini-3.5-flash"),
    ("google/gemini-3.5-flash-lite", "gemini/gemini-3.5-flash-lite"),
    ("google/gemini-3.6-flash", "gemini/gemini-3.6-flash"),
    ("google/gemini-3.8-flash", "gemini/gemini-3.8-flash"),
]

# Embedding models, served at /api/v1/embeddings (output modality "embeddings").
CURATED_EMBEDDINGS: list[tuple[str, str]] = [
    ("openai/text-embedding-3-small", "text-embedding-3-small"),
    ("openai/text-embedding-3-large", "text-embedding-3-large"),
    ("openai/text-embedding-ada-002", "text-embedding-ada-002"),
    ("google/gemini-embedding-001", "gemini/gemini-embedding-001"),
    ("google/gemini-embedding-2", "gemini/gemini-embedding-2"),
]
_EMBEDDING_NAMES = {
    "text-embedding-3-small": "Text Embedding 3 Small",
    "text-embedding-3-large": "Text Embedding 3 Large",
    "text-embedding-ada-002": "Text Embedding Ada 002",
    "gemini-embedding-001": "Gemini Embedding 001",
    "gemini-embedding-2": "Gemini Embedding 2",
}

# Catalog provider slug for each source ``litellm_provider``.
PROVIDER_FOR_SOURCE = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}

PROVIDERS = [
    {"slug": "openai", "name": "OpenAI", "protocol": "openai", "base_url": "https://api.openai.com/v1"},
    {
        "slug": "anthropic",
        "name": "Anthropic",
        "protocol": "anthropic",
        "base_url": "https://api.anthropic.com",
    },
    {
        "slug": "google",
        "name": "Google AI Studio",
        "protocol": "google",
        "base_url": "https://generativelanguage.googleapis.com",
    },
    {"slug": "mock", "name": "Mock (offline)", "protocol": "mock", "base_url": ""},
]

_MOCK_PARAMS = [
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
]
_MOCK_PRICES = {"input": "1", "output": "2", "cache_read": "0.5", "cache_write": "1.25", "request": "0"}
MOCK_MODELS = [
    {
        "id": "mock/echo",
        "name": "Mock: Echo",
        "description": "Offline test model: replies with the text of the last user message, streamed in "
        "several chunks. Deterministic, needs no provider account, and is billed like a real model.",
        "provider": "mock",
        "upstream_model": "echo",
        "source_key": None,
        "context_length": 32768,
        "max_output_tokens": 4096,
        "input_modalities": ["text"],
        "output_modalities": ["text"],
        "supported_parameters": _MOCK_PARAMS,
        "tokenizer": "Other",
        "prices": _MOCK_PRICES,
    },
    {
        "id": "mock/lorem",
        "name": "Mock: Lorem",
        "description": "Offline test model: replies with deterministic filler text up to max_tokens, "
        "streamed in several chunks. Useful to exercise long answers and length limits.",
        "provider": "mock",
        "upstream_model": "lorem",
        "source_key": None,
        "context_length": 32768,
        "max_output_tokens": 4096,
        "input_modalities": ["text"],
        "output_modalities": ["text"],
        "supported_parameters": _MOCK_PARAMS,
        "tokenizer": "Other",
        "prices": _MOCK_PRICES,
    },
]

MOCK_MODELS.append(
    {
        "id": "mock/embed",
        "name": "Mock: Embed",
        "description": "Offline embedding model: deterministic 256-dimension unit vectors derived from "
        "each input's text, so the same text always gets the same vector. Billed like a real model.",
        "provider": "mock",
        "upstream_model": "embed",
        "source_key": None,
        "context_length": 8192,
        "max_output_tokens": 0,
        "input_modalities": ["text"],
        "output_modalities": ["embeddings"],
        "supported_parameters": [],
        "tokenizer": "Other",
        "prices": {"input": "0.1", "output": "0", "cache_read": "0.1", "cache_write": "0.1", "request": "0"},
    }
)

_AUTHOR_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Google"}
_TOKENIZERS = {"openai": "GPT", "anthropic": "Claude", "google": "Gemini"}


def per_million(per_token: Any) -> str | None:
    """USD per token (a JSON number) → exact USD per million tokens as a plain decimal string."""
    if per_token is None:
        return None
    if isinstance(per_token, bool) or not isinstance(per_token, int | float):
        raise ValueError(f"not a number: {per_token!r}")
    value = Decimal(repr(per_token)) * MILLION
    if value < 0:
        raise ValueError(f"negative price: {per_token!r}")
    if value != value.quantize(PRICE_PLACES):
        raise ValueError(f"{per_token!r} per token needs more than 6 decimals per million")
    return format_decimal(value)


def format_decimal(value: Decimal) -> str:
    """``Decimal("0.150000")`` → ``"0.15"``, ``Decimal("1E+1")`` → ``"10"``: plain, no trailing zeros."""
    return format(value.normalize(), "f")


def display_name(author: str, upstream: str) -> str:
    parts = upstream.split("-")
    if parts[0] == "gpt":
        words = [f"GPT-{parts[1]}"] + [p.capitalize() for p in parts[2:]]
    elif parts[0] == "claude":
        # claude-sonnet-4-5 → Claude Sonnet 4.5
        family = [p.capitalize() for p in parts[1:] if not p.isdigit()]
        version = ".".join(p for p in parts[1:] if p.isdigit())
        words = ["Claude", *family, version]
    elif parts[0] == "gemini":
        words = ["Gemini"] + [p if p[0].isdigit() else p.capitalize() for p in parts[1:]]
    else:
        words = [upstream]
    return f"{_AUTHOR_NAMES[author]}: {' '.join(w for w in words if w)}"


def modalities(entry: dict[str, Any]) -> list[str]:
    listed = entry.get("supported_modalities")
    found = set(listed or ["text"])
    if entry.get("supports_vision"):
        found.add("image")
    if entry.get("supports_pdf_input"):
        found.add("file")
    if entry.get("supports_audio_input"):
        found.add("audio")
    if entry.get("supports_video_input"):
        found.add("video")
    order = ["text", "image", "file", "audio", "video"]
    return [m for m in order if m in found]


def supported_parameters(author: str, entry: dict[str, Any]) -> list[str]:
    """Parameters in OpenRouter's vocabulary that the gateway can pass to this model."""
    reasoning = bool(entry.get("supports_reasoning"))
    sampling = entry.get("supports_sampling_params")
    if sampling is None:
        # OpenAI's reasoning models reject temperature/top_p; the others accept them.
        sampling = not (author == "openai" and reasoning)
    params = ["max_tokens", "max_completion_tokens", "stop"]
    if sampling:
        params += ["temperature", "top_p"]
        if author in ("anthropic", "google"):
            params.append("top_k")
        if author in ("openai", "google"):
            params += ["seed", "frequency_penalty", "presence_penalty"]
        if author == "openai":
            params += ["logprobs", "top_logprobs", "logit_bias"]
    if entry.get("supports_function_calling"):
        params.append("tools")
    if entry.get("supports_tool_choice"):
        params.append("tool_choice")
    if entry.get("supports_parallel_function_calling"):
        params.append("parallel_tool_calls")
    if entry.get("supports_response_schema") or entry.get("supports_native_structured_output"):
        params += ["response_format", "structured_outputs"]
    if reasoning:
        params += ["reasoning", "include_reasoning", "reasoning_effort"]
    return params


def describe(name: str, context: int, max_out: int, inputs: list[str], params: list[str]) -> str:
    def k(n: int) -> str:
        return f"{round(n / 1_000_000, 2):g}M" if n >= 1_000_000 else f"{round(n / 1000):g}K"

    caps = []
    if "tools" in params:
        caps.append("tool calling")
    if "structured_outputs" in params:
        caps.append("structured outputs")
    if "reasoning" in params:
        caps.append("reasoning")
    text = (
        f"{name.split(': ', 1)[1]}: {k(context)} context, up to {k(max_out)} output tokens; "
        f"input: {', '.join(inputs)}."
    )
    if caps:
        text += f" Supports {', '.join(caps)}."
    return text


def _deprecated(public_id: str, entry: dict[str, Any], as_of: dt.date) -> bool:
    """Whether the source retires this model before ``as_of`` (said on stderr: it is dropped)."""
    deprecation = entry.get("deprecation_date")
    if deprecation and dt.date.fromisoformat(deprecation) < as_of:
        print(f"skipping {public_id}: deprecated on {deprecation}", file=sys.stderr)
        return True
    return False


def derive(source: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    models = []
    for public_id, key in CURATED:
        entry = source.get(key)
        if not isinstance(entry, dict):
            raise SystemExit(f"{key!r} (for {public_id}) is not in the source list")
        if entry.get("mode") != "chat":
            raise SystemExit(f"{key!r} is not a chat model")
        if _deprecated(public_id, entry, as_of):
            continue
        author = public_id.split("/", 1)[0]
        provider = PROVIDER_FOR_SOURCE[entry["litellm_provider"]]
        upstream = key.split("/", 1)[1] if key.startswith("gemini/") else key
        input_price = per_million(entry.get("input_cost_per_token")) or "0"
        context = int(entry.get("max_input_tokens") or 0)
        max_out = int(entry.get("max_output_tokens") or entry.get("max_tokens") or 0)
        inputs = modalities(entry)
        params = supported_parameters(author, entry)
        name = display_name(author, upstream)
        models.append(
            {
                "id": public_id,
                "name": name,
                "description": describe(name, context, max_out, inputs, params),
                "provider": provider,
                "upstream_model": upstream,
                "source_key": key,
                "context_length": context,
                "max_output_tokens": max_out,
                "input_modalities": inputs,
                # The gateway speaks chat completions, which answer in text.
                "output_modalities": ["text"],
                "supported_parameters": params,
                "tokenizer": _TOKENIZERS[author],
                "prices": {
                    "input": input_price,
                    "output": per_million(entry.get("output_cost_per_token")) or "0",
                    # No separate cache price means cached tokens cost the input price.
                    "cache_read": per_million(entry.get("cache_read_input_token_cost")) or input_price,
                    "cache_write": per_million(entry.get("cache_creation_input_token_cost")) or input_price,
                    "request": "0",
                },
            }
        )
    models += embedding_models(source, as_of)
    return {
        "comment": "Generated by catalog/data/derive.py from LiteLLM's model_prices.json; edit CURATED "
        "there and re-run rather than editing this file. Prices are USD per million tokens.",
        "as_of": as_of.isoformat(),
        "providers": PROVIDERS,
        "models": models + MOCK_MODELS,
    }


def embedding_models(source: dict[str, Any], as_of: dt.date) -> list[dict[str, Any]]:
    """The curated embedding models: priced per input token, no output, vectors of a fixed size."""
    models = []
    for public_id, key in CURATED_EMBEDDINGS:
        entry = source.get(key)
        if not isinstance(entry, dict) or entry.get("mode") != "embedding":
            raise SystemExit(f"{key!r} (for {public_id}) is not an embedding model in the source list")
        if _deprecated(public_id, entry, as_of):
            continue
        author = public_id.split("/", 1)[0]
        upstream = key.split("/", 1)[1] if key.startswith("gemini/") else key
        input_price = per_million(entry.get("input_cost_per_token")) or "0"
        context = int(entry.get("max_input_tokens") or 0)
        size = entry.get("output_vector_size")
        name = f"{_AUTHOR_NAMES[author]}: {_EMBEDDING_NAMES[upstream]}"
        models.append(
            {
                "id": public_id,
                "name": name,
                "description": f"{name.split(': ', 1)[1]}: embeddings of up to {context} input tokens"
                + (f", {size} dimensions." if size else "."),
                "provider": PROVIDER_FOR_SOURCE[entry["litellm_provider"]],
                "upstream_model": upstream,
                "source_key": key,
                "context_length": context,
                "max_output_tokens": 0,
                "input_modalities": ["text"],
                "output_modalities": ["embeddings"],
                # OpenRouter's list names chat parameters only; embedding models list none.
                "supported_parameters": [],
                "tokenizer": _TOKENIZERS[author],
                "prices": {
                    "input": input_price,
                    "output": "0",
                    "cache_read": input_price,
                    "cache_write": input_price,
                    "request": "0",
                },
            }
        )
    return models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="LiteLLM-format model_prices.json")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today())
    args = parser.parse_args(argv)
    source = json.loads(args.source.read_text(encoding="utf-8"))
    json.dump(derive(source, args.as_of), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
