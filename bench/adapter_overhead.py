"""What the Anthropic and Gemini adapters cost the gateway process (not a test).

Each fake upstream runs in its own process, so the CPU time measured here is the
gateway side only: request translation, the official SDK, the HTTP client and the
answer's translation back. Wall times include the fake and the machine's load.

    python -m bench.adapter_overhead [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

FAKE_SERVER = """
import sys, time
from tests.fakes.anthropic_server import anthropic_fake
from tests.fakes.gemini_server import gemini_fake
fake = (anthropic_fake if sys.argv[1] == "anthropic" else gemini_fake)().start()
print(fake.url, flush=True)
time.sleep(3600)
"""
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
MESSAGES = [
    {"role": "system", "content": "Be terse."},
    *(
        message
        for i in range(5)
        for message in (
            {"role": "user", "content": f"question {i} " * 20},
            {"role": "assistant", "content": f"answer {i} " * 20},
        )
    ),
    {"role": "user", "content": "last"},
]
REQUEST = {"messages": MESSAGES, "max_tokens": 256, "tools": [TOOL], "temperature": 0.3}


async def _run(adapter: Any, target: Any, *, stream: bool, n: int) -> tuple[float, float]:
    walls = []
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        if stream:
            async for _item in adapter.stream(dict(REQUEST), target):
                pass
        else:
            await adapter.complete(dict(REQUEST), target)
        walls.append((time.perf_counter() - started) * 1000)
    return statistics.median(walls), (time.process_time() - cpu) / n * 1000


async def measure(anthropic_url: str, gemini_url: str, n: int) -> None:
    from catalog.targets import Target
    from gateway.providers.anthropic import AnthropicAdapter, build_params
    from gateway.providers.clients import aclose_clients
    from gateway.providers.google import GoogleAdapter, build_config, convert_messages

    base = Target(0, "m", "p", "P", "anthropic", anthropic_url, "k", "claude-test", 4096)
    anthropic_target = base
    gemini_target = replace(base, protocol="google", base_url=gemini_url, upstream_model="gemini-test")

    cpu = time.process_time()
    for _ in range(2000):
        build_params(REQUEST, anthropic_target)
    per_call = (time.process_time() - cpu) * 500  # microseconds for one of 2000
    print(f"translate an Anthropic request (12 messages, 1 tool): {per_call:.1f} us CPU")
    cpu = time.process_time()
    for _ in range(2000):
        system, _contents = await convert_messages(MESSAGES)
        build_config(REQUEST, gemini_target, system)
    print(f"translate a Gemini request (12 messages, 1 tool): {(time.process_time() - cpu) * 500:.1f} us CPU")

    for name, adapter, target in (
        ("anthropic", AnthropicAdapter(), anthropic_target),
        ("gemini", GoogleAdapter(), gemini_target),
    ):
        await _run(adapter, target, stream=False, n=20)  # warm the connection pool
        for stream in (False, True):
            wall, cpu_ms = await _run(adapter, target, stream=stream, n=n)
            kind = "stream" if stream else "complete"
            print(f"{name} {kind}: wall median {wall:.2f} ms, gateway-process CPU {cpu_ms:.2f} ms/request")
    await aclose_clients()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.test_settings")
    import django

    django.setup()
    fakes = [
        subprocess.Popen([sys.executable, "-c", FAKE_SERVER, kind], stdout=subprocess.PIPE, text=True)
        for kind in ("anthropic", "google")
    ]
    try:
        urls = [fake.stdout.readline().strip() for fake in fakes]  # type: ignore[union-attr]
        asyncio.run(measure(urls[0], urls[1], args.requests))
    finally:
        for fake in fakes:
            fake.kill()


if __name__ == "__main__":
    main()
