"""Conformance with the real binary: every request codex-cli sends, against the model's prediction.

For each request a real run sent, the history the binary had recorded by then (the rollout file's
response items up to the request's arrival) is turned into model items; the model's design for
that release normalizes it and builds the request for the wire (model/normalize.py, model/wire.py),
and the two requests are compared item by item in a common shape: message roles and grouping,
call ids and their order, where text lands, which results are real and which are made up
("aborted" by normalization, "aborted by user" by an interrupt). The provider's verdict on the
model's body must equal the real one (HTTP 400 or not).

DESIGNS maps the model's named Codex designs to the releases that carry them.
"""

from __future__ import annotations

from datetime import datetime

from turnproof.model import items as I
from turnproof.model.designs import get as get_design
from turnproof.model.normalize import normalize
from turnproof.model.provider import judge
from turnproof.model.wire import build_request

from .judge import _output_text, _text, is_context

# design -> (release, wire): 0.78.0 is not on npm, 0.79.0 carries the 0.78 chat builder (PR #8556);
# a5783f90c (PR #17470) is in rust-v0.122.0 (jiangshengdev/codex: `git tag --contains a5783f90c`)
DESIGNS = {
    "codex-0.77-chat": ("0.77.0", "chat"),
    "codex-0.77-responses": ("0.77.0", "responses"),
    "codex-0.78-chat": ("0.79.0", "chat"),
    "codex-0.122-responses": ("0.122.0", "responses"),
}


def _ts(line: dict) -> float:
    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()


def _out_tag(text: str) -> str:
    t = text.strip()
    if t == "aborted":
        return I.CODEX_ABORTED
    if t.endswith("aborted by user"):
        return I.USER_ABORT
    return I.OK


def item_of(p: dict):
    """A rollout response_item payload (or a request input item) as a model item, or None."""
    if not isinstance(p, dict) or is_context(p):
        return None
    t = p.get("type", "message")
    if t == "message":
        return I.user() if p.get("role") == "user" else I.text() if p.get("role") == "assistant" else None
    if t == "reasoning":
        return I.reasoning()
    if t in ("function_call", "custom_tool_call", "local_shell_call"):
        return I.call(p.get("call_id"))
    if t in ("function_call_output", "custom_tool_call_output"):
        return I.output(p.get("call_id"), _out_tag(_output_text(p)))
    return None


def history_before(run, req: dict) -> tuple:
    """The model items the binary had recorded when ``req`` arrived."""
    out = []
    for ln in run.rollout_lines:
        if ln.get("type") != "response_item" or _ts(ln) > req["t"]:
            continue
        it = item_of(ln.get("payload"))
        if it is not None:
            out.append(it)
    return tuple(out)


def shape_chat(msgs: list) -> list:
    out = []
    for m in msgs:
        if not isinstance(m, dict) or is_context(m):
            continue
        role = m.get("role")
        if role == "assistant":
            calls = tuple(str(tc.get("id")) for tc in m.get("tool_calls") or [])
            has_text = bool(_text(m.get("content")).strip())
            out.append(("assistant", calls, "text" if has_text else ""))
        elif role == "tool":
            c = m.get("content")
            out.append(("tool", str(m.get("tool_call_id")), _kind(c if isinstance(c, str) else str(c))))
        elif role == "user":
            out.append(("user",))
    return out


def shape_responses(items: list) -> list:
    out = []
    for it in items:
        if not isinstance(it, dict) or is_context(it):
            continue
        t = it.get("type", "message")
        if t == "message":
            out.append((it.get("role"),))
        elif t == "reasoning":
            out.append(("reasoning",))
        elif t in ("function_call_output", "custom_tool_call_output"):
            out.append(("output", str(it.get("call_id")), _kind(_output_text(it))))
        else:  # the model has one kind of call: function, custom and local shell calls pair alike
            out.append(("call", str(it.get("call_id"))))
    return out


def _kind(text: str) -> str:
    t = text.strip()
    if t.startswith("aborted (synthetic"):
        return "synthetic"
    tag = _out_tag(t)
    return {I.CODEX_ABORTED: "aborted", I.USER_ABORT: "aborted-by-user"}.get(tag, "real")


def compare(design: str, run) -> list:
    """[(request n, difference)] between the binary's requests and the model's; empty: conforms."""
    d = get_design(design)
    diffs = []
    prev_hist, prev_failed = None, False
    for req in run.model_requests:
        hist = history_before(run, req)
        if prev_failed and d.retry_prompt == "reuse":
            hist = prev_hist  # run_turn: a retry reuses the prompt built before the first attempt
        else:
            prev_hist = hist
        prev_failed = req["status"] != 400 and req.get("end", "complete") != "complete"
        items = normalize(hist, d.normalization)
        body = build_request(items, d.wire, d.chat_grouping)
        model_rejected = bool(judge(d.wire, body))
        if d.wire == "chat":
            mine, real = shape_chat(body), shape_chat(req["body"].get("messages") or [])
        else:
            mine, real = shape_responses(body), shape_responses(req["body"].get("input") or [])
        if mine != real:
            k = next((i for i, (a, b) in enumerate(zip(mine, real)) if a != b), min(len(mine), len(real)))
            diffs.append((req["n"], f"item {k}: model {mine[k] if k < len(mine) else None}, "
                                    f"binary {real[k] if k < len(real) else None} (history {I.show_all(hist)})"))
        if model_rejected != (req["status"] == 400):
            diffs.append((req["n"], f"verdict: model {'rejects' if model_rejected else 'accepts'}, provider answered "
                                    f"{req['status']}"))
    return diffs


class NotExpressible(Exception):
    """A model path the scripted provider and runner cannot make the binary take."""


def script_from_path(path: list) -> list:
    """The first response of a fault-free model path as a provider script (later responses: empty)."""
    from .provider import Call, Reasoning, Reply, Text
    items: list = []
    for action, arg, _ in path:
        if action in ("StreamError", "StreamClosed", "ToolFail", "Interrupt", "Crash", "HardAbort"):
            raise NotExpressible(f"{action}: only fault-free paths are scripted from the model")
        if action == "StreamReasoning":
            items.append(Reasoning())
        elif action == "StreamText":
            items.append(Text())
        elif action == "StreamToolCall":
            items.append(Call(f"call_{arg}"))
        elif action == "StreamCompleted":
            break
    return [Reply(items), Reply([])]
