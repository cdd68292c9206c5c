"""Field checks shared by the surfaces that translate another API's body (Messages, Responses):
each refusal is an ``InvalidRequest`` naming the parameter as the client wrote it."""

from __future__ import annotations

from typing import Any

from gateway.surfaces.chat.request import InvalidRequest


def fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param)


def obj(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(param, "expected an object")
    return value


def string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise fail(param, "expected a string")
    return value
