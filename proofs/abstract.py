"""The turn loop for any number of parallel calls: an abstract state machine on z3.

A model state (model/turnloop.py) holds the history as a sequence whose length grows with the
number of calls N. The abstract state keeps every scalar field of the model state as it is, under
the model's field names (``phase``, ``ncalls``, ``drained``, ...; ``in_flight`` is an array indexed
by position, of any length, with ``in_flight_len``), and replaces each item sequence by what a
left-to-right *pairing automaton* knows after reading it, plus a few labelled facts:

- ``orderly``: the session record (history in memory; the rollout file while the process is down):
  call ids strictly increase, and every output answers the oldest call still pending in the group
  just before it, with nothing but outputs between a group's run and its outputs. While it holds,
  the automaton fields are exact: ``automaton`` (outside a run / inside an assistant-side run / in
  the outputs after one), the pending call ids ``[pending_lo, pending_hi)``, ``run_calls`` in the
  current run, ``run_text_after_call`` and ``groups_ok`` (every run closed so far suits the
  design's chat grouping).
- ``results_in_history``: every real result of the rollout (file and write queue, replayed: a
  ``compacted`` line replaces what came before it, as resume does) is in the history.
- ``removals_whole``: every real result a removal took out of the replayed rollout went with its
  call: the call is in neither the replayed rollout nor the history (results-kept excuses exactly
  those). True for every design without removal. ``removed_below``: every result a removal took has
  an id below it (a bound: larger is weaker), so a call recorded with a higher id brings no removed
  result's call back.
- ``rollout_is_history``: the replayed rollout (file and queue, events left out) equals the history
  (a truncated result counts as the whole one: pairing never reads content).
- ``well_formed`` / ``rollout_well_formed``: the record / the rollout: call ids strictly increase
  and lie below the next id, each output answers a call earlier in it, no call is answered twice,
  and every output id lies below ``outputs_below`` / ``rollout_outputs_below``. Weaker than
  orderly: calls may stay unanswered and groups may be split, which the Responses wire and the
  codex normalization tolerate.
- ``in_flight_recorded``: the calls in flight are in the history and in the rollout.
- ``turns_paired`` / ``rollout_turns_paired``: the record / the replayed rollout is well formed and
  no user turn starts between a call and its output (a cut at a turn start splits no pair: rollback).
  ``flight_in_turn``: the calls in flight come after the last turn start of the history (so their
  outputs keep the history's pairs inside one turn).
- ``rollout_like_history``: the replayed rollout equals the history once made-up outputs are left
  out of both (a truncated result counts as the whole one): the same turns, calls and real results
  in the same order (rollback cuts both at the same turn).
- ``prompt_quiet``, ``prompt_calls_answered``, ``prompt_no_orphans``, ``prompt_wire_valid``: facts
  about the prompt a v0.77 retry reuses (``has_prompt``): no real result was recorded since it
  was built, and its verdicts when it was sent.
- ``first_turn_next`` is ``turn_no == 0``; ``used_<fault>`` are the bits of ``faults_used``;
  ``unrecorded`` says the model's ``unrecorded`` is not empty (a finished tool's result was dropped
  since the last request).

A flag set to True is a guaranteed fact; False means "not known". Every abstract step makes the
same choices the model makes, and where it cannot compute a fact it drops it (or leaves a free
choice), so each model step is matched by an abstract step (proofs/README.md argues it; tests
check it on every explored step).

The same automaton runs on Python values (``alpha``, the abstraction of a concrete state) and on
z3 terms (the transitions), through the small ``ite``/``conj``/``disj``/``neg`` helpers; ``term``
is the one place a Python value becomes a z3 term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from ..model import items as I
from ..model import turnloop as M
from ..model.designs import Design

# encodings of the model's enumerations
PHASES = M.PHASES
IDLE, READY, STREAM, DRAIN, CANCEL, DOWN, REFUSED = range(7)
EXITS = (None, "completed", "error")
X_NONE, X_COMPLETED, X_ERROR = range(3)
STATUSES = (M.RUNNING, M.DONE, M.FAILED, M.ABORTED)
RUNNING, DONE, FAILED, ABORTED = range(4)
AUT = ("outside", "run", "outputs")
A_BASE, A_RUN, A_OUTS = range(3)

# abstract fields by sort; ``in_flight`` is the array of future statuses
INTS = ("phase", "turns_left", "ncalls", "text", "in_flight_len", "drained", "base_id", "next_id", "exit",
        "retries_left", "automaton", "pending_lo", "pending_hi", "run_calls", "outputs_below",
        "rollout_outputs_below", "rounds_left", "removed_below")
BOOLS = ("first_turn_next", "calls_ok", "reasoned", "has_prompt", "text_after_drain", "orderly",
         "run_text_after_call", "groups_ok", "results_in_history", "rollout_is_history", "prompt_quiet",
         "prompt_calls_answered", "prompt_no_orphans", "prompt_wire_valid", "well_formed", "rollout_well_formed",
         "in_flight_recorded", "used_stream_error", "used_stream_closed", "used_tool_failure", "used_interrupt",
         "used_crash", "used_compaction", "used_rollback", "unrecorded", "removals_whole", "turns_paired",
         "rollout_turns_paired", "flight_in_turn", "rollout_like_history")
# faults_used, one flag per kind (model/turnloop.py FAULTS order)
USED = {f: "used_" + f.replace("-", "_") for f in M.FAULTS}
FIELDS = INTS + BOOLS + ("in_flight",)
# exact only while orderly holds
HIST_FIELDS = ("automaton", "pending_lo", "pending_hi", "run_calls", "run_text_after_call", "groups_ok")
# meaningful only while has_prompt holds
PROMPT_FACTS = ("prompt_quiet", "prompt_calls_answered", "prompt_no_orphans", "prompt_wire_valid")
assert set(USED.values()) <= set(BOOLS)


# ---- one automaton, two interpretations (Python values or z3 terms) -----------------------------
def _py(*xs) -> bool:
    return all(isinstance(x, (bool, int)) for x in xs)


def ite(c, a, b):
    if isinstance(c, bool):
        return a if c else b
    return z3.If(c, a, b)


def conj(*xs):
    return all(xs) if _py(*xs) else z3.And(*xs)


def disj(*xs):
    return any(xs) if _py(*xs) else z3.Or(*xs)


def neg(x):
    return (not x) if isinstance(x, bool) else z3.Not(x)


def implies(a, b):
    return disj(neg(a), b)


def run_ok(d: Design, run_calls, text_after_call):
    """The current run, once closed, is accepted by the design's chat grouping (when paired)."""
    if d.wire != "chat" or d.chat_grouping == "response":
        return True
    if d.chat_grouping == "consecutive":  # push_tool_call_message: text after a call splits it
        return neg(text_after_call)
    return conj(run_calls <= 1, neg(text_after_call))  # per-call: two calls are two assistant messages


def _close_run(d: Design, h: dict):
    """groups_ok once the current run (if the automaton is inside one) is closed."""
    return ite(h["automaton"] == A_RUN, conj(h["groups_ok"], run_ok(d, h["run_calls"], h["run_text_after_call"])),
               h["groups_ok"])


def h_user(d: Design, h: dict) -> dict:
    opened = h["pending_lo"] < h["pending_hi"]
    return {**h, "orderly": conj(h["orderly"], neg(opened)), "groups_ok": _close_run(d, h),
            "automaton": A_BASE, "run_calls": 0, "run_text_after_call": False}


def h_assistant(d: Design, h: dict, is_text: bool) -> dict:
    """Reasoning or text: joins the current run, or starts one."""
    opened = h["pending_lo"] < h["pending_hi"]
    in_run = h["automaton"] == A_RUN
    after_call = disj(h["run_text_after_call"], conj(is_text, h["run_calls"] > 0))
    return {**h, "orderly": conj(h["orderly"], disj(in_run, neg(opened))), "automaton": A_RUN,
            "run_calls": ite(in_run, h["run_calls"], 0), "run_text_after_call": ite(in_run, after_call, False)}


def h_call(d: Design, h: dict, cid) -> dict:
    opened = h["pending_lo"] < h["pending_hi"]
    in_run = h["automaton"] == A_RUN
    ok = conj(cid >= h["pending_hi"], disj(neg(opened), conj(in_run, cid == h["pending_hi"])))
    return {**h, "orderly": conj(h["orderly"], ok), "automaton": A_RUN,
            "pending_lo": ite(opened, h["pending_lo"], cid), "pending_hi": cid + 1,
            "run_calls": ite(in_run, h["run_calls"] + 1, 1),
            "run_text_after_call": ite(in_run, h["run_text_after_call"], False)}


def h_outputs(d: Design, h: dict, first, count) -> dict:
    """``count`` outputs for calls first, first+1, ... (count >= 1), in that order."""
    ok = conj(disj(h["automaton"] == A_RUN, h["automaton"] == A_OUTS), first == h["pending_lo"],
              first + count <= h["pending_hi"])
    return {**h, "orderly": conj(h["orderly"], ok), "automaton": A_OUTS, "pending_lo": h["pending_lo"] + count,
            "groups_ok": _close_run(d, h)}


def h_close(d: Design, h: dict) -> dict:
    """Outputs for every pending call, at the end (what `ours` adds to an orderly record)."""
    opened = h["pending_lo"] < h["pending_hi"]
    return {**h, "automaton": ite(opened, A_OUTS, h["automaton"]), "pending_lo": h["pending_hi"],
            "groups_ok": ite(opened, _close_run(d, h), h["groups_ok"])}


H_INIT = {"orderly": True, "automaton": A_BASE, "pending_lo": 1, "pending_hi": 1, "run_calls": 0,
          "run_text_after_call": False, "groups_ok": True}


def automaton(d: Design, items) -> dict:
    """The automaton fields after reading ``items`` (Python)."""
    h = dict(H_INIT)
    for it in items:
        k = it[0]
        if k == I.USER:
            h = h_user(d, h)
        elif k in (I.REASONING, I.TEXT):
            h = h_assistant(d, h, k == I.TEXT)
        elif k == I.CALL:
            h = h_call(d, h, it[1])
        elif k == I.OUTPUT:
            h = h_outputs(d, h, it[1], 1)
    return h


# ---- verdicts on the request a READY state sends ----------------------------------------------
def fresh_prompt(d: Design, s: dict):
    """The request is built from the current history (not a reused v0.77 prompt)."""
    return True if d.retry_prompt == "rebuild" else neg(s["has_prompt"])


def paired(s: dict):
    return conj(s["orderly"], s["pending_lo"] == s["pending_hi"])


def ok_props(d: Design, s: dict) -> dict:
    """Per safety property: True only if the request sent from ``s`` is guaranteed to satisfy it.

    An orderly record with no pending call is left unchanged by every normalization, and its
    body is accepted by every wire once its runs suit the chat grouping (tested against
    model/normalize, wire and provider in tests/test_proofs_abstraction.py)."""
    fr = fresh_prompt(d, s)
    p = paired(s)
    w = s["well_formed"]
    # every call of the copy gets exactly one output: codex, ours and placeholder add one to a call
    # with none, drop-both drops such a call
    fills = d.normalization in ("codex", "ours", "placeholder", "drop-both")
    return {
        "calls-answered": ite(fr, disj(p, conj(w, fills)), s["prompt_calls_answered"]),
        "no-orphan-results": ite(fr, disj(p, w), s["prompt_no_orphans"]),
        "wire-valid": ite(fr, disj(conj(p, s["groups_ok"]), conj(w, fills, d.wire == "responses")), s["prompt_wire_valid"]),
        # every normalization keeps the outputs of a well-formed record; a reused prompt lacks
        # those recorded after it was built; a result a removal took is excused when its call went
        # too (removals_whole), and normalization adds no call
        "results-kept": conj(s["results_in_history"], s["removals_whole"], disj(s["orderly"], w),
                             ite(fr, True, s["prompt_quiet"])),
        # no finished tool lost its result since the last request (the model's own field, exact)
        "results-recorded": neg(s["unrecorded"]),
        # judged on removal steps, not on requests: proofs/induction.py states it as removal_safe
        "removal-keeps-pairs": disj(fr, True),
    }


def well_formed(items, next_id: int) -> tuple[bool, int]:
    """(is ``items`` well formed below ``next_id``, the least bound above its output ids)."""
    calls: set = set()
    answered: set = set()
    last = 0
    below = 1
    for it in items:
        if it[0] == I.CALL:
            if not (isinstance(it[1], int) and last < it[1] < next_id):
                return False, below
            last = it[1]
            calls.add(it[1])
        elif it[0] == I.OUTPUT:
            if it[1] not in calls or it[1] in answered:
                return False, below
            answered.add(it[1])
            below = max(below, it[1] + 1)
    return True, below


# ---- the abstraction of a concrete model state --------------------------------------------------
def _real_outputs(seq) -> list:
    return [I.result_key(it) for it in seq if it[0] == I.OUTPUT and I.is_real_output(it)]


def _keyed(seq, made_up: bool = True) -> tuple:
    """The items as pairing sees them: a truncated result is the whole one; without ``made_up``, the
    made-up outputs left out."""
    return tuple(I.result_key(it) if it[0] == I.OUTPUT else it[:3] for it in seq
                 if made_up or not (it[0] == I.OUTPUT and it[2] in I.MADE_UP))


def turns_paired(items, next_id: int) -> bool:
    """Well formed, and no user turn starts between a call and its output (a turn as a rollback
    counts it: a compaction's summary too)."""
    if not well_formed(items, next_id)[0]:
        return False
    turn_of: dict = {}
    turn = 0
    for it in items:
        if I.is_rollback_boundary(it):
            turn += 1
        elif it[0] == I.CALL:
            turn_of[it[1]] = turn
        elif it[0] == I.OUTPUT and turn_of.get(it[1]) != turn:
            return False
    return True


def flight_in_turn(history, ids) -> bool:
    """Every call of ``history`` with one of the in-flight ``ids`` comes after its last turn start."""
    starts = [i for i, it in enumerate(history) if I.is_turn_start(it)]
    last = starts[-1] if starts else -1
    return all(i > last for i, it in enumerate(history) if it[0] == I.CALL and it[1] in ids)


def alpha(d: Design, s: tuple) -> dict:
    """The most precise abstract state for the model state ``s`` (Python values)."""
    st = M.State(*s)
    ph = PHASES.index(st.phase)
    raw = tuple(it for it in st.file + st.queue if it[0] != "turn_aborted")
    fq = M.replay(st.file + st.queue)  # what the rollout resumes to (markers applied)
    down = ph in (DOWN, REFUSED)  # the process is gone: the record is the file, replayed
    record = M.replay(st.file) if down else st.history
    a: dict[str, Any] = {"phase": ph, "turns_left": st.turns_left, "ncalls": st.ncalls, "text": st.text,
         "in_flight_len": len(st.in_flight), "drained": st.drained, "base_id": st.base_id, "next_id": st.next_id,
         "exit": EXITS.index(st.exit), "retries_left": st.retries_left, "first_turn_next": st.turn_no == 0,
         "calls_ok": st.calls_ok, "reasoned": st.reasoned, "has_prompt": st.prompt_len != M.NO_PROMPT,
         "text_after_drain": st.text_after_drain, "in_flight": tuple(STATUSES.index(x) for x in st.in_flight),
         "rounds_left": st.rounds_left, "unrecorded": bool(st.unrecorded)}
    a.update({u: bool(st.faults_used & M.FAULT_BIT[f]) for f, u in USED.items()})
    a.update(automaton(d, record))
    a["well_formed"], a["outputs_below"] = well_formed(record, a["next_id"])
    a["rollout_well_formed"], a["rollout_outputs_below"] = well_formed(fq, a["next_id"])
    ids = {(-1 - i if d.call_ids == "index" else st.base_id + i) for i in range(a["in_flight_len"])}
    a["in_flight_recorded"] = all(any(it[0] == I.CALL and it[1] == c for it in seq)
                                  for c in ids for seq in (st.history, fq))
    if down:
        a["results_in_history"] = a["rollout_is_history"] = True
    else:
        present = set(_keyed(st.history))
        a["results_in_history"] = all(o in present for o in _real_outputs(fq))
        a["rollout_is_history"] = _keyed(fq) == _keyed(st.history)
    a["rollout_like_history"] = down or _keyed(fq, made_up=False) == _keyed(st.history, made_up=False)
    a["turns_paired"] = turns_paired(record, a["next_id"])
    a["rollout_turns_paired"] = turns_paired(fq, a["next_id"])
    a["flight_in_turn"] = flight_in_turn(st.history, ids)
    replayed = set(_real_outputs(fq))
    calls = {it[1] for seq in (fq, record) for it in seq if it[0] == I.CALL}
    removed = [o[1] for o in _real_outputs(raw) if o not in replayed]
    a["removals_whole"] = all(c not in calls for c in removed)
    a["removed_below"] = max([1] + [c + 1 for c in removed if isinstance(c, int)])
    if a["has_prompt"]:
        pre = st.history[: st.prompt_len]
        hp = automaton(d, pre)
        fake = {**a, **hp, "has_prompt": False, "results_in_history": True, **dict.fromkeys(PROMPT_FACTS, True),
                "well_formed": well_formed(pre, a["next_id"])[0]}
        v = ok_props(d, fake)  # the prompt's verdicts, as judged when it was first sent
        a["prompt_calls_answered"], a["prompt_no_orphans"] = v["calls-answered"], v["no-orphan-results"]
        a["prompt_wire_valid"] = v["wire-valid"]
        a["prompt_quiet"] = not _real_outputs(st.history[st.prompt_len:])
    else:
        a["prompt_calls_answered"] = a["prompt_no_orphans"] = a["prompt_wire_valid"] = a["prompt_quiet"] = False
    return a


# ---- symbolic states -----------------------------------------------------------------------------
@dataclass
class SymbolicParams:
    """The model's bounds (model/turnloop.py ``Params``), all symbolic: N parallel calls, T user turns,
    R stream retries, K rounds of calls in the first turn."""

    N: z3.ArithRef
    T: z3.ArithRef
    R: z3.ArithRef
    K: z3.ArithRef = z3.IntVal(2)

    @staticmethod
    def fresh(tag: str = "") -> SymbolicParams:
        return SymbolicParams(z3.Int("N" + tag), z3.Int("T" + tag), z3.Int("R" + tag), z3.Int("K" + tag))

    def constraint(self):
        return z3.And(self.N >= 1, self.T >= 1, self.R >= 0, self.K >= 1)


def fresh_state(tag: str) -> dict:
    s: dict = {f: z3.Int(f"{f}{tag}") for f in INTS}
    s.update({f: z3.Bool(f"{f}{tag}") for f in BOOLS})
    s["in_flight"] = z3.Array(f"in_flight{tag}", z3.IntSort(), z3.IntSort())
    return s


def z3_value(a: dict) -> dict:
    """A concrete abstract state (from ``alpha``) as z3 terms."""
    out = {f: term(a[f]) for f in INTS + BOOLS}
    arr = z3.K(z3.IntSort(), z3.IntVal(-1))
    for i, st in enumerate(a["in_flight"]):
        arr = z3.Store(arr, i, st)
    out["in_flight"] = arr
    return out


def init_state(p: SymbolicParams) -> dict:
    """TurnLoop.init_states: idle, nothing recorded, call ids start at 1."""
    s = {"phase": IDLE, "turns_left": p.T, "ncalls": 0, "text": M.NO_TEXT, "in_flight_len": 0, "drained": 0,
         "base_id": 1, "next_id": 1, "exit": X_NONE, "retries_left": p.R, "first_turn_next": True, "calls_ok": False,
         "reasoned": False, "has_prompt": False, "text_after_drain": False, "results_in_history": True,
         "rollout_is_history": True, "well_formed": True, "rollout_well_formed": True, "in_flight_recorded": True,
         "outputs_below": 1, "rollout_outputs_below": 1, "prompt_quiet": False, "prompt_calls_answered": False,
         "prompt_no_orphans": False, "prompt_wire_valid": False, **dict.fromkeys(USED.values(), False),
         "rounds_left": 0, "unrecorded": False, "removals_whole": True, "removed_below": 1, "turns_paired": True,
         "rollout_turns_paired": True, "flight_in_turn": True, "rollout_like_history": True,
         "in_flight": z3.K(z3.IntSort(), z3.IntVal(-1))}
    s.update(H_INIT)
    return {k: term(v) for k, v in s.items()}


def term(v):
    """A Python bool or int as a z3 term (z3 terms pass through): the one coercion."""
    if isinstance(v, bool):
        return z3.BoolVal(v)
    if isinstance(v, int):
        return z3.IntVal(v)
    return v


def merge(c, a: dict, b: dict) -> dict:
    """Field-wise if-then-else of two states."""
    out = {}
    for k in a:
        out[k] = a[k] if a[k] is b[k] else z3.If(c, term(a[k]), term(b[k]))
    return out
