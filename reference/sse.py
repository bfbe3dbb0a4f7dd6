"""The chat wire's stream, as codex-api/src/sse/chat.rs reads it.

A Chat Completions stream is a series of chunks whose ``delta`` carries pieces of the assistant
text, of the reasoning and of tool calls (by ``index``; the id and name come in the first piece,
the arguments in several). Codex turns it into items only at the end: on
``finish_reason: "tool_calls"`` it emits the reasoning, then one call per index (a call with no
id gets ``tool-call-{index}``, counting from 0 in every response); the aggregated text is emitted
when the stream is done, just before Completed, so text that came with calls lands after them.
A stream that stops without ``[DONE]`` has closed early. chat.rs then does what it does at
``[DONE]`` (rust-v0.78.0:codex-rs/codex-api/src/sse/chat.rs:112-117, ``flush_and_complete``;
rust-v0.77.0 :72-93): it hands over the reasoning and the text it holds and completes. Calls it
had not emitted yet are lost (they survive only if the finish_reason chunk came before the close).
``close`` gives what the reader holds, then the close itself; what the close becomes (Completed,
an error, or a bare close) is the design's ``early_close`` knob, applied by the loop.

``render`` writes a scripted response (the item-level events of tools.py) as such chunks;
``ChatReader`` reads them back into item-level events for the loop.
"""

from __future__ import annotations

import json

DONE = "[DONE]"


def _chunk(delta: dict | None = None, finish: str | None = None) -> dict:
    return {"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}


def render(events: list, with_ids: bool = True, empty_content: bool = False) -> list:
    """Chunks for a scripted response; events after a fault are not sent. ``empty_content``: the
    provider streams ``"content": ""`` beside each call's first chunk (some OpenAI-compatible
    servers do)."""
    out: list = []
    n_calls = 0
    for ev in events:
        kind = ev[0]
        if kind == "reasoning":
            out.append(_chunk({"reasoning": ev[1]}))
        elif kind == "text":
            half = len(ev[1]) // 2
            out += [_chunk({"content": ev[1][:half]}), _chunk({"content": ev[1][half:]})]
        elif kind == "tool_call":
            _, cid, name, args = ev
            first = {"index": n_calls, "type": "function", "function": {"name": name, "arguments": ""}}
            if with_ids:
                first["id"] = cid
            text = json.dumps(args)
            out += [_chunk({"tool_calls": [first], **({"content": ""} if empty_content else {})}),
                    _chunk({"tool_calls": [{"index": n_calls, "function": {"arguments": text[:len(text) // 2]}}]}),
                    _chunk({"tool_calls": [{"index": n_calls, "function": {"arguments": text[len(text) // 2:]}}]})]
            n_calls += 1
        elif kind == "finish":  # the finish_reason chunk alone: a close may still follow before [DONE]
            out.append(_chunk(finish="tool_calls" if n_calls else "stop"))
        elif kind == "completed":
            if not out or out[-1]["choices"][0]["finish_reason"] is None:
                out.append(_chunk(finish="tool_calls" if n_calls else "stop"))
            out.append(DONE)
            break
        elif kind == "error":
            out.append({"error": {"message": ev[1] if len(ev) > 1 else "stream error"}})
            break
        elif kind == "closed":
            break
    return out


class ChatReader:
    """Chunks in, item-level events out (in the order chat.rs emits them). ``raw``: the raw
    parser without the aggregating stream (show_raw_agent_reasoning), which makes an assistant
    message even of ``"content": ""`` (rust-v0.78.0 sse/chat.rs:183-186); the default aggregated
    mode emits no message when no text came (endpoint/chat.rs:178)."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw
        self.text: list = []
        self.reasoning: list = []
        self.calls: dict = {}  # index -> {"id", "name", "arguments"}
        self.calls_emitted = False

    def feed(self, chunk) -> list:
        if chunk == DONE:
            out = self._flush_reasoning()
            if self.text:
                out.append(("text", "".join(self.text)))
                self.text = []
            return out + [("completed",)]
        if "error" in chunk:
            return [("error", chunk["error"].get("message", "stream error"))]
        out: list = []
        for choice in chunk.get("choices", []):
            d = choice.get("delta") or {}
            content = d.get("content")
            if isinstance(content, str) and (content or self.raw):
                self.text.append(content)
            if d.get("reasoning"):
                self.reasoning.append(d["reasoning"])
            for tc in d.get("tool_calls") or []:
                slot = self.calls.setdefault(tc.get("index", 0), {"id": None, "name": "", "arguments": ""})
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                slot["name"] += fn.get("name", "")
                slot["arguments"] += fn.get("arguments", "")
            if choice.get("finish_reason") == "tool_calls" and not self.calls_emitted:
                out += self._flush_reasoning()
                for index in sorted(self.calls):
                    c = self.calls[index]
                    args = json.loads(c["arguments"] or "{}")
                    out.append(("tool_call", c["id"] or f"tool-call-{index}", c["name"], args))
                self.calls_emitted = True
        return out

    def close(self) -> list:
        """The connection ended without ``[DONE]``: what the reader holds, then the close."""
        out = self._flush_reasoning()
        if self.text:
            out.append(("text", "".join(self.text)))
            self.text = []
        return out + [("closed",)]

    def _flush_reasoning(self) -> list:
        if not self.reasoning:
            return []
        out = [("reasoning", "".join(self.reasoning))]
        self.reasoning = []
        return out
