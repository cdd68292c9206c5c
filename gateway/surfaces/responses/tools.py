"""Responses tools as the canonical request's function tools.

Function tools map one to one. A ``namespace`` tool's functions are flattened to
``<namespace>__<name>`` (providers take no dots in names) and mapped back on the way out.
OpenAI's server-side tools are left out: no model behind the gateway can run them.
"""

from __future__ import annotations

from typing import Any

from gateway.surfaces.fields import fail, obj, string

# OpenAI's server-side tools: a model behind the gateway cannot call them, so they are left
# out of the tool list (Codex and the agents SDK offer web_search by default).
HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "computer_use_preview",
        "mcp",
        "tool_search",
    }
)
NAMESPACE_JOIN = "__"


def flat_name(namespace: str, name: str) -> str:
    """A namespaced function's name in the canonical request (providers take no dots)."""
    return f"{namespace}{NAMESPACE_JOIN}{name}"


def _function(tool: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    name = tool.get("name")
    function: dict[str, Any] = {
        "name": flat_name(namespace, name) if namespace and isinstance(name, str) else name
    }
    for field_name in ("description", "parameters", "strict"):
        if tool.get(field_name) is not None:
            function[field_name] = tool[field_name]
    return {"type": "function", "function": function}


def tools_of(value: Any) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """Function tools (a namespace's flattened into ``<namespace>__<name>``), and which flat
    names are namespaced. Tools the provider would run (web search…) are left out."""
    if not isinstance(value, list):
        raise fail("tools", "expected an array")
    tools: list[dict[str, Any]] = []
    namespaced: dict[str, tuple[str, str]] = {}
    for i, tool in enumerate(value):
        p = f"tools.{i}"
        tool = obj(tool, p)
        kind = tool.get("type")
        if kind == "function":
            tools.append(_function(tool, None))
        elif kind == "namespace":
            namespace = string(tool.get("name"), f"{p}.name")
            for j, inner in enumerate(tool.get("tools") or ()):
                inner = obj(inner, f"{p}.tools.{j}")
                if inner.get("type") != "function":
                    raise fail(f"{p}.tools.{j}.type", "a namespace takes function tools only here")
                name = string(inner.get("name"), f"{p}.tools.{j}.name")
                tools.append(_function(inner, namespace))
                namespaced[flat_name(namespace, name)] = (namespace, name)
        elif kind in HOSTED_TOOLS:
            continue  # run by OpenAI's servers, not by a model: nothing here can run it
        else:
            raise fail(f"{p}.type", f"only function tools are supported, not {kind!r}")
    return tools, namespaced


def tool_choice_of(value: Any) -> Any:
    if isinstance(value, str):
        return value  # none, auto, required: chat's check names a wrong one
    choice = obj(value, "tool_choice")
    if choice.get("type") != "function":
        raise fail("tool_choice.type", "must be 'function' (or tool_choice one of none, auto, required)")
    return {"type": "function", "function": {"name": choice.get("name")}}
