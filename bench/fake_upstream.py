"""A fast fake OpenAI upstream for the benchmark: fixed answers, optional latency and pace.

It answers any ``POST …/chat/completions`` with a fixed ``chat.completion`` JSON, or,
when the body asks for ``"stream": true``, with an SSE stream of ``--chunks`` chunks
(``--chunk-ms`` apart) ending in ``data: [DONE]``; a usage chunk is sent when the
body asks for ``stream_options.include_usage``, as OpenAI does. ``GET …/models``
answers a one-model list. Everything that can be precomputed is, so the fake is
never the bottleneck: it is the floor the other targets are compared with.

Run it in its own process::

    python -m bench.fake_upstream --port 9100 [--latency-ms 0] [--chunks 20] [--chunk-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
from aiohttp import web

ANSWER_TEXT = "The quick brown fox jumps over the lazy dog. " * 2
PROMPT_TOKENS = 24
COMPLETION_TOKENS = 20


def completion_body(model: str = "gpt-4o-mini") -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER_TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
        }
    )


def _chunk(model: str, delta: dict, finish_reason: str | None, usage: dict | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_bench",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        payload["usage"] = usage
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def stream_chunks(chunks: int, model: str = "gpt-4o-mini") -> tuple[list[bytes], bytes, bytes]:
    """The SSE events of one answer: content chunks (the first carries the role, the last
    the finish reason), the usage chunk, and the terminator."""
    words = ANSWER_TEXT.split(" ")
    events = [_chunk(model, {"role": "assistant", "content": ""}, None)]
    for i in range(max(chunks - 2, 0)):
        events.append(_chunk(model, {"content": words[i % len(words)] + " "}, None))
    events.append(_chunk(model, {}, "stop"))
    usage = _chunk(
        model,
        None,  # type: ignore[arg-type]
        None,
        usage={
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": max(chunks - 2, 0),
            "total_tokens": PROMPT_TOKENS + max(chunks - 2, 0),
        },
    )
    return events, usage, b"data: [DONE]\n\n"


MODELS_BODY = orjson.dumps(
    {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "bench"}]}
)


def make_app(*, latency_ms: float = 0.0, chunks: int = 20, chunk_ms: float = 0.0) -> web.Application:
    completion = completion_body()
    events, usage_event, done_event = stream_chunks(chunks)
    latency = latency_ms / 1000.0
    pace = chunk_ms / 1000.0
    json_headers = {"Content-Type": "application/json", "x-request-id": "req_bench"}
    sse_headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "x-request-id": "req_bench",
    }

    async def chat(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return web.Response(
                status=400, body=b'{"error":{"message":"bad json","type":"invalid_request_error"}}'
            )
        if latency:
            await asyncio.sleep(latency)
        if not body.get("stream"):
            return web.Response(body=completion, headers=json_headers)
        response = web.StreamResponse(headers=sse_headers)
        await response.prepare(request)
        try:
            for event in events:
                await response.write(event)
                if pace:
                    await asyncio.sleep(pace)
            if (body.get("stream_options") or {}).get("include_usage"):
                await response.write(usage_event)
            await response.write(done_event)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            # The caller went away mid-stream: nothing to finish.
            pass
        return response

    async def models(request: web.Request) -> web.Response:
        return web.Response(body=MODELS_BODY, headers=json_headers)

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/{prefix:.*}chat/completions", chat)
    app.router.add_get("/{prefix:.*}models", models)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before the answer starts")
    parser.add_argument("--chunks", type=int, default=20, help="SSE events per streamed answer")
    parser.add_argument("--chunk-ms", type=float, default=0.0, help="pause between streamed events")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = make_app(latency_ms=args.latency_ms, chunks=args.chunks, chunk_ms=args.chunk_ms)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
