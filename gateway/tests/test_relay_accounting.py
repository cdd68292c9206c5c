"""What a stream cut short is billed for: every piece of output it relayed, reasoning included."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway.pipeline.tokens import tokens_for_chars
from gateway.surfaces.chat.stream import Relay
from gateway.surfaces.messages.answer import MessagesRelay
from gateway.surfaces.responses.stream import ResponsesRelay


def _flight() -> SimpleNamespace:
    return SimpleNamespace(
        generation_id="gen-1-test",
        created=1,
        key=SimpleNamespace(log_prompts=False),
        target=SimpleNamespace(model_slug="anthropic/claude-test", provider_name="Anthropic"),
        request=None,
        mark_first_token=lambda: None,
        counted_prompt_tokens=lambda: 7,
    )


def _delta(**delta: str) -> list[dict]:
    return [{"index": 0, "delta": delta, "finish_reason": None}]


@pytest.mark.parametrize("relay_class", [Relay, MessagesRelay, ResponsesRelay])
def test_reasoning_and_refusals_relayed_before_a_cut_are_counted_as_output(relay_class):
    relay = relay_class(_flight(), None)
    thinking = "Let me think about the fox and the dog for a while. " * 4

    relay._chunk(_delta(reasoning=thinking))
    relay._chunk(_delta(refusal="No."))
    relay._chunk(_delta(content="The fox"))

    usage = relay._usage()  # what a stream without the provider's usage is settled for
    assert usage.completion_tokens == tokens_for_chars(len(thinking) + len("No.") + len("The fox"))
    assert usage.prompt_tokens == 7
