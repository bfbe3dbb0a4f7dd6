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
  The two Codex groupings skip an assistant text equal to the last assistant text they emitted
  (requests/chat.rs rust-v0.77.0 and rust-v0.78.0 :175-182); the model's texts all differ except
  empty ones (items.EMPTY), so only a repeated empty message is skipped.
- ``responses`` (OpenAI Responses): the items are sent as they are (`input`).
- ``anthropic`` (Messages): consecutive assistant-side items form one assistant message of
  ``text`` / ``tool_use`` blocks; consecutive user messages and outputs form one user message of
  ``tool_result`` / ``text`` blocks, in history order. Reasoning (thinking) is left out.
- ``gemini`` (generateContent) and ``bedrock`` (Converse): the same runs as ``anthropic``, as
  ``model`` / ``user`` contents of ``text`` / ``functionCall`` / ``functionResponse`` parts, and
  ``assistant`` / ``user`` messages of ``text`` / ``toolUse`` / ``toolResult`` blocks.

Provider-aware Responses (``provider="deepseek"``, grouping ``response`` only): DeepSeek's
/responses refuses calls split by an assistant message, so a run's text is sent before its calls.

Provider-aware chat (``provider="mistral"``, grouping ``response`` only): Mistral refuses an
assistant message with both text and tool calls, and a user message right after tool messages
(model/provider.py). So a run's text goes in an assistant message of its own, just before the run's
calls, and a user message that would follow tool messages is preceded by an assistant message
saying no reply was recorded (the history is unchanged; only the request says so).

Bodies are plain JSON-shaped dicts so that provider.py judges model requests and real request
files (lint) with the same code.
"""

from __future__ import annotations

from .items import CALL, EMPTY, OUTPUT, REASONING, TEXT, USER, is_written, wire_id

WIRES = ("chat", "responses", "anthropic", "gemini", "bedrock")
GROUPINGS = ("per-call", "consecutive", "response")
SYSTEM = "You are a coding agent."  # Codex sends its instructions first (chat: a system message)


_OUTPUT_TEXT = {"aborted": "aborted", "synthetic": "aborted (synthetic: no result was recorded)",
                "aborted-by-user": "Wall time: 0.1 seconds\naborted by user",
                "placeholder": "[Tool execution was interrupted]"}
_ITEM_TEXT = {USER: "user message", TEXT: "assistant text"}


def _content(item: tuple) -> str:
    kind, cid, tag = item
    if is_written(tag):  # a hook's own text (items.WRITTEN)
        return tag[1]
    if kind == OUTPUT:
        t = _OUTPUT_TEXT.get(tag) if isinstance(tag, str) else None
        return t if t is not None else f"result of {cid}"
    if kind == TEXT and tag == EMPTY:
        return ""
    return _ITEM_TEXT.get(kind, "")


NO_REPLY = "(no assistant reply was recorded after these tool results)"


def build_chat(items: tuple, grouping: str, provider: str | None = None) -> list[dict]:
    if provider == "mistral" and grouping == "response":
        return _build_chat_split(items)
    msgs: list[dict] = [{"role": "system", "content": SYSTEM}]
    last_run_msg = None  # grouping=response: the assistant message of the current run
    last_text = None  # per-call / consecutive: the last assistant text emitted (EMPTY, or a unique text)
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
            key = it[2] if it[2] == EMPTY else object()  # every text but an empty one is new
            if grouping != "response":
                if key == last_text:
                    continue  # chat.rs skips an assistant text equal to the last one
                last_text = key
            msgs.append({"role": "assistant", "content": _content(it)})
            last_run_msg = msgs[-1]
        elif kind == OUTPUT:
            msgs.append({"role": "tool", "tool_call_id": wire_id(cid, "chat"), "content": _content(it)})
            last_run_msg = None
        elif kind == USER:
            msgs.append({"role": "user", "content": _content(it)})
            last_run_msg = None
    return msgs


def _build_chat_split(items: tuple) -> list[dict]:
    """grouping=response for Mistral: per assistant run, its text first (own message), then its calls."""
    msgs: list[dict] = [{"role": "system", "content": SYSTEM}]
    run: list = []

    def flush() -> None:
        texts = [_content(it) for it in run if it[0] == TEXT]
        calls = [{"id": wire_id(it[1], "chat"), "type": "function", "function": {"name": "shell", "arguments": "{}"}}
                 for it in run if it[0] == CALL]
        if texts:
            msgs.append({"role": "assistant", "content": "\n".join(texts)})
        if calls:
            msgs.append({"role": "assistant", "content": None, "tool_calls": calls})
        run.clear()

    for it in items:
        kind = it[0]
        if kind in (TEXT, CALL):
            run.append(it)
        elif kind == OUTPUT:
            flush()
            msgs.append({"role": "tool", "tool_call_id": wire_id(it[1], "chat"), "content": _content(it)})
        elif kind == USER:
            flush()
            if msgs[-1]["role"] == "tool":
                msgs.append({"role": "assistant", "content": NO_REPLY})
            msgs.append({"role": "user", "content": _content(it)})
    flush()
    return msgs


def _runs(items: tuple) -> list[tuple[str, list]]:
    """Consecutive assistant-side items, and consecutive user-side items: [(side, items)]."""
    out: list = []
    for it in items:
        if it[0] == REASONING:
            continue
        side = "assistant" if it[0] in (TEXT, CALL) else "user"
        if out and out[-1][0] == side:
            out[-1][1].append(it)
        else:
            out.append((side, [it]))
    return out


def build_gemini(items: tuple) -> list[dict]:
    out = []
    for side, run in _runs(items):
        parts: list[dict] = []
        for it in run:
            if it[0] == CALL:
                parts.append({"functionCall": {"id": wire_id(it[1], "gemini"), "name": "shell", "args": {}}})
            elif it[0] == OUTPUT:
                parts.append({"functionResponse": {"id": wire_id(it[1], "gemini"), "name": "shell",
                                                   "response": {"output": _content(it)}}})
            else:
                parts.append({"text": _content(it)})
        out.append({"role": "model" if side == "assistant" else "user", "parts": parts})
    return out


def build_bedrock(items: tuple) -> list[dict]:
    out = []
    for side, run in _runs(items):
        blocks: list[dict] = []
        for it in run:
            if it[0] == CALL:
                blocks.append({"toolUse": {"toolUseId": wire_id(it[1], "bedrock"), "name": "shell", "input": {}}})
            elif it[0] == OUTPUT:
                blocks.append({"toolResult": {"toolUseId": wire_id(it[1], "bedrock"),
                                              "content": [{"text": _content(it)}]}})
            else:
                blocks.append({"text": _content(it)})
        out.append({"role": side, "content": blocks})
    return out


def _text_first(items: tuple) -> tuple:
    """Each assistant-side run with its text before its calls (reasoning keeps its place among the calls)."""
    out: list = []
    run: list = []
    for it in items + ((None, None, None),):
        if it[0] in (TEXT, CALL, REASONING):
            run.append(it)
            continue
        out += [x for x in run if x[0] == TEXT] + [x for x in run if x[0] != TEXT]
        run = []
        if it[0] is not None:
            out.append(it)
    return tuple(out)


def build_responses(items: tuple, grouping: str = "", provider: str | None = None) -> list[dict]:
    if provider == "deepseek" and grouping == "response":
        items = _text_first(items)  # DeepSeek's /responses splits calls at assistant messages
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
        block: dict
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


def build_request(items: tuple, wire: str, grouping: str = "consecutive", provider: str | None = None) -> list[dict]:
    """The message list (chat, anthropic, bedrock), input list (responses) or contents (gemini) for ``items``."""
    if wire == "chat":
        return build_chat(items, grouping, provider)
    if wire == "responses":
        return build_responses(items, grouping, provider)
    if wire == "anthropic":
        return build_anthropic(items)
    if wire == "gemini":
        return build_gemini(items)
    if wire == "bedrock":
        return build_bedrock(items)
    raise ValueError(f"unknown wire {wire!r}; allowed: {', '.join(WIRES)}")
