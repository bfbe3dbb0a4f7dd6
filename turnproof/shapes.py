"""Real request shapes <-> the model's history items, for hooks (turnproof/hooks.py).

A user's hook sees and returns what its agent handles: the items of a wire API as JSON-like dicts
with real call ids, never the model's ``(kind, call_id, tag)`` tuples (model/items.py).

- ``encode(items, shape, grouping)`` is the history as that wire carries it: the body the model's
  own builder makes (model/wire.py), without chat's system message (instructions, not history).
  Only ``responses`` is exact (one input item per history item, reasoning included: Codex's
  history *is* Responses items); on the other wires reasoning is not sent, an assistant run is
  one message (chat: per the design's grouping) and the order inside a message is the builder's.
- ``decode(body, shape)`` flattens any body of that wire back into items, in order, and checks its
  shape: a dict per element, a known role or type, an id on every call and result. Anything else
  raises ShapeError naming the element (``[3].tool_calls[0]: no 'id'``).

Contents map to tags: the model's own texts ("user message", "assistant text", "result of 1",
"aborted", ...) come back as the tags they were made from, so a hook that returns what it was
given changes nothing; any other text is the hook's own (items.written). Ids ``call_N`` and
``toolu_N`` are the model's call N; others stay strings.
"""

from __future__ import annotations

import json
import re

from turnproof.model import items as I
from turnproof.model.wire import WIRES, _OUTPUT_TEXT, _content, build_request

SHAPES = WIRES


class ShapeError(ValueError):
    """Not a valid body of the wire: ``where`` is the element's path, ``str()`` says what is wrong."""

    def __init__(self, where: str, msg: str):
        super().__init__(f"{where}: {msg}" if where else msg)
        self.where = where


def encode(items: tuple, shape: str, grouping: str = "response") -> list:
    """The history ``items`` as the ``shape`` wire carries it (see the module docstring)."""
    body = build_request(items, shape, grouping)
    if shape == "chat":
        body = body[1:]  # the system message: instructions, not history
    return body


_MODEL_ID = re.compile(r"^(?:call|toolu)_([1-9][0-9]{0,8})$")
_USER_TEXT, _ASSISTANT_TEXT = _content(I.user()), _content(I.text())
_TAG_OF_OUTPUT = {text: tag for tag, text in _OUTPUT_TEXT.items()}


def call_id(raw: object, where: str) -> object:
    if not isinstance(raw, str) or not raw:
        raise ShapeError(where, f"the call id must be a non-empty string, not {_short(raw)}")
    m = _MODEL_ID.match(raw)
    return int(m.group(1)) if m else raw


def _user(text: str) -> tuple:
    return I.user() if text == _USER_TEXT else I.user(I.written(text))


def _text(text: str) -> tuple:
    if text == _ASSISTANT_TEXT:
        return I.text()
    return I.text(I.EMPTY) if text == "" else I.text(I.written(text))


def _output(cid: object, text: str) -> tuple:
    tag = _TAG_OF_OUTPUT.get(text)
    if tag is not None:
        return I.output(cid, tag)
    if text == f"result of {cid}":
        return I.output(cid, I.OK)
    return I.output(cid, I.written(text))


def _short(x: object) -> str:
    s = repr(x)
    return s if len(s) <= 40 else s[:39] + "\u2026"


def _dict(x: object, where: str) -> dict:
    if not isinstance(x, dict):
        raise ShapeError(where, f"expected an object (dict), not {type(x).__name__} {_short(x)}")
    return x


def _list(x: object, where: str) -> list:
    if not isinstance(x, list):
        raise ShapeError(where, f"expected a list, not {type(x).__name__} {_short(x)}")
    return x


def _str(x: object, where: str, what: str) -> str:
    if not isinstance(x, str):
        raise ShapeError(where, f"{what} must be a string, not {type(x).__name__} {_short(x)}")
    return x


def _text_of(content: object, where: str, keys=("text",), missing: str | None = None) -> str:
    """A string, or a list of text parts joined (OpenAI and Anthropic both allow either)."""
    if content is None and missing is not None:
        return missing
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for j, part in enumerate(content):
            p = _dict(part, f"{where}[{j}]")
            for k in keys:
                if isinstance(p.get(k), str):
                    out.append(p[k])
                    break
            else:
                raise ShapeError(f"{where}[{j}]", f"a content part with no text ({_short(p)})")
        return "".join(out)
    raise ShapeError(where, f"content must be a string or a list of text parts, not {_short(content)}")


# ---- decoders, one per wire ----------------------------------------------------------------------
def _decode_chat(body: list) -> list:
    out: list = []
    for i, raw in enumerate(body):
        w = f"[{i}]"
        m = _dict(raw, w)
        role = m.get("role")
        if role in ("system", "developer"):
            continue  # instructions are not history
        if role == "user":
            out.append(_user(_text_of(m.get("content"), f"{w}.content")))
        elif role == "assistant":
            if "function_call" in m:
                raise ShapeError(w, "legacy 'function_call' is not supported; use 'tool_calls'")
            if m.get("reasoning") not in (None, "") or m.get("reasoning_content") not in (None, ""):
                out.append(I.reasoning())
            content = m.get("content")
            if content is not None:
                out.append(_text(_text_of(content, f"{w}.content")))
            calls = m.get("tool_calls")
            if calls is not None:
                for j, tc in enumerate(_list(calls, f"{w}.tool_calls")):
                    tc = _dict(tc, f"{w}.tool_calls[{j}]")
                    if "id" not in tc:
                        raise ShapeError(f"{w}.tool_calls[{j}]", "no 'id'")
                    out.append(I.call(call_id(tc["id"], f"{w}.tool_calls[{j}].id")))
        elif role == "tool":
            if "tool_call_id" not in m:
                raise ShapeError(w, "a 'tool' message with no 'tool_call_id'")
            cid = call_id(m["tool_call_id"], f"{w}.tool_call_id")
            out.append(_output(cid, _text_of(m.get("content"), f"{w}.content", missing="")))
        else:
            raise ShapeError(w, f"unknown role {_short(role)}; chat roles: system, developer, user, assistant, tool")
    return out


_CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call")
_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")


def _decode_responses(body: list) -> list:
    out: list = []
    for i, raw in enumerate(body):
        w = f"[{i}]"
        it = _dict(raw, w)
        t = it.get("type", "message" if "role" in it else None)
        if t == "message":
            role = it.get("role")
            if role in ("system", "developer"):
                continue
            text = _text_of(it.get("content"), f"{w}.content")
            if role == "user":
                out.append(_user(text))
            elif role == "assistant":
                out.append(_text(text))
            else:
                raise ShapeError(w, f"unknown message role {_short(role)}; roles: user, assistant, system, developer")
        elif t == "reasoning":
            out.append(I.reasoning())
        elif t in _CALL_TYPES:
            if "call_id" not in it:
                raise ShapeError(w, f"a {t} with no 'call_id'")
            out.append(I.call(call_id(it["call_id"], f"{w}.call_id")))
        elif t in _OUTPUT_TYPES:
            if "call_id" not in it:
                raise ShapeError(w, f"a {t} with no 'call_id'")
            cid = call_id(it["call_id"], f"{w}.call_id")
            out.append(_output(cid, _text_of(it.get("output"), f"{w}.output", missing="")))
        else:
            raise ShapeError(w, f"unknown item type {_short(t)}; types: message, reasoning, "
                                f"{', '.join(_CALL_TYPES + _OUTPUT_TYPES)}")
    return out


def _decode_anthropic(body: list) -> list:
    out: list = []
    for i, raw in enumerate(body):
        w = f"[{i}]"
        m = _dict(raw, w)
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise ShapeError(w, f"unknown role {_short(role)}; Anthropic roles: user, assistant")
        content = m.get("content")
        if isinstance(content, str):
            out.append(_user(content) if role == "user" else _text(content))
            continue
        for j, raw_b in enumerate(_list(content, f"{w}.content")):
            wb = f"{w}.content[{j}]"
            b = _dict(raw_b, wb)
            t = b.get("type")
            if t == "text":
                text = _str(b.get("text"), wb, "'text'")
                out.append(_user(text) if role == "user" else _text(text))
            elif t in ("thinking", "redacted_thinking"):
                out.append(I.reasoning())
            elif t == "tool_use":
                if role != "assistant":
                    raise ShapeError(wb, "a tool_use block in a user message")
                if "id" not in b:
                    raise ShapeError(wb, "a tool_use block with no 'id'")
                out.append(I.call(call_id(b["id"], f"{wb}.id")))
            elif t == "tool_result":
                if role != "user":
                    raise ShapeError(wb, "a tool_result block in an assistant message")
                if "tool_use_id" not in b:
                    raise ShapeError(wb, "a tool_result block with no 'tool_use_id'")
                cid = call_id(b["tool_use_id"], f"{wb}.tool_use_id")
                out.append(_output(cid, _text_of(b.get("content"), f"{wb}.content", missing="")))
            else:
                raise ShapeError(wb, f"unknown block type {_short(t)}; types: text, thinking, "
                                     "redacted_thinking, tool_use, tool_result")
    return out


def _decode_gemini(body: list) -> list:
    out: list = []
    for i, raw in enumerate(body):
        w = f"[{i}]"
        c = _dict(raw, w)
        role = c.get("role")
        if role not in ("user", "model"):
            raise ShapeError(w, f"unknown role {_short(role)}; Gemini roles: user, model")
        for j, raw_p in enumerate(_list(c.get("parts"), f"{w}.parts")):
            wp = f"{w}.parts[{j}]"
            p = _dict(raw_p, wp)
            if "functionCall" in p:
                if role != "model":
                    raise ShapeError(wp, "a functionCall part in a user turn")
                fc = _dict(p["functionCall"], f"{wp}.functionCall")
                if "id" not in fc:
                    raise ShapeError(f"{wp}.functionCall", "no 'id'")
                out.append(I.call(call_id(fc["id"], f"{wp}.functionCall.id")))
            elif "functionResponse" in p:
                if role != "user":
                    raise ShapeError(wp, "a functionResponse part in a model turn")
                fr = _dict(p["functionResponse"], f"{wp}.functionResponse")
                if "id" not in fr:
                    raise ShapeError(f"{wp}.functionResponse", "no 'id'")
                cid = call_id(fr["id"], f"{wp}.functionResponse.id")
                resp = fr.get("response")
                text = resp.get("output") if isinstance(resp, dict) else None
                out.append(_output(cid, text if isinstance(text, str) else json.dumps(resp, sort_keys=True)))
            elif p.get("thought") is True:
                out.append(I.reasoning())
            elif "text" in p:
                text = _str(p["text"], wp, "'text'")
                out.append(_user(text) if role == "user" else _text(text))
            else:
                raise ShapeError(wp, "a part with none of text, functionCall, functionResponse")
    return out


def _decode_bedrock(body: list) -> list:
    out: list = []
    for i, raw in enumerate(body):
        w = f"[{i}]"
        m = _dict(raw, w)
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise ShapeError(w, f"unknown role {_short(role)}; Bedrock roles: user, assistant")
        for j, raw_b in enumerate(_list(m.get("content"), f"{w}.content")):
            wb = f"{w}.content[{j}]"
            b = _dict(raw_b, wb)
            if "toolUse" in b:
                if role != "assistant":
                    raise ShapeError(wb, "a toolUse block in a user message")
                tu = _dict(b["toolUse"], f"{wb}.toolUse")
                if "toolUseId" not in tu:
                    raise ShapeError(f"{wb}.toolUse", "no 'toolUseId'")
                out.append(I.call(call_id(tu["toolUseId"], f"{wb}.toolUse.toolUseId")))
            elif "toolResult" in b:
                if role != "user":
                    raise ShapeError(wb, "a toolResult block in an assistant message")
                tr = _dict(b["toolResult"], f"{wb}.toolResult")
                if "toolUseId" not in tr:
                    raise ShapeError(f"{wb}.toolResult", "no 'toolUseId'")
                cid = call_id(tr["toolUseId"], f"{wb}.toolResult.toolUseId")
                out.append(_output(cid, _text_of(tr.get("content"), f"{wb}.toolResult.content", missing="")))
            elif "reasoningContent" in b:
                out.append(I.reasoning())
            elif "text" in b:
                text = _str(b["text"], wb, "'text'")
                out.append(_user(text) if role == "user" else _text(text))
            else:
                raise ShapeError(wb, "a block with none of text, toolUse, toolResult, reasoningContent")
    return out


_DECODERS = {"chat": _decode_chat, "responses": _decode_responses, "anthropic": _decode_anthropic,
             "gemini": _decode_gemini, "bedrock": _decode_bedrock}


def decode(body: object, shape: str) -> tuple:
    """The history items a ``shape`` body carries, in order (ShapeError if it is not one)."""
    return tuple(_DECODERS[shape](_list(body, "")))
