"""Inductive proofs for any number of parallel calls, in the style of mypyvy.

The invariant is a conjunction of labelled clauses: the four safety goals (property IDs; each
says "the request a READY state sends satisfies the property") and the strengthening clauses that
make them inductive. ``prove`` checks init => clause, then every (action, clause) pair:
Inv(s) and guard(s) and s' = effect(s) and not clause(s') must be unsatisfiable. N (calls), T
(turns) and R (retries) are free constants, so a proof holds for every value of them. ``sat`` is
a counterexample to induction (decoded as a two-state difference); ``unknown`` and timeouts are
failures, never passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from ..model import turnloop as M
from ..model.designs import Design
from ..model.properties import SAFETY

from .abstract import (A_OUTS, A_RUN, AUT, BOOLS, CANCEL, DOWN, DRAIN, EXITS, IDLE, INTS, PHASES, READY,
                       REFUSED, STATUSES, STREAM, Params, _z, fresh_state, init_state, ok_props)
from .transitions import Encoding


@dataclass(frozen=True)
class Clause:
    name: str
    goal: bool  # a safety goal (property ID) or a strengthening clause
    why: str
    fn: object  # (design, state, params) -> z3 Bool


def _in(x, *vals):
    return z3.Or(*[x == v for v in vals])


def _goal(pid: str):
    def fn(d: Design, s: dict, p: Params):
        ok = ok_props(d, s)[pid]
        if pid == "wire-valid" and d.validate_before_send:
            return z3.BoolVal(True)  # a request that would be rejected is refused, never sent
        return z3.Implies(s["ph"] == READY, ok)
    return fn


CLAUSES: tuple = tuple(
    [Clause(pid, True, "the request a READY state sends satisfies it", _goal(pid)) for pid in SAFETY] + [
        Clause("enums", False, "phase, exit, automaton position and held text take their values",
               lambda d, s, p: z3.And(_in(s["ph"], *range(len(PHASES))), _in(s["ex"], *range(len(EXITS))),
                                      _in(s["aut"], *range(len(AUT))), _in(s["txt"], 0, 1, 2))),
        Clause("counters", False, "drained <= in flight <= calls <= N; ids start at 1 and only grow",
               lambda d, s, p: z3.And(0 <= s["dr"], s["dr"] <= s["nf"], s["nf"] <= s["nc"], s["nc"] <= p.N,
                                      1 <= s["base"], s["base"] <= s["nxt"], s["turns"] >= 0, s["rt"] >= 0)),
        Clause("pending-range", False, "the pending call ids of an orderly record lie below the next id",
               lambda d, s, p: z3.Implies(s["hok"], z3.And(s["plo"] <= s["phi"], s["phi"] <= s["nxt"]))),
        Clause("no-tools-between-turns", False, "in_flight is empty unless a response streams or drains",
               lambda d, s, p: z3.Implies(_in(s["ph"], IDLE, READY, DOWN, REFUSED),
                                          z3.And(s["nf"] == 0, s["dr"] == 0, s["nc"] == 0, s["txt"] == 0,
                                                 z3.Not(s["ptx"])))),
        Clause("stream-shape", False, "while streaming, in_flight holds exactly this response's calls",
               lambda d, s, p: z3.Implies(s["ph"] == STREAM,
                                          z3.And(s["dr"] == 0, s["nf"] == s["nc"], s["nxt"] == s["base"] + s["nf"],
                                                 z3.Not(s["ptx"])))),
        Clause("drain-shape", False, "while draining, in_flight holds this response's calls (or was dropped)",
               lambda d, s, p: z3.Implies(_in(s["ph"], DRAIN, CANCEL),
                                          z3.Or(s["nxt"] == s["base"] + s["nf"], s["nf"] == 0))),
        Clause("pending-are-in-flight", False,
               "the record's pending calls are exactly the undrained futures, in call order",
               lambda d, s, p: z3.Implies(z3.And(s["hok"], _in(s["ph"], STREAM, DRAIN, CANCEL), s["nf"] > 0),
                                          z3.And(_in(s["aut"], A_RUN, A_OUTS), s["plo"] == s["base"] + s["dr"],
                                                 s["phi"] == s["base"] + s["nf"],
                                                 z3.Implies(s["ph"] == STREAM, s["aut"] == A_RUN)))),
        Clause("settled", False, "with no futures left, no call of the record is pending",
               lambda d, s, p: z3.Implies(z3.And(s["hok"], s["nf"] == 0, z3.Not(_in(s["ph"], DOWN, REFUSED))),
                                          s["plo"] == s["phi"])),
        # one clause per verdict, so that a goal that fails does not take the others down with it
        Clause("prompt-calls-answered", False, "a prompt kept for a retry answered its calls when sent",
               lambda d, s, p: z3.Implies(s["pr"], s["pca"])),
        Clause("prompt-no-orphans", False, "a prompt kept for a retry had no orphan results when sent",
               lambda d, s, p: z3.Implies(s["pr"], s["porph"])),
        Clause("prompt-wire-valid", False, "a prompt kept for a retry was wire-valid when sent",
               lambda d, s, p: z3.Implies(s["pr"], z3.BoolVal(True) if d.validate_before_send else s["pwire"])),
        Clause("orderly", False, "the record is orderly (call groups answered in place)", lambda d, s, p: s["hok"]),
        Clause("grouping", False, "every closed run suits the chat grouping", lambda d, s, p: s["gok"]),
        Clause("kept", False, "every real result of the rollout is in the history", lambda d, s, p: s["kept"]),
        Clause("well-formed", False, "each output of the record answers an earlier call, none twice",
               lambda d, s, p: s["wf"]),
        Clause("rollout-well-formed", False, "each output of the rollout answers an earlier call, none twice",
               lambda d, s, p: s["fwf"]),
        Clause("in-flight-recorded", False, "the calls in flight are in the history and the rollout",
               lambda d, s, p: s["ifr"]),
        Clause("outputs-below-next", False, "output ids lie below the next call id",
               lambda d, s, p: z3.And(1 <= s["omax"], s["omax"] <= s["nxt"], 1 <= s["fomax"], s["fomax"] <= s["nxt"])),
        Clause("undrained-unanswered", False, "no output answers a call still waiting in the drain",
               lambda d, s, p: z3.Implies(z3.And(_in(s["ph"], STREAM, DRAIN, CANCEL), s["nf"] > 0),
                                          z3.And(s["omax"] <= s["base"] + s["dr"], s["fomax"] <= s["base"] + s["dr"]))),
        Clause("rollout-is-history", False, "the rollout (file and queue) equals the history",
               lambda d, s, p: s["fqeq"]),
    ])
GOALS = tuple(c.name for c in CLAUSES if c.goal)


@dataclass
class Obligation:
    action: str  # "init" or a model action name
    clause: str
    status: str  # ok | failed | unknown
    seconds: float
    cti: dict | None = None  # for failed: {"params", "choices", "before", "after"}
    round: int = 1  # the Houdini round it was checked in

    def line(self) -> str:
        what = "init establishes" if self.action == "init" else f"{self.action} preserves"
        mark = {"ok": "ok", "failed": "FAILED", "unknown": "UNKNOWN"}[self.status]
        return f"{what} {self.clause} ... {mark} ({self.seconds:.2f} s)"


@dataclass
class ProofResult:
    design: str
    obligations: list = field(default_factory=list)  # the last round: the clauses kept
    dropped: list = field(default_factory=list)  # (clause, first obligation that did not hold, round)
    failures: list = field(default_factory=list)  # every obligation that did not hold, all rounds
    kept: tuple = ()  # names of the clauses of the inductive invariant found
    rounds: int = 0
    seconds: float = 0.0

    @property
    def proved_goals(self) -> list:
        return [g for g in GOALS if g in self.kept]

    @property
    def proved(self) -> bool:
        return set(GOALS) <= set(self.kept)

    @property
    def unknown(self) -> list:
        return [o for _, o, _ in self.dropped if o.status == "unknown"]

    @property
    def failed(self) -> list:
        return [o for _, o, _ in self.dropped]


def _decode(m: z3.ModelRef, s: dict, extent: int = 12) -> dict:
    """A z3 model of an abstract state as readable values."""
    def ev(x):
        return m.eval(_z(x), model_completion=True)
    out: dict = {}
    for f in INTS:
        v = ev(s[f]).as_long() if z3.is_int_value(ev(s[f])) else str(ev(s[f]))
        out[f] = v
    for f in BOOLS:
        out[f] = z3.is_true(ev(s[f]))
    nf = out["nf"] if isinstance(out["nf"], int) else 0
    out["infl"] = tuple(_status(ev(s["infl"][i])) for i in range(max(0, min(nf, extent))))
    out["ph"] = PHASES[out["ph"]] if isinstance(out["ph"], int) and 0 <= out["ph"] < len(PHASES) else out["ph"]
    out["ex"] = EXITS[out["ex"]] if isinstance(out["ex"], int) and 0 <= out["ex"] < len(EXITS) else out["ex"]
    out["aut"] = AUT[out["aut"]] if isinstance(out["aut"], int) and 0 <= out["aut"] < len(AUT) else out["aut"]
    return out


def _status(v) -> str:
    n = v.as_long() if z3.is_int_value(v) else -1
    return STATUSES[n] if 0 <= n < len(STATUSES) else str(n)


def state_diff(before: dict, after: dict) -> list[str]:
    """Two abstract states as "field: old -> new" lines (unchanged fields left out)."""
    return [f"{k}: {before[k]} -> {after[k]}" for k in before if before[k] != after[k]]


def _check(solver: z3.Solver, negated) -> str:
    r = solver.check(negated)
    return "ok" if r == z3.unsat else ("failed" if r == z3.sat else "unknown")


def prove(design: Design, faults: frozenset = frozenset(M.FAULTS), timeout_ms: int = 20_000,
          clauses: tuple = CLAUSES, on_line=None) -> ProofResult:
    """Houdini: check every obligation of the clauses kept; drop each clause with an obligation that
    does not hold (failed or unknown) and check again, until what is left is inductive. The goals
    left are proved for any number of calls. ``on_line(obligation)`` sees the last round's lines."""
    res = ProofResult(design.name)
    t_all = time.perf_counter()
    active = list(clauses)
    while True:
        res.rounds += 1
        obligations = _round(design, faults, timeout_ms, tuple(active))
        bad: dict = {}
        for o in obligations:
            o.round = res.rounds
            if o.status != "ok":
                res.failures.append(o)
                bad.setdefault(o.clause, o)
        if not bad:
            break
        for name, o in bad.items():
            res.dropped.append((name, o, res.rounds))
        active = [c for c in active if c.name not in bad]
        if not active:
            obligations = []
            break
    res.obligations = obligations
    res.kept = tuple(c.name for c in active)
    res.seconds = time.perf_counter() - t_all
    if on_line:
        for o in obligations:
            on_line(o)
    return res


def _round(design: Design, faults: frozenset, timeout_ms: int, clauses: tuple) -> list:
    """One round: init => clause, then every (action, clause) under the conjunction of ``clauses``."""
    enc = Encoding(design, faults)
    p = Params.fresh()
    out: list = []
    init = init_state(p)
    for c in clauses:
        sol = z3.Solver()
        sol.set("timeout", timeout_ms)
        sol.add(p.constraint())
        t0 = time.perf_counter()
        st = _check(sol, z3.Not(c.fn(design, init, p)))
        cti = None
        if st == "failed":
            m = _small_model(sol, z3.Not(c.fn(design, init, p)), p)
            cti = {"params": _params(m, p), "choices": {}, "before": None, "after": _decode(m, init)}
        out.append(Obligation("init", c.name, st, time.perf_counter() - t0, cti))
    s = fresh_state("")
    inv = z3.And(*[c.fn(design, s, p) for c in clauses])
    for action in enc.actions():
        cases, choices = enc.cases(action, s, p)
        sols = []
        for guard, t in cases:
            sol = z3.Solver()
            sol.set("timeout", timeout_ms)
            sol.add(p.constraint(), inv, guard)
            sols.append((sol, t))
        for c in clauses:
            t0 = time.perf_counter()
            status, cti = "ok", None
            for sol, t in sols:
                st = _check(sol, z3.Not(c.fn(design, t, p)))
                if st == "failed":
                    m = _small_model(sol, z3.Not(c.fn(design, t, p)), p)
                    cti = {"params": _params(m, p),
                           "choices": {k: str(m.eval(v, model_completion=True)) for k, v in choices.vars.items()},
                           "before": _decode(m, s), "after": _decode(m, t)}
                    status = "failed"
                    break
                if st == "unknown":
                    status = "unknown"
            out.append(Obligation(action, c.name, status, time.perf_counter() - t0, cti))
    return out


def _small_model(sol: z3.Solver, negated, p: Params) -> z3.ModelRef:
    """The counterexample with the fewest calls z3 finds quickly (a readable one), else any."""
    for n in (1, 2, 3):
        if sol.check(negated, p.N <= n) == z3.sat:
            return sol.model()
    sol.check(negated)
    return sol.model()


def _params(m: z3.ModelRef, p: Params) -> dict:
    return {k: m.eval(v, model_completion=True).as_long() for k, v in (("N", p.N), ("T", p.T), ("R", p.R))}

