"""JSON documents: request bodies of every wire API, and the Gemini CLI session file.

A file holds one JSON document: a request body (``{"messages": ...}``, ``{"input": ...}``,
``{"contents": ...}``), the bare list, or a Gemini CLI session (``{"sessionId", "messages":
[{"type": "user" | "gemini", "toolCalls": [...]}]}``). Its dialect is told by content (``detect``),
or forced with ``--dialect``; a document no dialect fits is a LintError ("not a session format I
know"). It is judged as it stands by the provider judge of its wire (model.provider), for the
provider the body was meant for (its ``model`` field, or the wire's own provider; ``--provider``
overrides), and every rejection is located by a JSON pointer (RFC 6901) to the call or result it
is about. What other providers on the same wire would reject is information, not a finding.

- OpenAI chat: ``tool_calls`` / ``tool`` messages; the legacy ``function_call`` / role ``function``
  pair by position (no provider text was recorded for them: a missing one is a calls-answered finding).
- OpenAI Responses: every call/output pair type (function, custom, local_shell; ``tool_search``,
  ``computer``, ``apply_patch``, ``shell`` and other ``*_call`` / ``*_call_output`` pairs by call_id).
  A body with ``previous_response_id`` or ``conversation`` continues a stored response: its outputs
  may answer calls stored server side, so they are never orphans.
- Anthropic Messages: ``tool_use`` / ``tool_result``; ``server_tool_use`` and ``mcp_tool_use`` are
  answered by their result blocks inside the assistant message. ``system`` is not needed.
- Gemini generateContent: ``functionCall`` / ``functionResponse`` parts; the Gemini CLI session's
  ``toolCalls`` carry their result inline (a call without one is unanswered).
- Bedrock Converse: ``toolUse`` / ``toolResult`` blocks.

Parsing is strict: NaN / Infinity and duplicate keys are findings of their own; numbers too long
for Python, a lone surrogate or bad UTF-8 are one-line errors naming the file.
"""

from __future__ import annotations

import json
import re

from turnproof.fileio import UnsafePath, open_input
from turnproof.model.provider import (CALL_TYPES, OUTPUT_TYPES, PROVIDERS_BY_NAME, SERVER_CALL_TYPES, is_server_result,
                                      judge, judge_responses, provider_for)

from .findings import DUPLICATE_KEY, NONSTANDARD, Finding, LintError
from .rollout import _tname

DIALECTS = ("codex-rollout", "claude-code", "gemini-cli", "openai-chat", "openai-responses", "anthropic", "gemini",
            "bedrock")
WIRE_OF = {"openai-chat": "chat", "openai-responses": "responses", "anthropic": "anthropic", "gemini": "gemini",
           "bedrock": "bedrock", "claude-code": "anthropic", "gemini-cli": "gemini", "codex-rollout": "responses"}
LIST_KEY = {"openai-chat": "messages", "openai-responses": "input", "anthropic": "messages", "gemini": "contents",
            "bedrock": "messages", "gemini-cli": "messages"}
UNKNOWN = "not a session format I know"

# Responses pair types beyond function/custom/local_shell: a `*_call` item answered by `*_call_output`
_PAIR = re.compile(r"^([a-z_]+)_call$")


def _call_type(t: object) -> bool:
    return isinstance(t, str) and (t in CALL_TYPES or (bool(_PAIR.match(t)) and t not in _SERVER_SIDE))


def _output_type(t: object) -> bool:
    return isinstance(t, str) and (t in OUTPUT_TYPES or (t.endswith("_call_output") and t[:-7] not in _SERVER_SIDE))


# run by OpenAI itself, never answered by the client
_SERVER_SIDE = frozenset(("web_search_call", "file_search_call", "image_generation_call", "code_interpreter_call",
                          "mcp_call"))


class _Strict:
    """json.loads hooks: NaN / Infinity and duplicate keys are recorded, not silently accepted."""

    def __init__(self):
        self.constants: list = []
        self.dupes: list = []

    def constant(self, name: str) -> float:
        self.constants.append(name)
        return float(name.replace("Infinity", "inf"))

    def pairs(self, pairs: list) -> dict:
        d: dict = {}
        for k, v in pairs:
            if k in d:
                self.dupes.append(k)
            d[k] = v
        return d


def parse_json(text: str | bytes, where: str) -> tuple[object, _Strict]:
    """Strict parse; a LintError names ``where`` for anything json.loads refuses."""
    st = _Strict()
    try:
        doc = json.loads(text, parse_constant=st.constant, object_pairs_hook=st.pairs)
    except RecursionError:
        raise LintError(f"{where}: JSON nested too deeply") from None
    except UnicodeDecodeError as e:
        raise LintError(f"{where}: not valid UTF-8 (byte {e.start + 1})") from None
    except json.JSONDecodeError as e:
        raise LintError(f"{where}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
    except ValueError as e:  # e.g. an integer literal past Python's 4300-digit limit
        raise LintError(f"{where}: not readable JSON ({str(e).splitlines()[0][:120]})") from None
    return doc, st


def strict_findings(st: _Strict, line: int | None = None, pointer: str | None = None) -> list[Finding]:
    out = [Finding(NONSTANDARD, None, line, pointer if line is None else None,
                   message=f"{c} is not JSON; no provider accepts it") for c in dict.fromkeys(st.constants)]
    out += [Finding(DUPLICATE_KEY, None, line, pointer if line is None else None,
                    message=f"key {k!r} appears twice in one object; readers disagree on which value counts")
            for k in dict.fromkeys(st.dupes)]
    return out


def has_surrogates(doc: object) -> str | None:
    """A lone surrogate in any string (JSON allows the escape; no provider or UTF-8 file can hold it)."""
    stack = [doc]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return x.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:60]
        elif isinstance(x, dict):
            stack += list(x.keys()) + list(x.values())
        elif isinstance(x, list):
            stack += x
    return None


def load_document(path: str, max_bytes: int) -> object:
    return load_document_strict(path, max_bytes)[0]


def load_document_strict(path: str, max_bytes: int) -> tuple[object, list[Finding]]:
    try:
        with open_input(path) as f:
            data = f.read(max_bytes + 1)
    except UnsafePath as e:
        raise LintError(str(e)) from None
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
    doc, st = parse_json(text, path)
    bad = has_surrogates(doc)
    if bad is not None:
        raise LintError(f"{path}: a lone surrogate escape in a string ({bad!r}): not valid Unicode")
    return doc, strict_findings(st, pointer="")


# ---- dialect detection -------------------------------------------------------------------------
def _blocks_of(msgs: list) -> list:
    return [b for m in msgs if isinstance(m, dict) and isinstance(m.get("content"), list)
            for b in m["content"] if isinstance(b, dict)]


def _is_bedrock(msgs: list) -> bool:
    blocks = _blocks_of(msgs)
    return bool(blocks) and any(("toolUse" in b or "toolResult" in b) for b in blocks) \
        and not any("type" in b for b in blocks)


def _is_anthropic(msgs: list) -> bool:
    return any(b.get("type") in ("tool_use", "tool_result") + SERVER_CALL_TYPES or is_server_result(b.get("type"))
               for b in _blocks_of(msgs))


def detect(doc: object) -> str | None:
    """The dialect of a JSON document, from the shape of its items (None when nothing fits)."""
    if isinstance(doc, dict):
        msgs = doc.get("messages")
        if "sessionId" in doc and isinstance(msgs, list) and all(
                isinstance(m, dict) and m.get("type") in ("user", "gemini", "info", "error", "warning")
                for m in msgs):
            return "gemini-cli"
        if "input" in doc:
            return "openai-responses"
        if "contents" in doc:
            return "gemini"
        if isinstance(msgs, list):
            if _is_bedrock(msgs):
                return "bedrock"
            if _is_anthropic(msgs):
                return "anthropic"
            if isinstance(doc.get("system"), (str, list)) and isinstance(doc.get("max_tokens"), int) \
                    and "tool_calls" not in json.dumps(msgs)[:1 << 20]:
                return "anthropic"  # Anthropic's body shape: a top-level system prompt and max_tokens
            return "openai-chat"  # shape errors are then named by the chat reader
        if "messages" in doc:
            return "openai-chat"
        return None
    if isinstance(doc, list):
        dicts = [x for x in doc if isinstance(x, dict)]
        if not dicts:
            return None
        if all("parts" in x for x in dicts):
            return "gemini"
        types = {x.get("type") for x in dicts if isinstance(x.get("type"), str)}
        if any(_call_type(t) or _output_type(t) for t in types) or types & {"message", "reasoning"}:
            return "openai-responses"
        if _is_bedrock(dicts):
            return "bedrock"
        if _is_anthropic(dicts):
            return "anthropic"
        if all(isinstance(x.get("role"), str) for x in dicts):
            return "openai-chat"
    return None


# ---- which provider the body was for -----------------------------------------------------------
_MODEL_PROVIDER = (("gpt-oss", "gpt-oss"), ("deepseek", "deepseek"), ("mistral", "mistral"), ("devstral", "mistral"),
                   ("codestral", "mistral"), ("magistral", "mistral"), ("ministral", "mistral"),
                   ("claude", "anthropic"), ("gemini", "gemini"))


def provider_of(doc: object, wire: str, forced: str | None = None) -> tuple[str, str]:
    """(provider name, why) for a body on ``wire``."""
    if forced:
        provider_for(wire, forced)  # a provider that does not serve this wire is a usage error
        return forced, "--provider"
    model = doc.get("model") if isinstance(doc, dict) else None
    if isinstance(model, str):
        low = model.lower()
        for key, name in _MODEL_PROVIDER:
            if key in low and wire in PROVIDERS_BY_NAME[name].wires:
                return name, f"model {model!r}"
    p = provider_for(wire).name
    return p, f"the {wire} wire's own provider" + (f" (model {model!r})" if isinstance(model, str) else "")


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


def stateful(doc: object) -> bool:
    return isinstance(doc, dict) and bool(doc.get("previous_response_id") or doc.get("conversation"))


class Judged:
    """What lint_document found: findings (the provider in use), info (other providers), and who judged."""

    def __init__(self, findings: list, info: list, provider: str, why: str):
        self.findings, self.info, self.provider, self.why = findings, info, provider, why


def lint_document(doc: object, dialect: str, path: str, provider: str | None = None) -> list[Finding]:
    return judge_document(doc, dialect, path, provider).findings


def judge_document(doc: object, dialect: str, path: str, provider: str | None = None) -> Judged:
    lst, base = items_of(doc, dialect, path)
    if dialect == "gemini-cli":
        body, loc = gemini_cli_contents(lst, base, path)
        return _judge_body(body, "gemini", loc, doc, provider, path)
    wire = WIRE_OF[dialect]
    _validate[dialect](lst, base, path)
    if dialect == "openai-responses":
        lst = [_norm_responses_item(x) for x in lst]
    extra = _legacy_functions(lst, base) if dialect == "openai-chat" else []
    loc = _Locator(dialect, lst, base)
    j = _judge_body(lst, wire, loc, doc, provider, path, stateful(doc))
    j.findings = extra + j.findings
    return j


def _judge_body(body: list, wire: str, loc, doc: object, provider: str | None, path: str,
                is_stateful: bool = False) -> Judged:
    used, why = provider_of(doc, wire, provider)
    findings = _findings(body, wire, used, loc, is_stateful)
    info: list = []
    for other in PROVIDERS_BY_NAME.values():
        if other.name != used and wire in other.wires:
            info += _findings(body, wire, other.name, loc, is_stateful)
    return Judged(findings, info, used, why)


def _findings(body: list, wire: str, provider: str, loc, is_stateful: bool) -> list[Finding]:
    rs = judge_responses(body, provider, stateful=is_stateful) if wire == "responses" else judge(wire, body, provider)
    out = []
    for r in rs:
        for cid in r.call_ids or (None,):
            out.append(Finding(r.rule, cid, pointer=loc(r.index, cid, r.rule), provider_error=r.text, wire=wire,
                               param=r.param or None, provider=provider))
    return out


class _Locator:
    """JSON pointer of the block / tool call with id ``cid`` in message ``index`` (found by one index)."""

    def __init__(self, dialect: str, lst: list, base: str):
        self.dialect, self.lst, self.base = dialect, lst, base
        self.index: dict = {}
        for i, m in enumerate(lst):
            for sub, cid in _ids_in(dialect, m):
                self.index.setdefault((i, cid), sub)

    def __call__(self, i: int, cid: str | None, rule: str) -> str:
        p = f"{self.base}/{i}"
        if cid is not None and (i, cid) in self.index:
            p += self.index[(i, cid)]
        return p


def _ids_in(dialect: str, m: object) -> list:
    if not isinstance(m, dict):
        return []
    if dialect == "openai-chat":
        tcs = m.get("tool_calls") if isinstance(m.get("tool_calls"), list) else []
        return [(f"/tool_calls/{k}", str(tc.get("id"))) for k, tc in enumerate(tcs) if isinstance(tc, dict)]
    if dialect == "anthropic":
        c = m.get("content") if isinstance(m.get("content"), list) else []
        return [(f"/content/{j}", str(b.get("id") if "id" in b else b.get("tool_use_id")))
                for j, b in enumerate(c) if isinstance(b, dict) and ("id" in b or "tool_use_id" in b)]
    if dialect == "bedrock":
        c = m.get("content") if isinstance(m.get("content"), list) else []
        out = []
        for j, b in enumerate(c):
            if isinstance(b, dict):
                for key in ("toolUse", "toolResult"):
                    if isinstance(b.get(key), dict):
                        out.append((f"/content/{j}", str(b[key].get("toolUseId"))))
        return out
    return []


def _norm_responses_item(it: dict) -> dict:
    """Other pair types (tool_search_call, computer_call, ...) judged like function calls."""
    t = it.get("type")
    if isinstance(t, str) and t not in CALL_TYPES and _call_type(t):
        return {**it, "type": "function_call"}
    if isinstance(t, str) and t not in OUTPUT_TYPES and _output_type(t):
        return {**it, "type": "function_call_output"}
    return it


# ---- shape validation: what the judges cannot read is a LintError naming the pointer -----------
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


def _v_chat(msgs: list, base: str, path: str) -> None:
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


def _legacy_functions(msgs: list, base: str) -> list[Finding]:
    """Legacy function calling pairs by position: an assistant function_call, then a role function message."""
    out = []
    for i, m in enumerate(msgs):
        fc = m.get("function_call") if m.get("role") == "assistant" else None
        if isinstance(fc, dict):
            name = str(fc.get("name"))
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            if not (isinstance(nxt, dict) and nxt.get("role") == "function"):
                out.append(Finding("calls-answered", name, pointer=f"{base}/{i}/function_call",
                                   message=f"function_call {name} is not followed by a role function message"))
        if m.get("role") == "function":
            prev = msgs[i - 1] if i else None
            if not (isinstance(prev, dict) and isinstance(prev.get("function_call"), dict)):
                out.append(Finding("no-orphan-results", str(m.get("name")), pointer=f"{base}/{i}",
                                   message="role function message with no assistant function_call before it"))
    return out


def _v_responses(items: list, base: str, path: str) -> None:
    ids = _Ids(path)
    for i, it in enumerate(items):
        p = f"{base}/{i}"
        it = _obj(it, path, p)
        t = it.get("type")
        if t is not None and not isinstance(t, str):
            raise LintError(f"{path}: {p}/type: expected a string, not {_tname(t)}")
        if _call_type(t):
            cid = it.get("call_id", it.get("id") if t == "local_shell_call" else None)
            ids.call(_sid(cid, path, p, "call_id"), p)
        elif _output_type(t):
            cid = it.get("call_id")
            if cid not in (None, ""):  # a missing call_id is left to the provider judge and repair
                ids.result(_sid(cid, path, p, "call_id"))


def _v_anthropic(msgs: list, base: str, path: str) -> None:
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
            if b.get("type") in ("tool_use",) + SERVER_CALL_TYPES:
                _sid(b.get("id"), path, bp, "id")
                if b.get("type") == "tool_use":
                    ids.call(b["id"], bp)
            elif b.get("type") == "tool_result" or is_server_result(b.get("type")):
                rid = _sid(b.get("tool_use_id"), path, bp, "tool_use_id")
                if b.get("type") == "tool_result":
                    ids.result(rid)


def _v_gemini(contents: list, base: str, path: str) -> None:
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


def _v_bedrock(msgs: list, base: str, path: str) -> None:
    ids = _Ids(path)
    for i, m in enumerate(msgs):
        p = f"{base}/{i}"
        m = _obj(m, path, p)
        if not isinstance(m.get("role"), str):
            raise LintError(f"{path}: {p}: message without a \"role\" string")
        c = m.get("content")
        if not isinstance(c, list):
            raise LintError(f"{path}: {p}/content: expected a list, not {_tname(c)}")
        for j, b in enumerate(c):
            bp = f"{p}/content/{j}"
            b = _obj(b, path, bp)
            if "toolUse" in b:
                ids.call(_sid(_obj(b["toolUse"], path, bp + "/toolUse").get("toolUseId"), path, bp, "toolUseId"), bp)
            elif "toolResult" in b:
                ids.result(_sid(_obj(b["toolResult"], path, bp + "/toolResult").get("toolUseId"), path, bp,
                                "toolUseId"))


_validate = {"openai-chat": _v_chat, "openai-responses": _v_responses, "anthropic": _v_anthropic,
             "gemini": _v_gemini, "bedrock": _v_bedrock}


# ---- Gemini CLI session ------------------------------------------------------------------------
def gemini_cli_contents(msgs: list, base: str, path: str) -> tuple[list, object]:
    """The session as generateContent ``contents``: per gemini message with toolCalls, one model turn of
    its calls and one user turn of the results recorded inline."""
    contents: list = []
    where: dict = {}  # (content index, call id) -> pointer
    for i, m in enumerate(msgs):
        p = f"{base}/{i}"
        m = _obj(m, path, p)
        if m.get("type") == "user":
            contents.append({"role": "user", "parts": [{"text": "user message"}]})
            continue
        if m.get("type") != "gemini":
            continue
        calls = m.get("toolCalls") or []
        if not isinstance(calls, list):
            raise LintError(f"{path}: {p}/toolCalls: expected a list, not {_tname(calls)}")
        if not calls:
            contents.append({"role": "model", "parts": [{"text": "assistant text"}]})
            continue
        fc, fr = [], []
        for k, tc in enumerate(calls):
            tc = _obj(tc, path, f"{p}/toolCalls/{k}")
            cid = _sid(tc.get("id"), path, f"{p}/toolCalls/{k}", "id")
            fc.append({"functionCall": {"id": cid, "name": tc.get("name")}})
            where[(len(contents), cid)] = f"{p}/toolCalls/{k}"
            if isinstance(tc.get("result"), list) and tc["result"]:
                fr.append({"functionResponse": {"id": cid, "name": tc.get("name")}})
        contents.append({"role": "model", "parts": fc})
        contents.append({"role": "user", "parts": fr})
        if not fr:
            contents.pop()

    def loc(index: int, cid: str | None, rule: str) -> str:
        if cid is None:  # the count rule names no id: point at the first unanswered call of the turn
            c = contents[index]
            nxt = contents[index + 1]["parts"] if index + 1 < len(contents) else []
            got = {x["functionResponse"]["id"] for x in nxt if "functionResponse" in x}
            miss = [x["functionCall"]["id"] for x in c["parts"] if "functionCall" in x
                    and x["functionCall"]["id"] not in got]
            cid = miss[0] if miss else None
        return where.get((index, cid), base)

    return contents, loc
