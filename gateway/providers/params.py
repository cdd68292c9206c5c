"""Which OpenAI request parameters a provider honours, and what to do with the rest.

A parameter a provider lacks is dropped silently, as OpenRouter does, unless the
request sets ``provider.require_parameters``: then the request is refused with a 400
naming the parameters, before anything is sent upstream. ``n > 1`` is always refused
where unsupported, because dropping it would change the shape of the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.providers.base import UpstreamError

# Parameters the gateway itself consumes (routing, streaming, limits) or that only tag
# a request: never counted as unsupported by an adapter.
GATEWAY_PARAMS = frozenset(
    {
        "model",
        "models",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "provider",
        "route",
        "transforms",
        "usage",
        "user",
        "metadata",
        "store",
        "safety_identifier",
        "prompt_cache_key",
        "service_tier",
        "anthropic_beta",  # the Messages surface's anthropic-beta header (Anthropic only)
    }
)

# Values that mean "not set" for parameters whose default is a value, not absence.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (None, 1),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "frequency_penalty": (None, 0, 0.0),
    "presence_penalty": (None, 0, 0.0),
    "repetition_penalty": (None, 1, 1.0),
    "parallel_tool_calls": (None, True),
    "logit_bias": (None, {}),
    "response_format": (None, {"type": "text"}),
    "modalities": (None, ["text"]),
}


def is_set(request: dict[str, Any], name: str) -> bool:
    if name not in request:
        return False
    value = request[name]
    return value not in _NEUTRAL.get(name, (None,))


def enforce_supported(request: dict[str, Any], *, supported: Iterable[str], provider: str) -> list[str]:
    """Return the set parameters ``provider`` will drop; raise a 400 instead when the
    request requires every parameter to be honoured, or asks for ``n > 1`` unsupported."""
    allowed = GATEWAY_PARAMS | frozenset(supported)
    dropped = sorted(name for name in request if name not in allowed and is_set(request, name))
    if "n" in dropped:
        raise UpstreamError(
            kind="invalid_request",
            status=400,
            message=f"{provider} cannot return more than one choice (n={request['n']}).",
            extra={"param": "n"},
        )
    routing = request.get("provider")
    if dropped and isinstance(routing, dict) and routing.get("require_parameters"):
        raise UpstreamError(
            kind="invalid_request",
            status=400,
            message=f"{provider} does not support these parameters: {', '.join(dropped)}.",
            extra={"param": dropped[0]},
        )
    return dropped


def stop_sequences(request: dict[str, Any]) -> list[str]:
    stop = request.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)]


def reasoning_request(request: dict[str, Any]) -> tuple[str | None, int | None, bool]:
    """(effort, explicit budget, exclude) from OpenAI's ``reasoning_effort`` or
    OpenRouter's ``reasoning: {effort, max_tokens, enabled, exclude}``."""
    effort = request.get("reasoning_effort")
    budget = None
    exclude = False
    reasoning = request.get("reasoning")
    if isinstance(reasoning, dict):
        effort = reasoning.get("effort") or effort
        if isinstance(reasoning.get("max_tokens"), int):
            budget = reasoning["max_tokens"]
        exclude = bool(reasoning.get("exclude"))
        if reasoning.get("enabled") is False:
            effort, budget = "none", None
        elif reasoning.get("enabled") and effort is None and budget is None:
            effort = "medium"
    return effort, budget, exclude
