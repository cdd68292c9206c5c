"""A fake Gemini API: ``models/{m}:generateContent`` and ``:streamGenerateContent?alt=sse``
under both ``/v1/`` and ``/v1beta/``, key from ``x-goog-api-key`` or ``?key=``.

Requests are accepted in camelCase or snake_case (the SDK mixes both); ``normalise``
turns a recorded body into camelCase without touching user data (function args,
schemas), so tests can assert one shape.

Behaviours (``FakeUpstream.push``) are a string or a dict with a ``kind``:

- ``normal``: echoes the last user text (``"echo: <text>"``), ``STOP``.
- ``{"kind": "text", "text": .., "finish": "MAX_TOKENS"}``: any text and finish reason
  (``length``, ``safety``, ``recitation`` are shorthands); ``blocked``: a prompt blocked
  by ``promptFeedback.blockReason`` with no candidates.
- ``tool`` / ``{"kind": "tool", "calls": 2, "signature": "c2ln", "with_id": True}``: whole
  functionCall parts calling the first declared function with ``{"city": "Paris"}``.
- ``json``: the text ``{"answer": 42}``.
- ``usage``: a thought part, text, usage with cached and thoughts tokens.
- ``candidates``: one text candidate per ``candidateCount``.
- With ``responseLogprobs`` set, text comes with a ``logprobsResult`` (one token per 4 characters).
- ``rate_limit`` (429 RESOURCE_EXHAUSTED, retry-after 7), ``overloaded`` (503 UNAVAILABLE),
  ``server_error`` (500 INTERNAL), ``invalid`` (400 INVALID_ARGUMENT), ``unauthorized``
  (401 UNAUTHENTICATED), ``forbidden`` (403), ``not_found`` (404), or
  ``{"kind": "status", "status": .., "reason": .., "headers": {..}, "message": ..}``.
- ``models/{m}:batchEmbedContents`` (``embedContent`` too): one deterministic unit vector per
  request's text (``embedding_for``: ``EMBED_DIMENSIONS`` values, or ``outputDimensionality``)
  and ``usageMetadata.promptTokenCount`` (one token per four characters); ``no_usage`` leaves
  the usage out; the status behaviours above apply.
- ``early_prompt_tokens`` (any streamed behaviour): every frame before the last carries
  ``usageMetadata.promptTokenCount`` of that many tokens, as Gemini reports the prompt early.
- ``{"kind": "slow", "delay": s}``, ``stall``, ``drop``, ``malformed``, ``error_event``: as the
  Anthropic fake (``error_event`` sends ``data: {"error": {..}}`` mid-stream).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeUpstream, unit_vector

STATUS_SHORTHANDS = {
    "rate_limit": (429, "RESOURCE_EXHAUSTED", {"retry-after": "7"}),
    "overloaded": (503, "UNAVAILABLE", {}),
    "server_error": (500, "INTERNAL", {}),
    "invalid": (400, "INVALID_ARGUMENT", {}),
    "unauthorized": (401, "UNAUTHENTICATED", {}),
    "forbidden": (403, "PERMISSION_DENIED", {}),
    "not_found": (404, "NOT_FOUND", {}),
}
FINISH_SHORTHANDS = {
    "length": {"text": "Once upon a", "finish": "MAX_TOKENS"},
    "safety": {"text": "", "finish": "SAFETY"},
    "recitation": {"text": "", "finish": "RECITATION"},
}
# User data whose keys must not be renamed when normalising a request.
_OPAQUE = {"args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema"}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def normalise(value: Any) -> Any:
    """camelCase every structural key of a Gemini request, leaving user data alone."""
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = _camel(key)
            out[name] = item if name in _OPAQUE else normalise(item)
        return out
    return value


def _behaviour(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        if raw in FINISH_SHORTHANDS:
            return {"kind": "text", **FINISH_SHORTHANDS[raw]}
        return {"kind": raw}
    return dict(raw)


def last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents") or []):
        if content.get("role", "user") != "user":
            continue
        texts = [p["text"] for p in content.get("parts") or [] if "text" in p]
        if texts:
            return texts[-1]
    return ""


def _error(
    status: int, reason: str, headers: dict[str, str] | None = None, message: str = ""
) -> web.Response:
    body = {
        "error": {"code": status, "message": message or f"fake {reason}", "status": reason, "details": []}
    }
    return web.json_response(body, status=status, headers=headers or {})


def _first_function(body: dict[str, Any]) -> str:
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            return declaration["name"]
    return "get_weather"


def _plan(behaviour: dict[str, Any], body: dict[str, Any], model: str) -> dict[str, Any]:
    kind = behaviour["kind"]
    usage: dict[str, Any] = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
    finish = "STOP"
    feedback = None
    parts: list[dict[str, Any]] = []
    count = 1
    if kind == "tool":
        if behaviour.get("text"):
            parts.append({"text": behaviour["text"]})
        calls = int(behaviour.get("calls", 1))
        for i in range(calls):
            call: dict[str, Any] = {
                "name": _first_function(body),
                "args": {"city": "Paris"} if calls == 1 else {"city": "Paris", "n": i},
            }
            if behaviour.get("with_id"):
                call["id"] = f"fc_{i}"
            part: dict[str, Any] = {"functionCall": call}
            if behaviour.get("signature") and i == 0:
                part["thoughtSignature"] = behaviour["signature"]
            parts.append(part)
    elif kind == "json":
        parts = [{"text": '{"answer": 42}'}]
    elif kind == "usage":
        parts = [{"text": "Let me think.", "thought": True}, {"text": "Done thinking."}]
        usage = {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 30,
            "candidatesTokenCount": 30,
            "thoughtsTokenCount": 20,
            "totalTokenCount": 150,
        }
    elif kind == "text":
        parts = [{"text": behaviour["text"]}] if behaviour.get("text") else []
        finish = behaviour.get("finish", "STOP")
    elif kind == "blocked":
        feedback = {"blockReason": "SAFETY"}
    elif kind == "candidates":
        count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
    else:
        parts = [{"text": f"echo: {last_user_text(body)}"}]
    if kind == "candidates":
        candidates = [
            {
                "index": i,
                "finishReason": "STOP",
                "content": {"role": "model", "parts": [{"text": f"answer {i}"}]},
            }
            for i in range(count)
        ]
    elif feedback:
        candidates = []
    else:
        candidate: dict[str, Any] = {"index": 0, "finishReason": finish}
        if parts:
            candidate["content"] = {"role": "model", "parts": parts}
        candidates = [candidate]
    out: dict[str, Any] = {
        "candidates": candidates,
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "resp_fake",
    }
    if feedback:
        out["promptFeedback"] = feedback
    return out


def _logprobs(text: str, top: int) -> dict[str, Any]:
    """A fake logprobsResult: one "token" per 4 characters, each with ``top`` alternatives."""
    tokens = [text[i : i + 4] for i in range(0, len(text), 4)]
    return {
        "chosenCandidates": [{"token": t, "logProbability": -0.5} for t in tokens],
        "topCandidates": [
            {
                "candidates": [{"token": t, "logProbability": -0.5}, {"token": "?", "logProbability": -3.0}][
                    :top
                ]
            }
            for t in tokens
        ],
    }


def _add_logprobs(response: dict[str, Any], body: dict[str, Any]) -> None:
    config = body.get("generationConfig") or {}
    if not config.get("responseLogprobs"):
        return
    for candidate in response["candidates"]:
        text = "".join(p.get("text", "") for p in (candidate.get("content") or {}).get("parts", []))
        candidate["logprobsResult"] = _logprobs(text, int(config.get("logprobs") or 0))


def _frames(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a whole answer into stream frames: text in pieces, function calls whole,
    finish reason and usage in the last frame."""
    frames: list[dict[str, Any]] = []
    meta = {"modelVersion": response["modelVersion"], "responseId": response["responseId"]}
    for candidate in response["candidates"]:
        for part in (candidate.get("content") or {}).get("parts", []):
            pieces = [part]
            if "text" in part and len(part["text"]) > 4:
                text = part["text"]
                pieces = [{**part, "text": text[i : i + 4]} for i in range(0, len(text), 4)]
            for piece in pieces:
                content = {"role": "model", "parts": [piece]}
                streamed: dict[str, Any] = {"index": candidate["index"], "content": content}
                if "logprobsResult" in candidate and "text" in piece:
                    top = (
                        len(candidate["logprobsResult"]["topCandidates"][0]["candidates"])
                        if piece["text"]
                        else 0
                    )
                    streamed["logprobsResult"] = _logprobs(piece["text"], top)
                frames.append({"candidates": [streamed], **meta})
    last: dict[str, Any] = {
        "candidates": [
            {
                "index": c["index"],
                "finishReason": c["finishReason"],
                "content": {"role": "model", "parts": [{"text": ""}]},
            }
            for c in response["candidates"]
        ],
        "usageMetadata": response["usageMetadata"],
        **meta,
    }
    if "promptFeedback" in response:
        last["promptFeedback"] = response["promptFeedback"]
    frames.append(last)
    return frames


def _data(frame: dict[str, Any] | str) -> bytes:
    payload = frame if isinstance(frame, str) else json.dumps(frame)
    return f"data: {payload}\r\n\r\n".encode()


_PATH = re.compile(
    r"^models/(?P<model>[^:]+):"
    r"(?P<method>generateContent|streamGenerateContent|batchEmbedContents|embedContent)$"
)
EMBED_DIMENSIONS = 3072


def embedding_for(text: str, dimensions: int = EMBED_DIMENSIONS) -> list[float]:
    """The fake's vector for one text."""
    return unit_vector(text.encode(), dimensions)


def _embed(body: dict[str, Any], method: str, kind: str) -> web.Response:
    requests = body.get("requests") if method == "batchEmbedContents" else [body]
    if not isinstance(requests, list) or not requests:
        return _error(400, "INVALID_ARGUMENT", message="requests must not be empty")
    embeddings, tokens = [], 0
    for item in requests:
        text = "".join(p.get("text", "") for p in (item.get("content") or {}).get("parts") or [])
        config = item.get("embedContentConfig") or {}
        dimensions = (
            item.get("outputDimensionality") or config.get("outputDimensionality") or EMBED_DIMENSIONS
        )
        embeddings.append({"values": embedding_for(text, dimensions)})
        tokens += (len(text) + 3) // 4
    answer: dict[str, Any] = (
        {"embeddings": embeddings} if method == "batchEmbedContents" else {"embedding": embeddings[0]}
    )
    if kind != "no_usage":
        answer["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    return web.json_response(answer)


def make_app(fake: FakeUpstream) -> web.Application:
    async def generate(request: web.Request) -> web.StreamResponse:
        raw = await fake.record(request)
        match = _PATH.match(request.match_info["rest"])
        if not match:
            return _error(404, "NOT_FOUND")
        behaviour = _behaviour(fake.next_behaviour())
        kind = behaviour["kind"]
        if not (request.headers.get("x-goog-api-key") or request.query.get("key")):
            return _error(401, "UNAUTHENTICATED")
        if kind in STATUS_SHORTHANDS:
            status, reason, headers = STATUS_SHORTHANDS[kind]
            return _error(status, reason, headers)
        if kind == "status":
            return _error(
                behaviour["status"],
                behaviour.get("reason", "INTERNAL"),
                behaviour.get("headers"),
                behaviour.get("message", ""),
            )
        if not isinstance(raw, dict):
            return _error(400, "INVALID_ARGUMENT")
        if kind == "slow":
            await asyncio.sleep(float(behaviour.get("delay", 5)))
        body = normalise(raw)
        if match["method"] in ("batchEmbedContents", "embedContent"):
            return _embed(body, match["method"], kind)
        answer = _plan(behaviour, body, match["model"])
        _add_logprobs(answer, body)

        if match["method"] == "generateContent":
            if kind == "malformed":
                return web.Response(text='{"candidates": [', content_type="application/json")
            return web.json_response(answer)

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        frames = _frames(answer)
        if "early_prompt_tokens" in behaviour:  # usage on every frame, as Gemini sends it
            early = {"promptTokenCount": int(behaviour["early_prompt_tokens"])}
            frames = [{"usageMetadata": early, **frame} for frame in frames]
        try:
            if kind in ("stall", "drop", "error_event", "malformed"):
                await response.write(_data(frames[0]))
                if kind == "stall":
                    await asyncio.sleep(float(behaviour.get("seconds", 60)))
                elif kind == "drop":
                    assert request.transport is not None
                    request.transport.close()
                    return response
                elif kind == "error_event":
                    await response.write(
                        _data(
                            {
                                "error": {
                                    "code": 503,
                                    "message": "The model is overloaded.",
                                    "status": "UNAVAILABLE",
                                }
                            }
                        )
                    )
                else:
                    await response.write(_data('{"candidates": [{"content": '))
                await response.write_eof()
                return response
            for frame in frames:
                await response.write(_data(frame))
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            fake.disconnects += 1
            raise
        return response

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/{version:v1|v1beta}/{rest:.+}", generate)
    return app


def gemini_fake() -> FakeUpstream:
    return FakeUpstream(make_app=make_app)
