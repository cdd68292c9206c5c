"""The canonical chunk stream as Responses' typed events, each with its ``sequence_number``.

``response.created`` and ``response.in_progress`` open the stream. One output item is
open at a time (reasoning, a message, a function call), in the order the model produced
them: ``response.output_item.added``, its part and deltas, its ``…done`` events, then
``response.output_item.done``. The stream ends with ``response.completed`` (or
``response.incomplete`` when the output was cut short) carrying the whole response, so the
SDK's ``responses.stream()`` ends with what ``responses.create()`` returns. A failure
after the stream began is ``response.failed`` with the output produced so far.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.pipeline.flight import Flight
from gateway.providers.base import UpstreamError, Usage
from gateway.surfaces.chat.stream import Relay
from gateway.surfaces.responses import answer

# OpenAI's ResponseError codes for the gateway's upstream failure kinds.
ERROR_CODES = {"rate_limit": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}


class _Item:
    """The open output item: what was streamed into it so far."""

    def __init__(self, kind: str, index: int, body: dict[str, Any]) -> None:
        self.kind = kind  # reasoning, message, function_call
        self.index = index
        self.body = body
        self.text: list[str] = []
        self.detail: dict[str, Any] | None = None  # reasoning to seal (a signature, redacted data)
        self.parts: list[tuple[str, list[str]]] = []  # a message's content parts: (type, pieces)

    def part(self, kind: str) -> tuple[int, list[str], bool]:
        """(content_index, pieces, is new) of the message's part of this type."""
        for index, (part_kind, pieces) in enumerate(self.parts):
            if part_kind == kind:
                return index, pieces, False
        self.parts.append((kind, []))
        return len(self.parts) - 1, self.parts[-1][1], True


class ResponsesRelay(Relay):
    def __init__(self, flight: Flight, items: Any) -> None:
        super().__init__(flight, items)
        self.sequence = 0
        self.started = False
        self.output: list[dict[str, Any]] = []  # finished items, by output_index
        self.current: _Item | None = None
        self.calls: dict[int, _Item] = {}  # canonical tool-call index -> its item
        self.details = 0  # reasoning details sealed so far (their canonical index)

    def _event(self, kind: str, **payload: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return answer.response_payload(self.flight, status=status, output=list(self.output), **fields)

    def _start(self) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        response = self._response("in_progress", usage=None)
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    # -- items -----------------------------------------------------------------------------

    def _open(self, kind: str) -> tuple[_Item, list[bytes]]:
        out = self._close()
        index = len(self.output)
        flight = self.flight
        if kind == "reasoning":
            body = answer.reasoning_item(flight, index, "", None)
        elif kind == "message":
            body = answer.message_item(flight, index, [], "in_progress")
        else:
            body = {}
        item = _Item(kind, index, body)
        self.current = item
        if body:
            out.append(self._event("response.output_item.added", output_index=index, item=body))
        self.output.append(body)  # a placeholder until the item is done
        return item, out

    def _part_event(self, kind: str, item: _Item, index: int, part: dict[str, Any]) -> bytes:
        return self._event(
            kind, item_id=item.body["id"], output_index=item.index, content_index=index, part=part
        )

    def _summary_event(self, kind: str, item: _Item, **payload: Any) -> bytes:
        return self._event(kind, item_id=item.body["id"], output_index=item.index, summary_index=0, **payload)

    def _close(self) -> list[bytes]:
        item, self.current = self.current, None
        if item is None:
            return []
        out: list[bytes] = []
        text = "".join(item.text)
        if item.kind == "reasoning":
            if text:
                part = {"type": "summary_text", "text": text}
                out.append(self._summary_event("response.reasoning_summary_text.done", item, text=text))
                out.append(self._summary_event("response.reasoning_summary_part.done", item, part=part))
            done = answer.reasoning_item(self.flight, item.index, text, item.detail)
        elif item.kind == "message":
            content = []
            for index, (kind, pieces) in enumerate(item.parts):
                meta = {"item_id": item.body["id"], "output_index": item.index, "content_index": index}
                whole = "".join(pieces)
                if kind == "output_text":
                    part = answer.text_part(whole)
                    out.append(self._event("response.output_text.done", **meta, text=whole, logprobs=[]))
                else:
                    part = {"type": "refusal", "refusal": whole}
                    out.append(self._event("response.refusal.done", **meta, refusal=whole))
                out.append(self._part_event("response.content_part.done", item, index, part))
                content.append(part)
            done = answer.message_item(self.flight, item.index, content, "completed")
        else:
            done = {**item.body, "arguments": text, "status": "completed"}
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=done["id"],
                    output_index=item.index,
                    name=done["name"],
                    arguments=text,
                )
            )
        self.output[item.index] = done
        out.append(self._event("response.output_item.done", output_index=item.index, item=done))
        return out

    def _reasoning(self, text: str) -> list[bytes]:
        out: list[bytes] = []
        item = self.current
        if item is None or item.kind != "reasoning" or item.detail is not None:
            item, out = self._open("reasoning")
        if not item.text:
            part = {"type": "summary_text", "text": ""}
            out.append(self._summary_event("response.reasoning_summary_part.added", item, part=part))
        item.text.append(text)
        out.append(self._summary_event("response.reasoning_summary_text.delta", item, delta=text))
        return out

    def _detail(self, detail: dict[str, Any]) -> list[bytes]:
        """A detail ends the reasoning it belongs to: Anthropic's signature the open thinking,
        OpenAI's encrypted item its summary; Anthropic's redacted thinking is an item of its own."""
        signed = detail.get("type") == "reasoning.text" and detail.get("signature")
        encrypted = detail.get("type") == "reasoning.encrypted" and detail.get("data")
        if not (signed or encrypted):
            return []
        out: list[bytes] = []
        item = self.current
        summarised = "summary" in detail  # OpenAI's: the item whose summary was streamed
        belongs = signed or summarised
        if not belongs or item is None or item.kind != "reasoning" or item.detail is not None:
            item, out = self._open("reasoning")
        if signed:
            item.detail = {
                "type": "reasoning.text",
                "text": "".join(item.text),
                "signature": detail["signature"],
                "format": detail.get("format"),
                "index": self.details,
            }
        elif summarised:
            item.detail = detail  # whole, as the plain answer has it
        else:
            item.detail = {
                "type": "reasoning.encrypted",
                "data": detail["data"],
                "format": detail.get("format"),
                "index": self.details,
            }
        self.details += 1
        return out + self._close()

    def _message_delta(self, kind: str, text: str) -> list[bytes]:
        """Text (``output_text``) or a refusal (``refusal``) into the open message."""
        out: list[bytes] = []
        item = self.current
        if item is None or item.kind != "message":
            item, out = self._open("message")
        index, pieces, new = item.part(kind)
        if new:
            empty = answer.text_part("") if kind == "output_text" else {"type": "refusal", "refusal": ""}
            out.append(self._part_event("response.content_part.added", item, index, empty))
        pieces.append(text)
        meta = {"item_id": item.body["id"], "output_index": item.index, "content_index": index}
        if kind == "output_text":
            out.append(self._event("response.output_text.delta", **meta, delta=text, logprobs=[]))
        else:
            out.append(self._event("response.refusal.delta", **meta, delta=text))
        return out

    def _call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = call.get("index", 0)
        function = call.get("function") or {}
        item = self.calls.get(index)
        if item is None:
            item, out = self._open("function_call")
            item.body = answer.call_item(
                self.flight,
                item.index,
                {"id": call.get("id"), "function": {"name": function.get("name")}},
                "",
            )
            item.body["status"] = "in_progress"
            self.output[item.index] = item.body
            self.calls[index] = item
            out.append(self._event("response.output_item.added", output_index=item.index, item=item.body))
        if function.get("arguments"):
            item.text.append(function["arguments"])
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item.body["id"],
                    output_index=item.index,
                    delta=function["arguments"],
                )
            )
        return out

    # -- the relay's wire ------------------------------------------------------------------

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        self._account(choices)
        out = self._start()
        for choice in choices[:1]:  # a response has one answer
            delta = choice.get("delta") or {}
            if delta.get("reasoning"):
                out += self._reasoning(delta["reasoning"])
            for detail in delta.get("reasoning_details") or ():
                if isinstance(detail, dict):
                    out += self._detail(detail)
            if delta.get("content"):
                out += self._message_delta("output_text", delta["content"])
            if delta.get("refusal"):
                out += self._message_delta("refusal", delta["refusal"])
            for call in delta.get("tool_calls") or ():
                out += self._call(call)
        return b"".join(out)

    def closing(self, usage: Usage, cost: int) -> list[bytes]:
        out = self._start() + self._close()
        finish = (self.end.finish_reason if self.end else "") or self.finish_reason
        response = self._response("completed", usage=usage, finish_reason=finish)
        out.append(self._event(f"response.{response['status']}", response=response))
        return out

    def failure(self, error: UpstreamError) -> list[bytes]:
        out = self._start() + self._close()
        failed = {"code": ERROR_CODES.get(error.kind, "server_error"), "message": error.message}
        out.append(
            self._event("response.failed", response=self._response("failed", usage=None, error=failed))
        )
        return out
