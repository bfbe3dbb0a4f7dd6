"""Request bodies and message lists: OpenAI chat, OpenAI Responses, Anthropic Messages, Gemini.

A file holds one JSON document: a request body (``{"messages": ...}``, ``{"input": ...}``,
``{"contents": ...}``) or the bare list. It is checked as it stands, by the provider judge of its
dialect (model.provider), and every rejection is located by a JSON pointer (RFC 6901) to the call
or result it is about. Shapes the judges cannot read (a message that is not an object, a call
without an id, a call id reused while the first call is still waiting for its result) are
LintErrors naming the file and the pointer.
"""

from __future__ import annotations

import json

from turnproof.model.provider import CALL_TYPES, OUTPUT_TYPES, judge_anthropic, judge_chat, judge_gemini, judge_responses

from .findings import Finding, LintError
from .rollout import _tname

DIALECTS = ("codex-rollout", "openai-chat", "openai-responses", "anthropic", "gemini")
WIRE_OF = {"openai-chat": "chat", "openai-responses": "responses", "anthropic": "anthropic", "gemini": "gemini"}
LIST_KEY = {"openai-chat": "messages", "openai-responses": "input", "anthropic": "messages", "gemini": "contents"}


def load_document(path: str, max_bytes: int) -> object:
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise LintError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise LintError(f"{path}: larger than {max_bytes} bytes; raise --max-line-mb to read it")
    if not data.strip():
        raise LintError(f"{path}: empty file")
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise LintError(f"{path}:{line}: binary data (a NUL byte), not JSON")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise LintError(f"{path}:{line}: not valid UTF-8 (byte {e.start + 1})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise LintError(f"{path}: JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise LintError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None


def detect(doc: object) -> str | None:
    """The dialect of a JSON document, from the shape of its items (None when nothing fits)."""
    if isinstance(doc, dict):
        if "input" in doc:
            return "openai-responses"
        if "contents" in doc:
            return "gemini"
        if "messages" in doc:
            msgs = doc["messages"]
            if isinstance(msgs, list) and _has_blocks(msgs):
                return "anthropic"
            if isinstance(doc.get("system"), (str, list)) and isinstance(doc.get("max_tokens"), int):
                return "anthropic"  # Anthropic's body shape: a top-level system prompt and max_tokens
            return "openai-chat"
        return None
    if isinstance(doc, list):
        dicts = [x for x in doc if isinstance(x, dict)]
        if any("parts" in x for x in dicts):
            return "gemini"
        types = {x.get("type") for x in dicts if isinstance(x.get("type"), str)}
        if types & (set(CALL_TYPES) | set(OUTPUT_TYPES) | {"message", "reasoning"}):
            return "openai-responses"
        if _has_blocks(dicts):
            return "anthropic"
        if dicts and all("role" in x for x in dicts):
            return "openai-chat"
    return None


def _has_blocks(msgs: list) -> bool:
    return any(isinstance(m, dict) and isinstance(m.get("content"), list)
               and any(isinstance(b, dict) and b.get("type") in ("tool_use", "tool_result") for b in m["content"])
               for m in msgs)


def items_of(doc: object, dialect: str, path: str) -> tuple[list, str]:
    """The message / item list of a body or bare list, and its JSON pointer."""
    key = LIST_KEY[dialect]
    if isinstance(doc, dict):
        if key not in doc:
            raise LintError(f"{path}: a {dialect} body needs a \"{key}\" list")
        lst, base = doc[key], f"/{key}"
        if dialect == "openai-responses" and isinstance(lst, str):
            return [], base  # a plain prompt string holds no calls
    else:
        lst, base = doc, ""
    if not isinstance(lst, list):
        raise LintError(f"{path}: {base or '/'}: expected a list, not {_tname(lst)}")
    return lst, base


def lint_document(doc: object, dialect: str, path: str) -> list[Finding]:
    lst, base = items_of(doc, dialect, path)
    return {"openai-chat": _chat, "openai-responses": _responses, "anthropic": _anthropic,
            "gemini": _gemini}[dialect](lst, base, path)


class _Ids:
    """Call ids waiting for their result: a call reusing one of them makes pairing ambiguous."""

    def __init__(self, path: str):
        self.path, self.open = path, {}

    def call(self, cid: str, ptr: str) -> None:
        if cid in self.open:
            raise LintError(f"{self.path}: {ptr}: call id {cid} is used again while the call at "
                            f"{self.open[cid]} has no result: which result answers which is ambiguous")
        self.open[cid] = ptr

    def result(self, cid: str) -> None:
        self.open.pop(cid, None)


def _obj(x: object, path: str, ptr: str) -> dict:
    if not isinstance(x, dict):
        raise LintError(f"{path}: {ptr}: expected an object, not {_tname(x)}")
    return x


def _sid(x: object, path: str, ptr: str, what: str) -> str:
    if not isinstance(x, str) or not x:
        raise LintError(f"{path}: {ptr}: {what} " + ("missing" if x is None else
                                                       "empty" if x == "" else f"is {_tname(x)}, not a string"))
    return x


def _chat(msgs: list, base: str, path: str) -> list[Finding]:
    ids = _Ids(path)
    for i, m in enumerate(msgs):
        p = f"{base}/{i}"
        m = _obj(m, path, p)
        if not isinstance(m.get("role"), str):
            raise LintError(f"{path}: {p}: message without a \"role\" string")
        tcs = m.get("tool_calls")
        if tcs is not None:
            if not isinstance(tcs, list):
                raise LintError(f"{path}: {p}/tool_calls: expected a list, not {_tname(tcs)}")
            for k, tc in enumerate(tcs):
                ids.call(_sid(_obj(tc, path, f"{p}/tool_calls/{k}").get("id"), path, f"{p}/tool_calls/{k}", "id"),
                         f"{p}/tool_calls/{k}")
        if m["role"] == "tool":
            ids.result(_sid(m.get("tool_call_id"), path, p, "tool_call_id"))
    out = []
    for r in judge_chat(msgs):
        for cid in r.call_ids:
            ptr = f"{base}/{r.index}"
            if r.rule == "chat-missing-tool-response":
                k = next(k for k, tc in enumerate(msgs[r.index]["tool_calls"]) if tc["id"] == cid)
                ptr += f"/tool_calls/{k}"
            out.append(Finding(r.rule, cid, pointer=ptr, provider_error=r.text, wire="chat", param=r.param or None))
    return out


def _responses(items: list, base: str, path: str) -> list[Finding]:
    ids = _Ids(path)
    for i, it in enumerate(items):
        p = f"{base}/{i}"
        it = _obj(it, path, p)
        t = it.get("type")
        if t is not None and not isinstance(t, str):
            raise LintError(f"{path}: {p}/type: expected a string, not {_tname(t)}")
        if t in CALL_TYPES:
            ids.call(_sid(it.get("call_id"), path, p, "call_id"), p)
        elif t in OUTPUT_TYPES:
            cid = it.get("call_id")
            if cid not in (None, ""):  # a missing call_id is a provider rule with its own text
                ids.result(_sid(cid, path, p, "call_id"))
    return [Finding(r.rule, r.call_ids[0] if r.call_ids else None, pointer=f"{base}/{r.index}",
                    provider_error=r.text, wire="responses", param=r.param or None) for r in judge_responses(items)]


def _anthropic(msgs: list, base: str, path: str) -> list[Finding]:
    ids = _Ids(path)
    for i, m in enumerate(msgs):
        p = f"{base}/{i}"
        m = _obj(m, path, p)
        if not isinstance(m.get("role"), str):
            raise LintError(f"{path}: {p}: message without a \"role\" string")
        c = m.get("content")
        if isinstance(c, str):
            continue
        if not isinstance(c, list):
            raise LintError(f"{path}: {p}/content: expected a string or a list, not {_tname(c)}")
        for j, b in enumerate(c):
            bp = f"{p}/content/{j}"
            b = _obj(b, path, bp)
            if b.get("type") == "tool_use":
                ids.call(_sid(b.get("id"), path, bp, "id"), bp)
            elif b.get("type") == "tool_result":
                ids.result(_sid(b.get("tool_use_id"), path, bp, "tool_use_id"))
    out = []
    for r in judge_anthropic(msgs):
        blocks = msgs[r.index].get("content") if isinstance(msgs[r.index].get("content"), list) else []
        key = "id" if r.rule == "anthropic-missing-result" else "tool_use_id"
        for cid in r.call_ids:
            js = [j for j, b in enumerate(blocks) if b.get(key) == cid]
            j = (js[-1] if r.rule == "anthropic-duplicate-result" else js[0]) if js else None
            ptr = f"{base}/{r.index}" + (f"/content/{j}" if j is not None else "")
            out.append(Finding(r.rule, cid, pointer=ptr, provider_error=r.text, wire="anthropic"))
    return out


def _gemini(contents: list, base: str, path: str) -> list[Finding]:
    for i, c in enumerate(contents):
        p = f"{base}/{i}"
        c = _obj(c, path, p)
        parts = c.get("parts")
        if parts is None:
            continue
        if not isinstance(parts, list):
            raise LintError(f"{path}: {p}/parts: expected a list, not {_tname(parts)}")
        for k, part in enumerate(parts):
            part = _obj(part, path, f"{p}/parts/{k}")
            for key in ("functionCall", "functionResponse"):
                if key in part:
                    _obj(part[key], path, f"{p}/parts/{k}/{key}")
    out = []
    for r in judge_gemini(contents):
        calls = [pt["functionCall"] for pt in contents[r.index]["parts"] if isinstance(pt, dict) and "functionCall" in pt]
        names = ", ".join(str(fc.get("id") or fc.get("name") or "?") for fc in calls)
        out.append(Finding(r.rule, names or None, pointer=f"{base}/{r.index}", provider_error=r.text, wire="gemini"))
    return out
