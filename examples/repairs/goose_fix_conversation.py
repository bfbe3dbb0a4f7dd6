"""Goose's conversation fixing, written as a turnproof repair hook on Anthropic messages (Goose's
own messages are a role and a list of content items: text, thinking, tool requests, tool responses).

Follows block/goose at commit 08dc47863f2f, crates/goose/src/conversation/mod.rs: `fix_conversation`
runs `fix_messages` on the messages the agent sees, a pipeline of
`merge_text_content_items`, `trim_assistant_text_whitespace`, `remove_empty_messages`,
`fix_tool_calling`, `merge_consecutive_messages`, `fix_lead_trail` and `populate_if_empty`.
Behaviour, in our words (no code copied):

1. adjacent text items of an assistant message are joined; trailing whitespace of assistant text
   is trimmed; a message whose content is all empty text (or nothing) is removed;
2. tool calling: in user messages, tool requests and thinking are removed, and a tool response is
   kept only while a tool request with its id is waiting (seen in an earlier assistant message and
   not yet answered), else it is removed as orphaned; in assistant messages, tool responses are
   removed and tool requests start waiting. Tool requests still waiting at the end (no response
   after them) are removed as orphaned. Messages left empty are removed;
3. consecutive messages of the same effective role (a user message holding a tool response counts
   as "tool") are merged;
4. a leading assistant message and a trailing assistant message are removed; an empty conversation
   becomes one user message "Hello".
"""


def _blocks(message: dict) -> list:
    c = message.get("content")
    return [{"type": "text", "text": c}] if isinstance(c, str) else list(c or [])


def _is_empty(message: dict) -> bool:
    return all(b.get("type") == "text" and b.get("text") == "" for b in message["content"])


def _effective_role(message: dict) -> str:
    if message["role"] == "user" and any(b.get("type") == "tool_result" for b in message["content"]):
        return "tool"
    return message["role"]


def fix_conversation(messages: list) -> list:
    msgs = []
    for m in messages:
        blocks = []
        for b in _blocks(m):
            if m["role"] == "assistant" and b.get("type") == "text" and blocks and blocks[-1].get("type") == "text":
                blocks[-1] = {**blocks[-1], "text": blocks[-1]["text"] + b["text"]}
            else:
                blocks.append(b)
        if m["role"] == "assistant":
            blocks = [{**b, "text": b["text"].rstrip()} if b.get("type") == "text" else b for b in blocks]
        msgs.append({**m, "content": blocks})
    msgs = [m for m in msgs if not _is_empty(m)]
    # tool calling
    waiting = set()
    for m in msgs:
        kept = []
        for b in m["content"]:
            t = b.get("type")
            if m["role"] == "user":
                if t in ("tool_use", "thinking", "redacted_thinking"):
                    continue
                if t == "tool_result":
                    if b["tool_use_id"] not in waiting:
                        continue  # orphaned tool response
                    waiting.discard(b["tool_use_id"])
            else:
                if t == "tool_result":
                    continue
                if t == "tool_use":
                    waiting.add(b["id"])
            kept.append(b)
        m["content"] = kept
    for m in msgs:
        if m["role"] == "assistant":
            m["content"] = [b for b in m["content"] if not (b.get("type") == "tool_use" and b["id"] in waiting)]
    msgs = [m for m in msgs if not _is_empty(m)]
    # consecutive messages of one effective role
    merged = []
    for m in msgs:
        if merged and _effective_role(merged[-1]) == _effective_role(m):
            merged[-1] = {**merged[-1], "content": merged[-1]["content"] + m["content"]}
        else:
            merged.append(m)
    # lead and trail
    if merged and merged[0]["role"] == "assistant":
        merged.pop(0)
    if merged and merged[-1]["role"] == "assistant":
        merged.pop()
    return merged or [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
