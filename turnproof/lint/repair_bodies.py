"""`turnproof repair` on JSON documents: request bodies of every wire API, and the Gemini CLI session.

Each document becomes a history of model items (plan.py decides what changes), and the plan is put
back in the document's own terms:

- OpenAI Responses ``input``: every entry is its own unit; results move as entries, synthetic ones
  are ``function_call_output`` / ``custom_tool_call_output`` entries whose output text says so (the
  API refuses fields it does not know). A request that continues a stored response
  (``previous_response_id``, ``conversation``, or ``item_reference`` entries) keeps every result
  whose call is not in it, where it is: the call lives on the server. DeepSeek's /responses wants
  each call's results before the next assistant message: grouping ``calls``.
- OpenAI chat ``messages``: an assistant message is a call group; ``tool`` messages move, and a
  missing one is added after the group (legacy ``function_call`` / role ``function`` likewise).
- Anthropic Messages, Bedrock Converse, Gemini generateContent: the results of an assistant
  message's calls must open the next user message. Result blocks move between messages; a user
  message keeps its other blocks, in their order, after the results; a message left with no block
  is not written (it held only results that moved); a results message is added where none follows.
  Server tool blocks (``server_tool_use``, ``mcp_tool_use`` and their results) are answered inside
  the assistant message and never move. Gemini pairs by ``id`` when every call and response has one,
  by function name (in order) otherwise.
- Gemini CLI session: each ``toolCalls`` entry carries its result; an entry without one gets a
  synthetic result (status ``cancelled`` unless it had a final one) marked ``turnproof_synthetic``.

What the provider in use would still reject after the repair (rules that are not about pairing,
such as Mistral's "assistant content and tool_calls in one message") is returned as findings.
"""

from __future__ import annotations

import json

from turnproof.model.items import CALL, OUTPUT, REASONING, SYNTHETIC, TEXT, USER

from .bodies import (WIRE_OF, _Locator, _call_type, _findings, _legacy_functions, _norm_responses_item, _output_type,
                     _validate, gemini_cli_contents, items_of, provider_of, stateful)
from .findings import LintError
from .plan import Conflict, plan, sep
from .repair import MARKER, SYNTHETIC_OUTPUT, CannotRepair, Edit, conflict_error, flat_emit

REPAIRABLE = ("openai-responses", "openai-chat", "anthropic", "bedrock", "gemini", "gemini-cli")
_ASSISTANT = {"anthropic": "assistant", "bedrock": "assistant", "gemini": "model"}
_CONTENT = {"anthropic": "content", "bedrock": "content", "gemini": "parts"}


def repair_document(doc: object, dialect: str, path: str, provider: str | None = None) -> tuple[object, list, list]:
    """(repaired document, edits, findings the provider in use still has). LintError: unreadable;
    CannotRepair: a tool result would be lost."""
    if dialect not in REPAIRABLE:
        raise LintError(f"{path}: repair does not handle {dialect} documents")
    left = _left(doc, dialect, path, provider)  # the shape checks lint makes: LintError if unreadable
    if dialect == "gemini-cli":
        new, edits = _gemini_cli(doc, path)
    else:
        lst, base = items_of(doc, dialect, path)
        fn = {"openai-responses": _responses, "openai-chat": _chat}.get(dialect, _blocks)
        out, edits = fn(lst, base, path, doc, dialect, provider)
        new = out if not isinstance(doc, dict) else dict(doc, **{base[1:]: out})
    if edits:
        left = _left(new, dialect, path, provider)
    return new, edits, left


def _left(doc: object, dialect: str, path: str, provider: str | None) -> list:
    """What the provider in use rejects (lint's judge_document, without judging every other provider too)."""
    lst, base = items_of(doc, dialect, path)
    if dialect == "gemini-cli":
        body, loc = gemini_cli_contents(lst, base, path)
        wire, st = "gemini", False
    else:
        _validate[dialect](lst, base, path)
        wire, st = WIRE_OF[dialect], stateful(doc)
        body = [_norm_responses_item(x) for x in lst] if dialect == "openai-responses" else lst
        loc = _Locator(dialect, body, base)
    used, _ = provider_of(doc, wire, provider)
    extra = _legacy_functions(lst, base) if dialect == "openai-chat" else []
    return extra + _findings(body, wire, used, loc, st)


def _plan(items: list, path: str, where, **kw):
    try:
        return plan(tuple(items), **kw)
    except Conflict as c:
        raise conflict_error(path, c, where) from None


def _strip(d: dict, keys=("id",)) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


# ---- OpenAI Responses ----------------------------------------------------------------------------
def _responses(lst: list, base: str, path: str, doc: object, dialect: str, provider: str | None):
    items: list = []
    units: list = []
    kinds: dict = {}  # call id -> call type
    refs = False
    for i, it in enumerate(lst):
        t = it.get("type")
        item = None
        if _call_type(t) and it.get("call_id") in (None, ""):
            pass  # a call without call_id (a local_shell_call with only `id`): nothing pairs it, lint ignores it too
        elif _call_type(t):
            cid = it["call_id"]
            kinds[cid] = t
            item = (CALL, cid, i)
        elif _output_type(t):
            cid = it.get("call_id")
            item = (OUTPUT, cid if cid not in (None, "") else ("no-id", i), i)
        elif t == "reasoning":
            item = (REASONING, None, i)
        elif t in (None, "message") and isinstance(it.get("role"), str):
            item = (TEXT if it["role"] == "assistant" else USER, None, i)
        elif t == "item_reference":
            refs = True  # an item stored server side, maybe a call
        if item is not None:
            items.append(item)
        units.append((i, (i,) if item is not None else ()))
    used, _ = provider_of(doc, "responses", provider)
    p = _plan(items, path, lambda t: f"{base}/{t}", grouping="calls" if used == "deepseek" else "set",
              stateful=stateful(doc) or refs,
              same=lambda a, b: _strip(lst[a]) == _strip(lst[b]),
              made_up=lambda t: lst[t].get("output") == SYNTHETIC_OUTPUT)
    edits = [Edit(d.op, d.call_id, t, unit="input item", twin=d.twin) for t, d in p.dropped.items()]
    out: list = []
    for ev in flat_emit(units, p):
        if ev[0] == "unit":
            out.append(lst[ev[1]])
        elif ev[0] == "moved":
            _, i, after, direction = ev
            out.append(lst[i])
            edits.append(Edit("move", lst[i].get("call_id"), i, after, "input item", direction))
        elif ev[0] == "text":
            _, i, after = ev
            out.append(lst[i])
            edits.append(Edit("move-text", None, i, after, "input item", "up"))
        else:
            _, cid, after, _call = ev
            t = kinds.get(cid)
            if t not in ("function_call", "custom_tool_call", "local_shell_call"):
                raise CannotRepair(f"{path}: {base}/{_call}: no result was recorded for {t} {cid}, and repair cannot "
                                   "make up one the API accepts (its output is not text): not repaired")
            kind = "custom_tool_call_output" if t == "custom_tool_call" else "function_call_output"
            out.append({"type": kind, "call_id": cid, "output": SYNTHETIC_OUTPUT})
            edits.append(Edit("synthesize", cid, None, after, "input item"))
    return out, edits


# ---- OpenAI chat ---------------------------------------------------------------------------------
_FN = "function:"  # legacy function calling pairs by name and position


def _chat(msgs: list, base: str, path: str, doc: object, dialect: str, provider: str | None):
    items: list = []
    units: list = []
    for m, msg in enumerate(msgs):
        role = msg.get("role")
        tags: list = []
        if role == "assistant":
            if m:
                items.append(sep(m))  # each assistant message is a call group of its own
            tcs = msg.get("tool_calls") if isinstance(msg.get("tool_calls"), list) else []
            fc = msg.get("function_call") if isinstance(msg.get("function_call"), dict) else None
            if msg.get("content") not in (None, "", []) or not (tcs or fc):
                tags.append((TEXT, None, (m, "text")))
            tags += [(CALL, tc["id"], (m, k)) for k, tc in enumerate(tcs)]
            if fc is not None:
                tags.append((CALL, _FN + str(fc.get("name")), (m, "fn")))
        elif role == "tool":
            tags.append((OUTPUT, msg.get("tool_call_id"), m))
        elif role == "function":
            tags.append((OUTPUT, _FN + str(msg.get("name")), m))
        else:
            tags.append((USER, None, (m, "user")))
        items += tags
        units.append((m, tuple(t[2] for t in tags)))
    p = _plan(items, path, lambda t: f"{base}/{t}",
              same=lambda a, b: msgs[a] == msgs[b],
              made_up=lambda t: msgs[t].get("content") == SYNTHETIC_OUTPUT)
    edits = [Edit(d.op, d.call_id, f"{base}/{t}", unit="", twin=None if d.twin is None else f"{base}/{d.twin}")
             for t, d in p.dropped.items()]
    out: list = []
    for ev in flat_emit(units, p):
        if ev[0] == "unit":
            out.append(msgs[ev[1]])
        elif ev[0] == "moved":
            _, m, after, direction = ev
            out.append(msgs[m])
            cid = msgs[m].get("tool_call_id") or _FN + str(msgs[m].get("name"))
            edits.append(Edit("move", cid, f"{base}/{m}", f"{base}/{after}", "", direction))
        elif ev[0] == "text":
            _, m, after = ev
            out.append(msgs[m])
            edits.append(Edit("move-text", None, f"{base}/{m}", None if after is None else f"{base}/{after}", "", "up"))
        else:
            _, cid, after, _call = ev
            if isinstance(cid, str) and cid.startswith(_FN):
                out.append({"role": "function", "name": cid[len(_FN):], "content": SYNTHETIC_OUTPUT})
            else:
                out.append({"role": "tool", "tool_call_id": cid, "content": SYNTHETIC_OUTPUT})
            edits.append(Edit("synthesize", cid, None, f"{base}/{after}", ""))
    return out, edits


# ---- Anthropic, Bedrock, Gemini: results open the next user message -----------------------------
class _Blocks:
    """How one dialect spells calls and results in content blocks."""

    def __init__(self, dialect: str, msgs: list):
        self.dialect = dialect
        self.key = _CONTENT[dialect]
        self.assistant = _ASSISTANT[dialect]
        self.names: dict = {}  # gemini: call id -> function name
        if dialect == "gemini":
            fcs = [b for m in msgs for b in self.blocks(m) if "functionCall" in b or "functionResponse" in b]
            self.by_id = all(isinstance((b.get("functionCall") or b.get("functionResponse") or {}).get("id"), str)
                             and (b.get("functionCall") or b.get("functionResponse"))["id"] for b in fcs)

    def blocks(self, m: dict) -> list:
        c = m.get(self.key)
        return c if isinstance(c, list) else []

    def call_id(self, b: object):
        if not isinstance(b, dict):
            return None
        if self.dialect == "anthropic":
            return b.get("id") if b.get("type") == "tool_use" else None
        if self.dialect == "bedrock":
            return b["toolUse"].get("toolUseId") if isinstance(b.get("toolUse"), dict) else None
        fc = b.get("functionCall")
        if not isinstance(fc, dict):
            return None
        cid = fc.get("id") if self.by_id else "name:" + str(fc.get("name"))
        self.names[cid] = fc.get("name")
        return cid

    def result_id(self, b: object):
        if not isinstance(b, dict):
            return None
        if self.dialect == "anthropic":
            return b.get("tool_use_id") if b.get("type") == "tool_result" else None
        if self.dialect == "bedrock":
            return b["toolResult"].get("toolUseId") if isinstance(b.get("toolResult"), dict) else None
        fr = b.get("functionResponse")
        if not isinstance(fr, dict):
            return None
        return fr.get("id") if self.by_id else "name:" + str(fr.get("name"))

    def synthetic(self, cid: str) -> dict:
        if self.dialect == "anthropic":
            return {"type": "tool_result", "tool_use_id": cid, "content": SYNTHETIC_OUTPUT, "is_error": True}
        if self.dialect == "bedrock":
            return {"toolResult": {"toolUseId": cid, "content": [{"text": SYNTHETIC_OUTPUT}], "status": "error"}}
        fr = {"name": self.names.get(cid), "response": {"error": SYNTHETIC_OUTPUT}}
        if self.by_id:
            fr = {"id": cid, **fr}
        return {"functionResponse": fr}

    def made_up(self, b: dict) -> bool:
        return SYNTHETIC_OUTPUT in json.dumps(b, ensure_ascii=False)


def _blocks(msgs: list, base: str, path: str, doc: object, dialect: str, provider: str | None):
    d = _Blocks(dialect, msgs)
    items: list = []
    for m, msg in enumerate(msgs):
        if msg.get("role") == d.assistant:
            if m:
                items.append(sep(m))
            items.append((TEXT, None, (m, "msg")))
            for j, b in enumerate(d.blocks(msg)):
                cid = d.call_id(b)
                if cid is not None:
                    items.append((CALL, cid, (m, j)))
            continue
        user = False
        for j, b in enumerate(d.blocks(msg)):
            rid = d.result_id(b)
            if rid is not None:
                items.append((OUTPUT, rid, (m, j)))
            elif not user:
                items.append((USER, None, (m, "msg")))
                user = True
        if not user and not any(d.result_id(b) is not None for b in d.blocks(msg)):
            items.append((USER, None, (m, "msg")))  # a string, or no block at all

    def block(t):
        return d.blocks(msgs[t[0]])[t[1]]

    def ptr(t):
        return f"{base}/{t[0]}/{d.key}/{t[1]}"

    p = _plan(items, path, ptr, same=lambda a, b: block(a) == block(b), made_up=lambda t: d.made_up(block(t)))
    edits = [Edit(x.op, x.call_id, ptr(t), unit="", twin=None if x.twin is None else ptr(x.twin))
             for t, x in p.dropped.items()]
    out: list = []
    pending: list = []
    src = [None]
    last = None  # the assistant message the pending results answer
    prev = None  # the message last written, as numbered in the input

    def flush() -> None:
        if pending:
            tmpl = msgs[src[0]] if src[0] is not None else {"role": "user"}
            out.append({**{k: v for k, v in tmpl.items() if k != d.key}, d.key: list(pending)})
            pending.clear()
        src[0] = None

    for kind, cid, tag in p.order:
        if kind == OUTPUT:
            if tag == SYNTHETIC:
                pending.append(d.synthetic(cid))
                edits.append(Edit("synthesize", cid, None, f"{base}/{last}", ""))
            else:
                pending.append(block(tag))
                if src[0] is None:
                    src[0] = tag[0]
                if tag in p.moved:
                    edits.append(Edit("move", cid, ptr(tag), f"{base}/{last}", "", p.moved[tag]))
            continue
        m, part = tag
        if part != "msg":
            continue  # a call: its message is written with its first item
        msg = msgs[m]
        if msg.get("role") == d.assistant:
            flush()
            if tag in p.texts:  # held text: before its call group (plan.py says why)
                edits.append(Edit("move-text", None, f"{base}/{m}", None if prev is None else f"{base}/{prev}", "",
                                  "up"))
            out.append(msg)
            last = prev = m
            continue
        prev = m
        c = msg.get(d.key)
        if not pending:
            if isinstance(c, list):
                rest = [b for b in c if d.result_id(b) is None]
                out.append(msg if len(rest) == len(c) else {**msg, d.key: rest})
            else:
                out.append(msg)
            src[0] = None
            continue
        rest = [b for b in c if d.result_id(b) is None] if isinstance(c, list) else \
            ([{"type": "text", "text": c}] if isinstance(c, str) and c else [])
        out.append({**msg, d.key: list(pending) + rest})
        pending.clear()
        src[0] = None
    flush()
    return out, edits


# ---- Gemini CLI session --------------------------------------------------------------------------
FINAL = ("success", "error", "cancelled")


def _gemini_cli(doc: dict, path: str):
    msgs = doc["messages"]
    edits: list = []
    out: list = []
    for i, m in enumerate(msgs):
        calls = m.get("toolCalls") if m.get("type") == "gemini" else None
        if not isinstance(calls, list) or all(isinstance(tc.get("result"), list) and tc["result"] for tc in calls):
            out.append(m)
            continue
        new_calls = []
        for k, tc in enumerate(calls):
            if isinstance(tc.get("result"), list) and tc["result"]:
                new_calls.append(tc)
                continue
            fr = {"id": tc["id"], "name": tc.get("name"), "response": {"error": SYNTHETIC_OUTPUT}}
            new = {**tc, "result": [{"functionResponse": fr}], MARKER: True}
            if new.get("status") not in FINAL:
                new["status"] = "cancelled"
            new_calls.append(new)
            edits.append(Edit("synthesize", tc["id"], None, f"/messages/{i}/toolCalls/{k}", ""))
        out.append({**m, "toolCalls": new_calls})
    return dict(doc, messages=out), edits
