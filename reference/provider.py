"""A stub provider: judges a request body by the pairing rules of its wire API and answers the
first broken rule with the provider's own error text (typos included), as an HTTP 400 would. A body
that breaks no rule is accepted.

The texts are the default providers' (OpenAI on chat and Responses, Anthropic), with the public
sources listed in docs/providers.md; this module keeps its own copy so that reference/ stays
independent of model/. One check goes beyond the recorded texts, conservatively: an output without a
call_id is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .items import CALL_TYPES, OUTPUT_TYPES

CHAT_MISSING = ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                "'tool_call_id'. The following tool_call_ids did not have response messages: {ids}")
CHAT_ORPHAN = ("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
               "'tool_calls'.")
RESP_MISSING = {"function_call": "No tool output found for function call {id}.",
                "local_shell_call": "No tool output found for function call {id}.",
                "custom_tool_call": "No tool output found for custom tool call {id}."}
RESP_ORPHAN = "No tool call found for function call output with call_id {id}."
RESP_NO_ID = "Invalid Value: 'input.call_id'. Function call output requires call_id."
ANT_MISSING = ("messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {ids}. "
               "Each `tool_use` block must have a corresponding `tool_result` block in the next message.")
ANT_NOT_FIRST = ("messages.{i}: Did not find {n} tool_result block(s) at the beginning of this message. "
                 "Messages following tool_use blocks must begin with a matching number of tool_result blocks.")
ANT_UNEXPECTED = ("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. "
                  "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")


@dataclass(frozen=True)
class HttpError:
    status: int
    message: str
    param: str = ""


class InvalidRequest(Exception):
    """HTTP 400 (CodexErr::InvalidRequest): never retried."""

    def __init__(self, error: HttpError):
        super().__init__(error.message)
        self.error = error


def _chat(msgs: list) -> HttpError | None:
    i, n = 0, len(msgs)
    while i < n:
        m = msgs[i]
        if m.get("role") == "tool":
            return HttpError(400, CHAT_ORPHAN, f"messages.[{i}].role")
        calls = m.get("tool_calls") if m.get("role") == "assistant" else None
        if not calls:
            i += 1
            continue
        ids = [tc.get("id") for tc in calls]
        seen: set = set()
        j = i + 1
        while j < n and msgs[j].get("role") == "tool":
            tid = msgs[j].get("tool_call_id")
            if tid not in ids or tid in seen:
                return HttpError(400, CHAT_ORPHAN, f"messages.[{j}].role")
            seen.add(tid)
            j += 1
        missing = [x for x in ids if x not in seen]
        if missing:
            return HttpError(400, CHAT_MISSING.format(ids=", ".join(missing)), f"messages.[{min(j, n - 1)}].role")
        i = j
    return None


def _responses(items: list) -> HttpError | None:
    calls = {it.get("call_id") for it in items if it.get("type") in CALL_TYPES}
    outs = {it.get("call_id") for it in items if it.get("type") in OUTPUT_TYPES}
    for it in items:
        t, cid = it.get("type"), it.get("call_id")
        if t in CALL_TYPES and cid not in outs:
            return HttpError(400, RESP_MISSING[t].format(id=cid), "input")
        if t in OUTPUT_TYPES and not cid:
            return HttpError(400, RESP_NO_ID, "input.call_id")
        if t in OUTPUT_TYPES and cid not in calls:
            return HttpError(400, RESP_ORPHAN.format(id=cid), "input")
    return None


def _anthropic(msgs: list) -> HttpError | None:
    uses: list = []  # tool_use ids of the previous assistant message
    for i, m in enumerate(msgs):
        blocks = m.get("content") if isinstance(m.get("content"), list) else []
        results = [(j, b.get("tool_use_id")) for j, b in enumerate(blocks) if b.get("type") == "tool_result"]
        ids = [r for _, r in results]
        if uses:
            got = set(ids) if m.get("role") == "user" else set()
            missing = [u for u in uses if u not in got]
            if missing:
                return HttpError(400, ANT_MISSING.format(i=i - 1, ids=", ".join(missing)))
            lead = 0
            while lead < len(blocks) and blocks[lead].get("type") == "tool_result":
                lead += 1
            if lead < len(uses):
                return HttpError(400, ANT_NOT_FIRST.format(i=i, n=len(uses)))
        for j, r in results:
            if r not in uses:
                return HttpError(400, ANT_UNEXPECTED.format(i=i, j=j, id=r))
        uses = [b.get("id") for b in blocks if b.get("type") == "tool_use"] if m.get("role") == "assistant" else []
    if uses:
        return HttpError(400, ANT_MISSING.format(i=len(msgs) - 1, ids=", ".join(uses)))
    return None


def judge(wire: str, body: dict) -> HttpError | None:
    """The provider's answer to ``body``: None (accepted) or the first rule it breaks."""
    if wire == "chat":
        return _chat(body["messages"])
    if wire == "responses":
        return _responses(body["input"])
    return _anthropic(body["messages"])
