"""Request building: a (normalized) history becomes the body a wire API receives.

- ``chat`` (OpenAI Chat Completions): codex-api/src/requests/chat.rs, `ChatRequestBuilder::build`.
  Calls become assistant messages with ``tool_calls`` and outputs become ``tool`` messages. The
  ``grouping`` knob is the whole of #8479:
    * ``per-call``    (v0.77): every call gets its own assistant message;
    * ``consecutive`` (v0.78, PR #8556 `push_tool_call_message`): a call joins the previous message
      when that one is an assistant message with null content and a ``tool_calls`` array;
      reasoning does not break a group, text does;
    * ``response``    (turnproof-proposed): every assistant-side run (text, reasoning, calls with
      nothing between them) is one assistant message, text as its content.
  Reasoning travels with the assistant message it precedes and is never a message of its own.
- ``responses`` (OpenAI Responses): the items are sent as they are (`input`).
- ``anthropic`` (Messages): consecutive assistant-side items form one assistant message of
  ``text`` / ``tool_use`` blocks; consecutive user messages and outputs form one user message of
  ``tool_result`` / ``text`` blocks, in history order. Reasoning (thinking) is left out.

Bodies are plain JSON-shaped dicts so that provider.py judges model requests and real request
files (lint) with the same code.
"""

from __future__ import annotations

from .items import CALL, OUTPUT, REASONING, TEXT, USER, wire_id

WIRES = ("chat", "responses", "anthropic")
GROUPINGS = ("per-call", "consecutive", "response")
SYSTEM = "You are a coding agent."  # Codex sends its instructions first (chat: a system message)


_OUTPUT_TEXT = {"aborted": "aborted", "synthetic": "aborted (synthetic: no result was recorded)",
                "aborted-by-user": "Wall time: 0.1 seconds\naborted by user"}
_ITEM_TEXT = {USER: "user message", TEXT: "assistant text"}


def _content(item: tuple) -> str:
    kind, cid, tag = item
    if kind == OUTPUT:
        t = _OUTPUT_TEXT.get(tag) if isinstance(tag, str) else None
        return t if t is not None else f"result of {cid}"
    return _ITEM_TEXT.get(kind, "")


def build_chat(items: tuple, grouping: str) -> list[dict]:
    msgs: list[dict] = [{"role": "system", "content": SYSTEM}]
    last_run_msg = None  # grouping=response: the assistant message of the current run
    for it in items:
        kind, cid = it[0], it[1]
        if kind == REASONING:
            continue  # attached to the next assistant message in chat.rs; never splits a group
        if kind == CALL:
            tc = {"id": wire_id(cid, "chat"), "type": "function",
                  "function": {"name": "shell", "arguments": "{}"}}
            prev = msgs[-1]
            if grouping == "response" and last_run_msg is prev:
                prev.setdefault("tool_calls", []).append(tc)
                continue
            if (grouping == "consecutive" and prev.get("role") == "assistant"
                    and prev.get("content") is None and "tool_calls" in prev):
                prev["tool_calls"].append(tc)
                continue
            msgs.append({"role": "assistant", "content": None, "tool_calls": [tc]})
            last_run_msg = msgs[-1]
        elif kind == TEXT:
            prev = msgs[-1]
            if grouping == "response" and last_run_msg is prev:
                prev["content"] = _content(it) if prev.get("content") is None \
                    else prev["content"] + "\n" + _content(it)
                continue
            msgs.append({"role": "assistant", "content": _content(it)})
            last_run_msg = msgs[-1]
        elif kind == OUTPUT:
            msgs.append({"role": "tool", "tool_call_id": wire_id(cid, "chat"), "content": _content(it)})
            last_run_msg = None
        elif kind == USER:
            msgs.append({"role": "user", "content": _content(it)})
            last_run_msg = None
    return msgs


def build_responses(items: tuple) -> list[dict]:
    out: list[dict] = []
    for it in items:
        kind, cid = it[0], it[1]
        if kind == USER:
            out.append({"type": "message", "role": "user", "content": _content(it)})
        elif kind == TEXT:
            out.append({"type": "message", "role": "assistant", "content": _content(it)})
        elif kind == REASONING:
            out.append({"type": "reasoning", "summary": []})
        elif kind == CALL:
            out.append({"type": "function_call", "name": "shell", "arguments": "{}",
                        "call_id": wire_id(cid, "responses")})
        elif kind == OUTPUT:
            out.append({"type": "function_call_output", "call_id": wire_id(cid, "responses"),
                        "output": _content(it)})
    return out


def build_anthropic(items: tuple) -> list[dict]:
    msgs: list[dict] = []
    for it in items:
        kind, cid = it[0], it[1]
        if kind == REASONING:
            continue
        if kind == TEXT:
            role, block = "assistant", {"type": "text", "text": _content(it)}
        elif kind == CALL:
            role, block = "assistant", {"type": "tool_use", "id": wire_id(cid, "anthropic"),
                                        "name": "shell", "input": {}}
        elif kind == OUTPUT:
            role, block = "user", {"type": "tool_result", "tool_use_id": wire_id(cid, "anthropic"),
                                   "content": _content(it)}
        else:
            role, block = "user", {"type": "text", "text": _content(it)}
        if msgs and msgs[-1]["role"] == role:
            msgs[-1]["content"].append(block)
        else:
            msgs.append({"role": role, "content": [block]})
    return msgs


def build_request(items: tuple, wire: str, grouping: str = "consecutive") -> list[dict]:
    """The message list (chat, anthropic) or input list (responses) for ``items``."""
    if wire == "chat":
        return build_chat(items, grouping)
    if wire == "responses":
        return build_responses(items)
    if wire == "anthropic":
        return build_anthropic(items)
    raise ValueError(f"unknown wire {wire!r}; allowed: {', '.join(WIRES)}")
