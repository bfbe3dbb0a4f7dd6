"""The providers' acceptance rules for tool calls and results, with their exact error texts.

Source: shared/reference/provider-rules.md (texts as users reported them, typos included).
Each judge takes a request body as built by wire.py (or read from a real file by lint) and returns
every rule broken, in message order; a provider answers with the first one. An empty list means
the provider accepts the request as far as call/result pairing goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHAT_MISSING = ("An assistant message with 'tool_calls' must be followed by tool messages responding "
                "to each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}")
CHAT_ORPHAN = ("Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
               "with 'tool_calls'.")
RESP_MISSING = "No tool output found for function call {id}."
RESP_MISSING_CUSTOM = "No tool output found for custom tool call {id}."
RESP_ORPHAN = "No tool call found for function call output with call_id {id}."
RESP_NO_ID = "Invalid Value: 'input.call_id'. Function call output requires call_id."
ANT_MISSING = ("messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
               "{ids}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.")
ANT_NOT_FIRST = ("messages.{i}: Did not find {n} tool_result block(s) at the beginning of this message. "
                 "Messages following tool_use blocks must begin with a matching number of tool_result blocks.")
ANT_UNEXPECTED = ("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. "
                  "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")
ANT_DUPLICATE = "Found multiple tool_result blocks with id {id}"
GEMINI_COUNT = ("Please ensure that the number of function response parts is equal to the number of "
                "function call parts of the function call turn.")

PROVIDERS = {"chat": "OpenAI Chat Completions", "responses": "OpenAI Responses",
             "anthropic": "Anthropic Messages", "gemini": "Google Gemini"}


@dataclass(frozen=True)
class Rejection:
    """One broken rule: what the provider would answer (HTTP 400)."""

    rule: str  # stable id, e.g. "chat-missing-tool-response"
    text: str  # the provider's error text with ids filled in
    index: int  # the message / input item it is about
    call_ids: tuple = ()
    param: str = ""  # the `param` field OpenAI reports, when known
    extra: dict = field(default_factory=dict, compare=False)


def _s(x: object) -> str:
    return x if isinstance(x, str) else str(x)


def judge_chat(msgs: list) -> list[Rejection]:
    out: list[Rejection] = []
    i, n = 0, len(msgs)
    while i < n:
        m = msgs[i] if isinstance(msgs[i], dict) else {}
        role = m.get("role")
        calls = m.get("tool_calls") if role == "assistant" else None
        if calls and isinstance(calls, list):
            ids = [_s(tc.get("id")) if isinstance(tc, dict) else "" for tc in calls]
            answered: set = set()
            j = i + 1
            while j < n and isinstance(msgs[j], dict) and msgs[j].get("role") == "tool":
                tid = _s(msgs[j].get("tool_call_id"))
                if tid not in ids:
                    out.append(Rejection("chat-orphan-tool", CHAT_ORPHAN, j, (tid,), f"messages.[{j}].role"))
                elif tid in answered:
                    out.append(Rejection("chat-orphan-tool", CHAT_ORPHAN, j, (tid,), f"messages.[{j}].role"))
                answered.add(tid)
                j += 1
            missing = [x for x in ids if x not in answered]
            if missing:
                out.append(Rejection("chat-missing-tool-response", CHAT_MISSING.format(ids=", ".join(missing)),
                                     i, tuple(missing), f"messages.[{min(j, n - 1)}].role"))
            i = j
            continue
        if role == "tool":
            tid = _s(m.get("tool_call_id"))
            out.append(Rejection("chat-orphan-tool", CHAT_ORPHAN, i, (tid,), f"messages.[{i}].role"))
        i += 1
    return out


CALL_TYPES = {"function_call": RESP_MISSING, "custom_tool_call": RESP_MISSING_CUSTOM,
              "local_shell_call": RESP_MISSING}
OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")


def judge_responses(items: list) -> list[Rejection]:
    out: list[Rejection] = []
    calls: dict = {}
    outputs: set = set()
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            continue
        t = it.get("type")
        t = t if isinstance(t, str) else None  # a malformed type is no call and no output
        if t in CALL_TYPES and it.get("call_id") is not None:
            calls.setdefault(_s(it["call_id"]), (i, t))
        elif t in OUTPUT_TYPES:
            if it.get("call_id") in (None, ""):
                out.append(Rejection("responses-output-without-call-id", RESP_NO_ID, i, (), "input.call_id"))
            else:
                outputs.add(_s(it["call_id"]))
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            continue
        t = it.get("type")
        t = t if isinstance(t, str) else None
        cid = it.get("call_id")
        if t in CALL_TYPES and cid is not None and _s(cid) not in outputs:
            out.append(Rejection("responses-missing-output", CALL_TYPES[t].format(id=_s(cid)), i, (_s(cid),), "input"))
        elif t in OUTPUT_TYPES and cid not in (None, "") and _s(cid) not in calls:
            out.append(Rejection("responses-orphan-output", RESP_ORPHAN.format(id=_s(cid)), i, (_s(cid),), "input"))
    out.sort(key=lambda r: r.index)
    return out


def _blocks(m: dict) -> list:
    c = m.get("content")
    if isinstance(c, list):
        return [b if isinstance(b, dict) else {} for b in c]
    return [{"type": "text", "text": c}] if isinstance(c, str) else []


def judge_anthropic(msgs: list) -> list[Rejection]:
    out: list[Rejection] = []
    prev_uses: list = []
    for i, m in enumerate(msgs):
        m = m if isinstance(m, dict) else {}
        blocks = _blocks(m)
        results = [(j, _s(b.get("tool_use_id"))) for j, b in enumerate(blocks) if b.get("type") == "tool_result"]
        seen: set = set()
        for j, rid in results:
            if rid in seen:
                out.append(Rejection("anthropic-duplicate-result", ANT_DUPLICATE.format(id=rid), i, (rid,)))
            seen.add(rid)
        if prev_uses:
            lead = 0
            while lead < len(blocks) and blocks[lead].get("type") == "tool_result":
                lead += 1
            got = {rid for _, rid in results} if m.get("role") == "user" else set()
            missing = [u for u in prev_uses if u not in got]
            if missing:
                out.append(Rejection("anthropic-missing-result",
                                     ANT_MISSING.format(i=i - 1, ids=", ".join(missing)), i - 1, tuple(missing)))
            elif lead < len(prev_uses):
                out.append(Rejection("anthropic-results-not-first", ANT_NOT_FIRST.format(i=i, n=len(prev_uses)),
                                     i, tuple(prev_uses)))
        for j, rid in results:
            if rid not in prev_uses:
                out.append(Rejection("anthropic-unexpected-result", ANT_UNEXPECTED.format(i=i, j=j, id=rid),
                                     i, (rid,)))
        prev_uses = ([_s(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
                     if m.get("role") == "assistant" else [])
    if prev_uses:  # the request ends on tool_use blocks: nothing answers them
        i = len(msgs) - 1
        out.append(Rejection("anthropic-missing-result", ANT_MISSING.format(i=i, ids=", ".join(prev_uses)),
                             i, tuple(prev_uses)))
    return out


def judge_gemini(contents: list) -> list[Rejection]:
    out: list[Rejection] = []
    for i, c in enumerate(contents):
        c = c if isinstance(c, dict) else {}
        parts = c.get("parts") if isinstance(c.get("parts"), list) else []
        ncalls = sum(1 for p in parts if isinstance(p, dict) and "functionCall" in p)
        if ncalls and c.get("role") == "model":
            nxt = contents[i + 1] if i + 1 < len(contents) and isinstance(contents[i + 1], dict) else {}
            nparts = nxt.get("parts") if isinstance(nxt.get("parts"), list) else []
            nresp = sum(1 for p in nparts if isinstance(p, dict) and "functionResponse" in p)
            if nresp != ncalls:
                out.append(Rejection("gemini-count-mismatch", GEMINI_COUNT, i))
    return out


JUDGES = {"chat": judge_chat, "responses": judge_responses, "anthropic": judge_anthropic,
          "gemini": judge_gemini}


def judge(wire: str, body: list) -> list[Rejection]:
    """Every rule ``body`` breaks on ``wire``; the provider answers with the first."""
    return JUDGES[wire](body)
