"""What each API surface adds to a request, alone: its request translation and checks, its
answer, and its stream of 20 chunks, in one thread with no HTTP, database or upstream.

    python -m bench.surfaces [--requests 5000]

Everything else a request costs (auth, routing, the hold, the upstream call, settlement) is
the same code for every surface, so this is the part in which their CPU per request can
differ; the full run (``python -m bench``) measures the whole request beside it. CPU of this
process per request, best of three rounds (the machine is shared).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

CHUNKS = 20


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", "bench-surfaces-not-a-secret-0123456789abcdefghijklmnop")
    import django

    django.setup()


def _flight(request: Any) -> Any:
    return SimpleNamespace(
        generation_id="gen-1767225600-abcdefghijklmnopqrst",
        created=1_767_225_600,
        key=SimpleNamespace(log_prompts=False),
        target=SimpleNamespace(model_slug="openai/gpt-4o-mini", provider_name="OpenAI"),
        request=request,
        mark_first_token=lambda: None,
        counted_prompt_tokens=lambda: 20,
    )


def _best(work: Callable[[], None], requests: int) -> float:
    """Microseconds of CPU per call, best of three rounds."""
    rounds = []
    for _ in range(3):
        started = time.process_time()
        for _ in range(requests):
            work()
        rounds.append((time.process_time() - started) / requests * 1e6)
    return min(rounds)


def measure(requests: int) -> dict[str, dict[str, float]]:
    from bench.run import SURFACES
    from gateway.providers.base import Completion, Usage
    from gateway.surfaces.chat.endpoint import CHAT
    from gateway.surfaces.messages.endpoint import MESSAGES
    from gateway.surfaces.responses.endpoint import RESPONSES

    surfaces = {"chat": CHAT, "messages": MESSAGES, "responses": RESPONSES}
    message = {"role": "assistant", "content": "The quick fox jumps over the lazy dog.", "refusal": None}
    completion = Completion(
        choices=[{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        usage=Usage(prompt_tokens=20, completion_tokens=10),
    )
    chunks = [[{"index": 0, "delta": {"content": "fox jumps "}, "finish_reason": None}]] * CHUNKS
    results: dict[str, dict[str, float]] = {}
    for name, surface in surfaces.items():
        body = SURFACES[name].body
        request = surface.parse(copy.deepcopy(body))
        flight = _flight(request)

        def plain(surface: Any = surface, body: dict[str, Any] = body, flight: Any = flight) -> None:
            surface.parse(copy.deepcopy(body))
            surface.answer(flight, completion, 56_400)

        def streamed(surface: Any = surface, body: dict[str, Any] = body, flight: Any = flight) -> None:
            surface.parse(copy.deepcopy(body))
            relay = surface.relay(flight, None)
            for chunk in chunks:
                relay._chunk(chunk)
            relay.closing(Usage(prompt_tokens=20, completion_tokens=10), 56_400)

        results[name] = {"plain_us": _best(plain, requests), "stream_us": _best(streamed, requests)}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.surfaces", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args(argv)
    _setup()
    results = measure(args.requests)
    chat = results["chat"]
    print("| surface | request + answer (µs) | request + 20-chunk stream (µs) | added vs chat (µs) |")
    print("|---|---:|---:|---:|")
    for name, res in results.items():
        plain, stream = res["plain_us"] - chat["plain_us"], res["stream_us"] - chat["stream_us"]
        added = f"{plain:+.0f} plain, {stream:+.0f} stream"
        print(f"| {name} | {res['plain_us']:.0f} | {res['stream_us']:.0f} | {added} |")


if __name__ == "__main__":
    main()
