"""schemathesis hooks for tests/contract (loaded through ``SCHEMATHESIS_HOOKS``).

Some refusals depend on what no JSON Schema can say: on another field (a ``tool_choice``
that forces a function the request does not offer, or needs tools when there are none), on
the clock (an ``expires_at`` in the past), on decimal precision (a limit finer than a
nano-dollar) or on the catalog (an allowlist naming a model that
does not exist). OpenAI and OpenRouter refuse these with a 400 too. A schema-valid request
refused for exactly these reasons is not a contract failure; anything else still is.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

UNSCHEMATIC_REFUSALS = {
    ("tool_choice", "'tool_choice' needs 'tools'."),
    ("tool_choice.function.name", None),  # "... is not one of the given tools."
    ("expires_at", "expires_at: must be in the future"),
    ("allowed_models", None),  # "allowed_models: unknown or disabled model: ..."
    # Amounts are exact to the nano and never rounded; JSON Schema's multipleOf cannot say so
    # for binary floats, which is what generators produce.
    ("limit", "limit: Ensure that there are no more than 9 decimal places."),
    # At most 7 whole digits (the schema's maximum), so 16 in all means finer than a nano.
    ("limit", "limit: Ensure that there are no more than 16 digits in total."),
}


def _refusal(content: bytes) -> tuple[str | None, str]:
    try:
        error = json.loads(content)["error"]
        return error.get("param"), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return None, ""


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if failure.code != "ST202" or response.status_code != 400:
        return True
    param, message = _refusal(response.content)
    return not any(
        param == known and (text is None or message == text) for known, text in UNSCHEMATIC_REFUSALS
    )
