"""Request bodies for the three wire APIs, built from a normalized history.

- chat (Chat Completions `messages`): a system message, then one message per history item, except
  that calls go into assistant messages' ``tool_calls`` and reasoning is dropped (chat.rs attaches
  it to the next assistant message; it never splits a group). Grouping of calls:
  ``per-call`` (v0.77) gives each call its own assistant message; ``consecutive`` (v0.78
  push_tool_call_message) appends a call to the previous message if that is an assistant message
  with null content and tool_calls; ``response`` puts a whole assistant-side run (text and calls)
  into one assistant message. The two Codex groupings skip an assistant text equal to the last
  assistant text they emitted (requests/chat.rs rust-v0.78.0:175-182).
- responses (`input`): the items as they are.
- anthropic (Messages): runs of assistant-side items become one assistant message of text and
  tool_use blocks; runs of user messages and outputs one user message of tool_result and text
  blocks, in history order; reasoning is left out.
"""

from __future__ import annotations

import json

from .items import is_assistant_side, is_call, is_output, text_of

SYSTEM_PROMPT = "You are a coding agent."


def _tool_call(it: dict) -> dict:
    return {"id": it["call_id"], "type": "function",
            "function": {"name": it.get("name", "shell"), "arguments": it.get("arguments", "{}")}}


def build_chat(history: list, grouping: str) -> list:
    msgs: list = [{"role": "system", "content": SYSTEM_PROMPT}]
    run_msg = None  # grouping=response: the assistant message collecting the current run
    last_text = None  # per-call / consecutive: the last assistant text emitted
    for it in history:
        t = it.get("type")
        if t == "reasoning":
            continue
        if is_call(it):
            prev = msgs[-1]
            joins = (grouping == "response" and prev is run_msg) or (
                grouping == "consecutive" and prev.get("role") == "assistant"
                and prev.get("content") is None and "tool_calls" in prev)
            if joins:
                prev.setdefault("tool_calls", []).append(_tool_call(it))
            else:
                msgs.append({"role": "assistant", "content": None, "tool_calls": [_tool_call(it)]})
                run_msg = msgs[-1]
        elif is_output(it):
            msgs.append({"role": "tool", "tool_call_id": it["call_id"], "content": text_of(it)})
            run_msg = None
        elif is_assistant_side(it):  # assistant text
            prev = msgs[-1]
            if grouping == "response" and prev is run_msg:
                prev["content"] = text_of(it) if prev["content"] is None else prev["content"] + "\n" + text_of(it)
            elif grouping != "response" and text_of(it) == last_text:
                continue  # chat.rs skips an assistant text equal to the last one
            else:
                last_text = text_of(it) if grouping != "response" else None
                msgs.append({"role": "assistant", "content": text_of(it)})
                run_msg = msgs[-1]
        else:
            msgs.append({"role": "user", "content": text_of(it)})
            run_msg = None
    return msgs


def build_responses(history: list) -> list:
    return [dict(it) for it in history]


def build_anthropic(history: list) -> list:
    msgs: list = []
    for it in history:
        if it.get("type") == "reasoning":
            continue
        if is_call(it):
            role = "assistant"
            block = {"type": "tool_use", "id": it["call_id"], "name": it.get("name", "shell"),
                     "input": json.loads(it.get("arguments") or "{}")}
        elif is_output(it):
            role, block = "user", {"type": "tool_result", "tool_use_id": it["call_id"], "content": text_of(it)}
        elif is_assistant_side(it):
            role, block = "assistant", {"type": "text", "text": text_of(it)}
        else:
            role, block = "user", {"type": "text", "text": text_of(it)}
        if msgs and msgs[-1]["role"] == role:
            msgs[-1]["content"].append(block)
        else:
            msgs.append({"role": role, "content": [block]})
    return msgs


def build(history: list, wire: str, grouping: str) -> dict:
    """The request body as sent: {"messages": ...} or {"input": ...}."""
    if wire == "chat":
        return {"model": "scripted", "messages": build_chat(history, grouping), "stream": True}
    if wire == "responses":
        return {"model": "scripted", "instructions": SYSTEM_PROMPT, "input": build_responses(history), "stream": True}
    if wire == "anthropic":
        return {"model": "scripted", "system": SYSTEM_PROMPT, "messages": build_anthropic(history), "stream": True}
    raise ValueError(f"unknown wire {wire!r}; allowed: chat, responses, anthropic")
