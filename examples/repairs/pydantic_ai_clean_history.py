"""pydantic-ai's history cleaning, written as a turnproof repair hook on Anthropic messages (a
ModelRequest is a user message of parts, a ModelResponse an assistant message of parts).

Follows pydantic/pydantic-ai at commit 4fda38988f29, pydantic_ai_slim/pydantic_ai/_agent_graph.py:
`_clean_message_history` (line 2960), run before every model request with
`repair_last_response=True` (line 1568): `_drop_orphaned_tool_results` (2771),
`_repair_dangling_tool_calls` (2816, with `_dangling_tool_calls_by_response`, 2706) and
`_merge_consecutive_messages` (2901); the placeholder text is `INTERRUPTED_TOOL_RETURN_CONTENT`
(pydantic_ai_slim/pydantic_ai/messages.py line 1292). Behaviour, in our words (no code copied):

1. a tool result whose id never appeared as a tool call in an earlier message is dropped; a
   request left empty by that is dropped, unless it is the last message;
2. an ordered walk finds dangling calls: a result answers a call only if that call is open (made
   by an earlier response, not yet answered); a new call reusing an open call's id leaves the older
   one dangling; calls still open at the end dangle. Each dangling call gets a result saying it was
   interrupted, placed after the tool results of the request right after its response (or in a new
   request of its own if another response, or nothing, follows);
3. consecutive requests are merged, tool results first (responses that came from an API are never
   merged, and every response here did).
"""

INTERRUPTED = "The tool call was interrupted before a result was produced."


def _parts(message: dict) -> list:
    c = message.get("content")
    return [{"type": "text", "text": c}] if isinstance(c, str) else list(c or [])


def clean_message_history(messages: list) -> list:
    msgs = [{"role": m["role"], "content": _parts(m)} for m in messages]
    # 1. orphaned results
    seen, kept_msgs = set(), []
    for i, m in enumerate(msgs):
        seen |= {p["id"] for p in m["content"] if p.get("type") == "tool_use"}
        parts = [p for p in m["content"] if not (p.get("type") == "tool_result" and p["tool_use_id"] not in seen)]
        if parts or len(parts) == len(m["content"]) or (m["role"] == "user" and i == len(msgs) - 1):
            kept_msgs.append({**m, "content": parts})
    msgs = kept_msgs
    # 2. dangling calls, by the response that made them
    open_calls, dangling = {}, {}
    for i, m in enumerate(msgs):
        for p in m["content"]:
            if m["role"] == "assistant" and p.get("type") == "tool_use":
                if p["id"] in open_calls:
                    j, older = open_calls[p["id"]]
                    dangling.setdefault(j, []).append(older)
                open_calls[p["id"]] = (i, p)
            elif m["role"] == "user" and p.get("type") == "tool_result":
                open_calls.pop(p["tool_use_id"], None)
    for j, call in open_calls.values():
        dangling.setdefault(j, []).append(call)
    repaired, pending = [], []
    for i, m in enumerate(msgs):
        if m["role"] == "assistant":
            if pending:
                repaired.append({"role": "user", "content": pending})
                pending = []
            pending = [{"type": "tool_result", "tool_use_id": c["id"], "content": INTERRUPTED}
                       for c in dangling.get(i, [])]
            repaired.append(m)
        else:
            if pending:
                parts = m["content"]
                at = max([k + 1 for k, p in enumerate(parts) if p.get("type") == "tool_result"] or [0])
                m = {**m, "content": parts[:at] + pending + parts[at:]}
                pending = []
            repaired.append(m)
    if pending:
        repaired.append({"role": "user", "content": pending})
    # 3. consecutive requests merged, tool results first
    out = []
    for m in repaired:
        if out and m["role"] == "user" and out[-1]["role"] == "user":
            parts = out[-1]["content"] + m["content"]
            out[-1] = {"role": "user", "content": sorted(parts, key=lambda p: p.get("type") != "tool_result")}
        else:
            out.append(m)
    return out
