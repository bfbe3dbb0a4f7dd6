"""OpenHands' pairing of tool calls and results when it turns its event history into the
messages of a request, written as a turnproof repair hook on OpenAI chat messages.

Follows All-Hands-AI/OpenHands at commit e94ca25ace62, openhands/memory/conversation_memory.py:
`ConversationMemory.process_events` (an assistant message with tool calls is held in
`pending_tool_call_action_messages` until every one of its calls has a result, then emitted with
its results) and `_filter_unmatched_tool_calls` (run last). This is what stands between a condensed
history (the condensers' output) and the request. Behaviour, in our words (no code copied):

1. walking the history, an assistant message with tool calls is held back, and so is every tool
   result; as soon as all the calls of a held assistant message have results, the message is
   emitted followed by its results in call order. Other messages are emitted as they come. A
   response whose calls never all get results is never emitted, and neither are its results;
2. then tool messages whose id matches no emitted tool call are removed, and tool calls with no
   tool message anywhere are removed from their assistant message (the whole message, text
   included, if none is left).
"""


def process(messages: list) -> list:
    out, held, results = [], [], {}
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            held.append(m)
        elif m.get("role") == "tool":
            results[m["tool_call_id"]] = m
        else:
            out.append(m)
        still = []
        for h in held:
            if all(c["id"] in results for c in h["tool_calls"]):
                out.append(h)
                out.extend(results.pop(c["id"]) for c in h["tool_calls"])
            else:
                still.append(h)
        held = still
    call_ids = {c["id"] for m in out if m.get("role") == "assistant" for c in m.get("tool_calls") or []}
    result_ids = {m["tool_call_id"] for m in out if m.get("role") == "tool"}
    filtered = []
    for m in out:
        if m.get("role") == "tool":
            if m["tool_call_id"] in call_ids:
                filtered.append(m)
        elif m.get("role") == "assistant" and m.get("tool_calls"):
            matched = [c for c in m["tool_calls"] if c["id"] in result_ids]
            if len(matched) == len(m["tool_calls"]):
                filtered.append(m)
            elif matched:
                filtered.append({**m, "tool_calls": matched})
        else:
            filtered.append(m)
    return filtered
