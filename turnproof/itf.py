"""Counterexamples in the Informal Trace Format (ITF, Apalache ADR-015), which Apalache and Quint read.

A trace is ``{"#meta": {...}, "vars": [...], "states": [{"#meta": {"index": i}, var: value, ...}]}``
and, for a lasso (a `turn-ends` cycle), ``"loop": i``: the state the last one steps back to (the
step back is not listed: ITF has states, not steps).
Values use ITF's encoding: integers as ``{"#bigint": "n"}`` (what Quint writes), sets as
``{"#set": [...]}``, tuples as ``{"#tup": [...]}``, records as JSON objects, sequences as arrays.

The variables are the model's state fields (model.turnloop.FIELD_NAMES) under their own names,
typed uniformly so a typed reader accepts them: a history item is the record
``{kind, call, origin}`` with ``call`` 0 and ``origin`` "" where the model has none, an unset
``exit`` is "", and ``faults_used`` is the set of fault names. ``mbt::actionTaken`` names the
model action that led to each state ("init" for the first), as in Quint's model-based-testing
traces, and ``action_arg`` its argument as text.
"""

from __future__ import annotations

import json

from turnproof import __version__

from turnproof.model.seq import seq
from turnproof.model.turnloop import FAULT_BIT, FAULTS, FIELD_NAMES, TurnLoop
from turnproof.resolve import wire_label

ACTION_VAR = "mbt::actionTaken"
ARG_VAR = "action_arg"
FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def big(n: int) -> dict:
    return {"#bigint": str(int(n))}


EMPTY_TEXT = "empty-text"  # the origin field of an empty assistant message (items.EMPTY)


def _item(it: tuple) -> dict:
    kind, cid, tag = it
    origin = EMPTY_TEXT if (kind == "text" and tag == "") else tag if isinstance(tag, str) else ""
    return {"kind": str(kind), "call": big(cid if isinstance(cid, int) else 0), "origin": origin}


def encode_field(name: str, value: object) -> object:
    """One state field as an ITF value (types fixed per field, so every state has the same shape)."""
    if name in ("history", "queue", "file"):
        return [_item(it) for it in value]
    if name == "in_flight":
        return [str(x) for x in value]
    if name == "unrecorded":
        return [big(x) for x in value]
    if name == "faults_used":
        return {"#set": [f for f in FAULTS if value & FAULT_BIT[f]]}
    if name == "exit":
        return "" if value is None else str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return big(value)
    return str(value)


def encode_state(s: tuple) -> dict:
    return {name: encode_field(name, v) for name, v in zip(FIELD_NAMES, s)}


def _arg_text(action: str, arg: object) -> str:
    if arg is None:
        return ""
    if action in ("ToolFinish", "ToolFail", "ToolAbort", "DrainOutput", "DrainFailed"):
        return f"C{arg}"
    if action in ("StreamError", "StreamClosed"):  # the finished tools whose results it dropped
        return ", ".join(f"C{c}" for c in arg)
    return str(arg)


def trace_steps(v) -> tuple[list, int | None]:
    """[(action, arg, state)] of the whole counterexample, and the loop index for a cycle."""
    steps = list(v.path) + list(v.continuation)
    loop = None
    if v.cycle:
        # the cycle starts at the path's last state and ends back in it: ITF keeps each state
        # once and says which one the last state steps back to
        loop = len(steps) - 1
        steps += [(a, arg, t) for (a, arg), t in v.cycle[:-1]]
    return steps, loop


def violation_itf(model: TurnLoop, v, source: str = "model/turnloop.py") -> dict:
    """The ITF trace of violation ``v``: its path, then what follows (continuation or cycle)."""
    steps, loop = trace_steps(v)
    states = []
    for i, (action, arg, s) in enumerate(steps):
        st = {"#meta": {"index": i}}
        st.update(encode_state(s))
        st[ACTION_VAR] = "init" if action is None else action
        st[ARG_VAR] = _arg_text(action, arg) if action is not None else ""
        states.append(st)
    meta = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "source": source,
        "turnproof_version": __version__,
        "description": f"turnproof counterexample: {v.prop} violated by design {model.d.name} "
                       f"({wire_label(model.d)}), {len(v.path) - 1} steps",
        "property": v.prop,
        "design": model.d.name,
        "knobs": {k: (x if isinstance(x, bool) else str(x)) for k, x in model.d.knobs().items()},
        "params": {"calls": model.p.calls, "rounds": model.p.rounds, "turns": model.p.turns, "retries": model.p.retries,
                   "max_faults": model.p.max_faults, "faults": [f for f in FAULTS if f in model.p.faults],
                   "text": model.p.text, "reduce": model.p.reduce},
        "violation_index": len(v.path) - 1,
    }
    out = {"#meta": meta, "vars": list(FIELD_NAMES) + [ACTION_VAR, ARG_VAR], "states": states}
    if loop is not None:
        out["loop"] = loop
    return out


def dumps(trace: dict) -> str:
    return json.dumps(trace, indent=1, sort_keys=False) + "\n"


def decode_value(x: object) -> object:
    """ITF value -> plain Python (tuples for #tup, frozensets for #set): for tests and readers."""
    if isinstance(x, dict):
        if "#bigint" in x:
            return int(x["#bigint"])
        if "#set" in x:
            return frozenset(decode_value(e) for e in x["#set"])
        if "#tup" in x:
            return tuple(decode_value(e) for e in x["#tup"])
        if "#map" in x:
            return {decode_value(k): decode_value(w) for k, w in x["#map"]}
        return {k: decode_value(w) for k, w in x.items()}
    if isinstance(x, list):
        return [decode_value(e) for e in x]
    return x


def decode_state(st: dict) -> tuple:
    """Back to a model state tuple (inverse of encode_state; the tests check the round trip)."""
    vals = []
    for name in FIELD_NAMES:
        x = decode_value(st[name])
        if name in ("history", "queue", "file"):
            x = seq((e["kind"], e["call"] or None,
                     "" if e["origin"] == EMPTY_TEXT else (e["origin"] or None)) for e in x)
        elif name in ("in_flight", "unrecorded"):
            x = tuple(x)
        elif name == "faults_used":
            x = sum(FAULT_BIT[f] for f in x)
        elif name == "exit":
            x = x or None
        vals.append(x)
    return tuple(vals)
