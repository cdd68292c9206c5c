"""Adapters by wire protocol, imported lazily so an unused SDK costs nothing at start."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.providers.base import Adapter

_ADAPTERS = {
    "openai": "gateway.providers.openai:OpenAIAdapter",
    "anthropic": "gateway.providers.anthropic:AnthropicAdapter",
    "google": "gateway.providers.google:GoogleAdapter",
    "mock": "gateway.providers.mock:MockAdapter",
}
_instances: dict[str, Adapter] = {}


def get_adapter(protocol: str) -> Adapter:
    adapter = _instances.get(protocol)
    if adapter is None:
        module_name, _, class_name = _ADAPTERS[protocol].partition(":")
        adapter = getattr(import_module(module_name), class_name)()
        _instances[protocol] = adapter
    return adapter
