"""The turn loop for any number of parallel calls: an abstract state machine on z3.

A model state (model/turnloop.py) holds the history as a sequence whose length grows with the
number of calls N. The abstract state keeps every scalar field of the model state as it is, the
in-flight futures as an array indexed by position (any length), and replaces each item sequence
by what a left-to-right *pairing automaton* knows after reading it, plus a few labelled facts:

- ``hok``: the session record (history in memory; the rollout file while the process is down) is
  *orderly*: call ids strictly increase, and every output answers the oldest call still pending
  in the group just before it, with nothing but outputs between a group's run and its outputs.
  When ``hok`` holds, the automaton fields are exact:
  ``aut`` (outside a run / inside an assistant-side run / in the outputs after one), the
  pending call ids ``[plo, phi)``, ``rc`` calls in the current run, ``rtac`` (text came after a
  call in this run) and ``gok`` (every run closed so far suits the design's chat grouping).
- ``kept``: every real result in the rollout (file and write queue) is in the history.
- ``fqeq``: the rollout (file and queue, events left out) equals the history.
- ``wf`` / ``fwf``: the record / the rollout is *well formed*: call ids strictly increase and lie
  below the next id, each output answers a call earlier in it, no call is answered twice, and
  every output id lies below ``omax`` / ``fomax``. Weaker than orderly: calls may stay unanswered
  and groups may be split, which the Responses wire and the codex normalization tolerate.
- ``ifr``: the calls in flight are in the history and in the rollout.
- ``quiet``, ``pca``, ``porph``, ``pwire``: facts about the prompt a v0.77 retry reuses: no real
  result was recorded since it was built, and its verdicts when it was sent.

A flag set to True is a guaranteed fact; False means "not known". Every abstract step makes the
same choices the model makes, and where it cannot compute a fact it drops it (or leaves a free
choice), so each model step is matched by an abstract step (proofs/README.md argues it; tests
check it on every explored step).

The same automaton runs on Python values (``alpha``, the abstraction of a concrete state) and on
z3 terms (the transitions), through the small ``ite``/``conj``/``disj``/``neg`` helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

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

# abstract fields: (name, sort); ``infl`` is the in-flight array
INTS = ("ph", "turns", "nc", "txt", "nf", "dr", "base", "nxt", "ex", "rt", "aut", "plo", "phi", "rc",
        "omax", "fomax")
BOOLS = ("tn0", "cok", "rsn", "pr", "ptx", "hok", "rtac", "gok", "kept", "fqeq", "quiet",
         "pca", "porph", "pwire", "wf", "fwf", "ifr",
         "u_se", "u_sc", "u_tf", "u_in", "u_cr")
# faults_used, one bit per kind (model/turnloop.py FAULTS order)
USED = dict(zip(M.FAULTS, ("u_se", "u_sc", "u_tf", "u_in", "u_cr")))
FIELDS = INTS + BOOLS + ("infl",)
HIST_FIELDS = ("aut", "plo", "phi", "rc", "rtac", "gok")  # exact only while hok holds
PROMPT_FACTS = ("quiet", "pca", "porph", "pwire")  # meaningful only while pr holds


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


def run_ok(d: Design, rc, rtac):
    """The current run, once closed, is accepted by the design's chat grouping (when paired)."""
    if d.wire != "chat" or d.chat_grouping == "response":
        return True
    if d.chat_grouping == "consecutive":  # push_tool_call_message: text after a call splits it
        return neg(rtac)
    return conj(rc <= 1, neg(rtac))  # per-call: two calls are two assistant messages


def h_user(d: Design, h: dict) -> dict:
    opened = h["plo"] < h["phi"]
    return {**h, "hok": conj(h["hok"], neg(opened)),
            "gok": ite(h["aut"] == A_RUN, conj(h["gok"], run_ok(d, h["rc"], h["rtac"])), h["gok"]),
            "aut": A_BASE, "rc": 0, "rtac": False}


def h_assistant(d: Design, h: dict, is_text: bool) -> dict:
    """Reasoning or text: joins the current run, or starts one."""
    opened = h["plo"] < h["phi"]
    in_run = h["aut"] == A_RUN
    return {**h, "hok": conj(h["hok"], disj(in_run, neg(opened))),
            "aut": A_RUN, "rc": ite(in_run, h["rc"], 0),
            "rtac": ite(in_run, disj(h["rtac"], conj(is_text, h["rc"] > 0)), False)}


def h_call(d: Design, h: dict, cid) -> dict:
    opened = h["plo"] < h["phi"]
    in_run = h["aut"] == A_RUN
    ok = conj(cid >= h["phi"], disj(neg(opened), conj(in_run, cid == h["phi"])))
    return {**h, "hok": conj(h["hok"], ok), "aut": A_RUN,
            "plo": ite(opened, h["plo"], cid), "phi": cid + 1,
            "rc": ite(in_run, h["rc"] + 1, 1), "rtac": ite(in_run, h["rtac"], False)}


def h_outputs(d: Design, h: dict, first, count) -> dict:
    """``count`` outputs for calls first, first+1, ... (count >= 1), in that order."""
    ok = conj(disj(h["aut"] == A_RUN, h["aut"] == A_OUTS), first == h["plo"], first + count <= h["phi"])
    return {**h, "hok": conj(h["hok"], ok), "aut": A_OUTS, "plo": h["plo"] + count,
            "gok": ite(h["aut"] == A_RUN, conj(h["gok"], run_ok(d, h["rc"], h["rtac"])), h["gok"])}


def h_close(d: Design, h: dict) -> dict:
    """Outputs for every pending call, at the end (what `ours` adds to an orderly record)."""
    opened = h["plo"] < h["phi"]
    return {**h, "aut": ite(opened, A_OUTS, h["aut"]), "plo": h["phi"],
            "gok": ite(conj(opened, h["aut"] == A_RUN), conj(h["gok"], run_ok(d, h["rc"], h["rtac"])), h["gok"])}


H_INIT = {"hok": True, "aut": A_BASE, "plo": 1, "phi": 1, "rc": 0, "rtac": False, "gok": True}


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
    return True if d.retry_prompt == "rebuild" else neg(s["pr"])


def paired(s: dict):
    return conj(s["hok"], s["plo"] == s["phi"])


def ok_props(d: Design, s: dict) -> dict:
    """Per safety property: True only if the request sent from ``s`` is guaranteed to satisfy it.

    An orderly record with no pending call is left unchanged by every normalization, and its
    body is accepted by every wire once its runs suit the chat grouping (tested against
    model/normalize, wire and provider in tests/test_proofs_abstraction.py)."""
    fr = fresh_prompt(d, s)
    p = paired(s)
    w = s["wf"]
    fills = d.normalization in ("codex", "ours")  # every call of the copy gets exactly one output
    return {
        "calls-answered": ite(fr, disj(p, conj(w, fills)), s["pca"]),
        "no-orphan-results": ite(fr, disj(p, w), s["porph"]),
        "wire-valid": ite(fr, disj(conj(p, s["gok"]), conj(w, fills, d.wire == "responses")), s["pwire"]),
        # every normalization keeps the outputs of a well-formed record; a reused prompt lacks
        # those recorded after it was built
        "results-kept": conj(s["kept"], disj(s["hok"], w), ite(fr, True, s["quiet"])),
    }


def well_formed(items, nxt: int) -> tuple[bool, int]:
    """(is ``items`` well formed below ``nxt``, the least bound above its output ids)."""
    calls: set = set()
    answered: set = set()
    last = 0
    omax = 1
    for it in items:
        if it[0] == I.CALL:
            if not (isinstance(it[1], int) and last < it[1] < nxt):
                return False, omax
            last = it[1]
            calls.add(it[1])
        elif it[0] == I.OUTPUT:
            if it[1] not in calls or it[1] in answered:
                return False, omax
            answered.add(it[1])
            omax = max(omax, it[1] + 1)
    return True, omax


# ---- the abstraction of a concrete model state --------------------------------------------------
def _real_outputs(seq) -> list:
    return [it[:3] for it in seq if it[0] == I.OUTPUT and I.is_real_output(it)]


def alpha(d: Design, s: tuple) -> dict:
    """The most precise abstract state for the model state ``s`` (Python values)."""
    s = M.State(*s)
    ph = PHASES.index(s.phase)
    fq = tuple(it for it in s.file + s.queue if it[0] != "turn_aborted")
    down = ph in (DOWN, REFUSED)  # the process is gone: the record is the file
    record = tuple(it for it in s.file if it[0] != "turn_aborted") if down else s.history
    a = {"ph": ph, "turns": s.turns_left, "nc": s.ncalls, "txt": s.text, "nf": len(s.in_flight),
         "dr": s.drained, "base": s.base_id, "nxt": s.next_id, "ex": EXITS.index(s.exit),
         "rt": s.retries_left, "tn0": s.turn_no == 0, "cok": s.calls_ok, "rsn": s.reasoned,
         "pr": s.prompt_len != M.NO_PROMPT, "ptx": s.text_after_drain,
         "infl": tuple(STATUSES.index(x) for x in s.in_flight)}
    a.update({u: bool(s.faults_used & M.FAULT_BIT[f]) for f, u in USED.items()})
    a.update(automaton(d, record))
    a["wf"], a["omax"] = well_formed(record, a["nxt"])
    a["fwf"], a["fomax"] = well_formed(fq, a["nxt"])
    ids = {s.base_id + i for i in range(a["nf"])}
    a["ifr"] = all(any(it[0] == I.CALL and it[1] == c for it in seq) for c in ids for seq in (s.history, fq))
    if down:
        a["kept"] = a["fqeq"] = True
    else:
        present = set(it[:3] for it in s.history)
        a["kept"] = all(o in present for o in _real_outputs(fq))
        a["fqeq"] = fq == s.history
    if a["pr"]:
        pre = s.history[: s.prompt_len]
        hp = automaton(d, pre)
        fake = {**a, **hp, "pr": False, "kept": True, "quiet": True, "pca": True, "porph": True, "pwire": True,
                "wf": well_formed(pre, a["nxt"])[0]}
        v = ok_props(d, fake)  # the prompt's verdicts, as judged when it was first sent
        a["pca"], a["porph"], a["pwire"] = v["calls-answered"], v["no-orphan-results"], v["wire-valid"]
        a["quiet"] = not _real_outputs(s.history[s.prompt_len:])
    else:
        a["pca"] = a["porph"] = a["pwire"] = a["quiet"] = False
    return a


# ---- symbolic states -----------------------------------------------------------------------------
@dataclass
class Params:
    """The parameters, all symbolic: N parallel calls, T user turns, R stream retries."""

    N: z3.ArithRef
    T: z3.ArithRef
    R: z3.ArithRef

    @staticmethod
    def fresh(tag: str = "") -> "Params":
        return Params(z3.Int("N" + tag), z3.Int("T" + tag), z3.Int("R" + tag))

    def constraint(self):
        return z3.And(self.N >= 1, self.T >= 1, self.R >= 0)


def fresh_state(tag: str) -> dict:
    s: dict = {f: z3.Int(f"{f}{tag}") for f in INTS}
    s.update({f: z3.Bool(f"{f}{tag}") for f in BOOLS})
    s["infl"] = z3.Array(f"infl{tag}", z3.IntSort(), z3.IntSort())
    return s


def z3_value(a: dict) -> dict:
    """A concrete abstract state (from ``alpha``) as z3 terms."""
    out = {f: z3.IntVal(a[f]) for f in INTS}
    out.update({f: z3.BoolVal(a[f]) for f in BOOLS})
    arr = z3.K(z3.IntSort(), z3.IntVal(-1))
    for i, st in enumerate(a["infl"]):
        arr = z3.Store(arr, i, st)
    out["infl"] = arr
    return out


def init_state(p: Params) -> dict:
    """TurnLoop.init_states: idle, nothing recorded, call ids start at 1."""
    s = {"ph": IDLE, "turns": p.T, "nc": 0, "txt": 0, "nf": 0, "dr": 0, "base": 1, "nxt": 1, "ex": X_NONE,
         "rt": p.R, "tn0": True, "cok": False, "rsn": False, "pr": False, "ptx": False,
         "kept": True, "fqeq": True, "wf": True, "fwf": True, "ifr": True, "omax": 1, "fomax": 1, "quiet": False,
         "u_se": False, "u_sc": False, "u_tf": False, "u_in": False, "u_cr": False,
         "pca": False, "porph": False, "pwire": False,
         "infl": z3.K(z3.IntSort(), z3.IntVal(-1))}
    s.update(H_INIT)
    return {k: _z(v) for k, v in s.items()}


def _z(v):
    if isinstance(v, bool):
        return z3.BoolVal(v)
    if isinstance(v, int):
        return z3.IntVal(v)
    return v


def merge(c, a: dict, b: dict) -> dict:
    """Field-wise if-then-else of two states."""
    out = {}
    for k in a:
        out[k] = a[k] if a[k] is b[k] else z3.If(c, _z(a[k]), _z(b[k]))
    return out
