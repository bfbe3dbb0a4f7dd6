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

from .abstract import (A_OUTS, A_RUN, AUT, BOOLS, CANCEL, DOWN, DRAIN, EXITS, HIST_FIELDS, IDLE, INTS, PHASES,
                       READY, REFUSED, STATUSES, STREAM, SymbolicParams, fresh_state, h_user, init_state, ok_props,
                       term)
from .transitions import Encoding


@dataclass(frozen=True)
class Clause:
    name: str
    goal: bool  # a safety goal (property ID) or a strengthening clause
    why: str
    fn: object  # (design, state, params) -> z3 Bool


def _in(x, *vals):
    return z3.Or(*[x == v for v in vals])


def summary_ok(d: Design, s: dict) -> dict:
    """The verdicts on a compaction's summary request (history plus the compact prompt, trimmed
    pair-aware, normalized) sent from ``s``: those of a fresh request from the history plus a user
    message. remove_first_item takes item 0 (never an output of a well-formed record) with the one
    output that answers it, so every trim of a well-formed record is well formed, and of an orderly one
    with nothing pending (the prompt closes its last run) orderly with nothing pending, its runs parts
    of old ones. A raw request (v0.47) is known only for an orderly record with nothing pending (its own
    normalization); after remove(0) (v0.47's trim) nothing is known."""
    enc = Encoding(d)
    if not enc.summary_exact():  # remove(0) may take a call and keep its output: nothing is known
        return dict.fromkeys(ok_props(d, s), False)
    hist = {k: s[k] for k in ("orderly",) + HIST_FIELDS}
    raw = d.compaction_request == "raw"  # as recorded: only an orderly record with nothing pending is known
    return ok_props(d, {**s, **h_user(d, hist), "has_prompt": False, **({"well_formed": False} if raw else {})})


def removal_safe(d: Design, s: dict, p: SymbolicParams):
    """removal-keeps-pairs for the encoded removal steps (transitions.Encoding), in the states they
    leave from: a summary keeps no call and no result; a pair-aware cut (drop-oldest-pairs,
    tail-atomic) of a well-formed record takes whole pairs; either removes a running tool's call only
    if one is in flight where it runs. A rollback cuts at a user-turn start, which no pair spans
    (turns_paired); a truncation keeps every item."""
    need = []
    enc = Encoding(d)
    if d.compacts and enc.split_cut():  # a cut that may split a pair: nothing is guaranteed
        need.append(z3.Not(enc.compact_phase(s, p)))
    elif d.compacts and enc.turn_tail():
        # a tail from a turn start splits no pair of a turn-paired record and keeps the calls in flight
        # (they follow the last turn start); the summary alone is left only with nothing in flight
        need.append(z3.Implies(enc.compact_phase(s, p), z3.And(s["turns_paired"], s["flight_in_turn"])))
    elif d.compacts:
        safe = []
        if d.late_result != "drop":
            safe.append(s["in_flight_len"] <= s["drained"])
        if d.compaction_keeps not in Encoding.NO_PAIR_LEFT:
            safe.append(s["well_formed"])
        if safe:
            need.append(z3.Implies(Encoding(d).compact_phase(s, p), z3.And(*safe)))
    if d.rollback:
        need.append(z3.Implies(s["phase"] == IDLE, s["turns_paired"]))
    return z3.And(*need) if need else z3.BoolVal(True)


def _goal(pid: str):
    def fn(d: Design, s: dict, p: SymbolicParams):
        if pid == "removal-keeps-pairs":  # judged on removal steps, in the states they leave from
            return removal_safe(d, s, p)
        ok = ok_props(d, s)[pid]
        goal = z3.Implies(s["phase"] == READY, ok)
        if pid == "wire-valid" and d.validate_before_send:
            goal = z3.BoolVal(True)  # a request that would be rejected is refused, never sent (not a summary)
        if d.compacts and d.compaction_request != "none" and pid in SUMMARY_JUDGED:
            goal = z3.And(goal, z3.Implies(Encoding(d).compact_phase(s, p), summary_ok(d, s)[pid]))
        return goal
    return fn


# the properties also judged on a compaction's summary request (model/properties.py SENT_OR_SUMMARY)
SUMMARY_JUDGED = ("calls-answered", "no-orphan-results", "wire-valid")


CLAUSES: tuple = tuple(
    [Clause(pid, True, "the request a READY state sends satisfies it", _goal(pid)) for pid in SAFETY] + [
        Clause("no-result-dropped", False, "no finished tool's result has been dropped since the last request "
               "(a design that drains on every exit never drops one)",
               lambda d, s, p: z3.Not(s["unrecorded"])),
        Clause("quiet-prompt", False, "while a request streams or is due, no real result was recorded since its "
               "prompt was built (results are recorded only by a drain, which a retry does not follow in v0.77)",
               lambda d, s, p: z3.Implies(z3.And(s["has_prompt"], _in(s["phase"], STREAM, READY)), s["prompt_quiet"])),
        Clause("no-error-drain", False, "a design that does not drain on stream errors (v0.77: `res?`) never "
               "drains after one (its parser never ends a stream bare)",
               lambda d, s, p: z3.BoolVal(True) if (d.drain_on_stream_error or d.early_close == "closed")
               else z3.Implies(_in(s["phase"], DRAIN, CANCEL), s["exit"] != EXITS.index("error"))),
        Clause("exit-in-drain", False, "why the stream loop ended is set while draining, and only then (or "
               "cancelled)",
               lambda d, s, p: z3.And(z3.Implies(z3.Not(_in(s["phase"], DRAIN, CANCEL)), s["exit"] == EXITS.index(None)),
                                      z3.Implies(s["phase"] == DRAIN, s["exit"] != EXITS.index(None)))),
        Clause("enums", False, "phase, exit, automaton position and held text take their values",
               lambda d, s, p: z3.And(_in(s["phase"], *range(len(PHASES))), _in(s["exit"], *range(len(EXITS))),
                                      _in(s["automaton"], *range(len(AUT))),
                                      _in(s["text"], M.NO_TEXT, M.TEXT_RECORDED, M.TEXT_HELD))),
        Clause("counters", False, "drained <= in flight <= calls <= N; ids start at 1 and only grow",
               lambda d, s, p: z3.And(0 <= s["drained"], s["drained"] <= s["in_flight_len"],
                                      s["in_flight_len"] <= s["ncalls"], s["ncalls"] <= p.N, 1 <= s["base_id"],
                                      s["base_id"] <= s["next_id"], s["turns_left"] >= 0, s["retries_left"] >= 0)),
        Clause("pending-range", False, "the pending call ids of an orderly record lie below the next id",
               lambda d, s, p: z3.Implies(s["orderly"], z3.And(s["pending_lo"] <= s["pending_hi"],
                                                                s["pending_hi"] <= s["next_id"]))),
        Clause("no-tools-between-turns", False, "in_flight is empty unless a response streams or drains",
               lambda d, s, p: z3.Implies(_in(s["phase"], IDLE, READY, DOWN, REFUSED),
                                          z3.And(s["in_flight_len"] == 0, s["drained"] == 0, s["ncalls"] == 0,
                                                 s["text"] == M.NO_TEXT, z3.Not(s["text_after_drain"])))),
        Clause("stream-shape", False, "while streaming, in_flight holds exactly this response's calls",
               lambda d, s, p: z3.Implies(s["phase"] == STREAM,
                                          z3.And(s["drained"] == 0, s["in_flight_len"] == s["ncalls"],
                                                 s["next_id"] == s["base_id"] + s["in_flight_len"],
                                                 z3.Not(s["text_after_drain"])))),
        Clause("drain-shape", False, "while draining, in_flight holds this response's calls (or was dropped)",
               lambda d, s, p: z3.Implies(_in(s["phase"], DRAIN, CANCEL),
                                          z3.Or(s["next_id"] == s["base_id"] + s["in_flight_len"],
                                                s["in_flight_len"] == 0))),
        Clause("drain-unfinished", False, "the drain goes on only while a future is undrained (it is left as "
               "the last one is taken)",
               lambda d, s, p: z3.Implies(s["phase"] == DRAIN, s["drained"] < s["in_flight_len"])),
        Clause("pending-are-in-flight", False,
               "the record's pending calls are exactly the undrained futures, in call order",
               lambda d, s, p: z3.Implies(
                   z3.And(s["orderly"], _in(s["phase"], STREAM, DRAIN, CANCEL), s["in_flight_len"] > 0),
                   z3.And(_in(s["automaton"], A_RUN, A_OUTS), s["pending_lo"] == s["base_id"] + s["drained"],
                          s["pending_hi"] == s["base_id"] + s["in_flight_len"],
                          z3.Implies(s["phase"] == STREAM, s["automaton"] == A_RUN)))),
        Clause("settled", False, "with no futures left, no call of the record is pending",
               lambda d, s, p: z3.Implies(z3.And(s["orderly"], s["in_flight_len"] == 0,
                                                 z3.Not(_in(s["phase"], DOWN, REFUSED))),
                                          s["pending_lo"] == s["pending_hi"])),
        # one clause per verdict, so that a goal that fails does not take the others down with it
        Clause("prompt-calls-answered", False, "a prompt kept for a retry answered its calls when sent",
               lambda d, s, p: z3.Implies(s["has_prompt"], s["prompt_calls_answered"])),
        Clause("prompt-no-orphans", False, "a prompt kept for a retry had no orphan results when sent",
               lambda d, s, p: z3.Implies(s["has_prompt"], s["prompt_no_orphans"])),
        Clause("prompt-wire-valid", False, "a prompt kept for a retry was wire-valid when sent",
               lambda d, s, p: z3.Implies(s["has_prompt"], True if d.validate_before_send else s["prompt_wire_valid"])),
        Clause("orderly", False, "the record is orderly (call groups answered in place)", lambda d, s, p: s["orderly"]),
        Clause("grouping", False, "every closed run suits the chat grouping", lambda d, s, p: s["groups_ok"]),
        Clause("results-in-history", False, "every real result of the rollout is in the history",
               lambda d, s, p: s["results_in_history"]),
        Clause("well-formed", False, "each output of the record answers an earlier call, none twice",
               lambda d, s, p: s["well_formed"]),
        Clause("rollout-well-formed", False, "each output of the rollout answers an earlier call, none twice",
               lambda d, s, p: s["rollout_well_formed"]),
        Clause("in-flight-recorded", False, "the calls in flight are in the history and the rollout",
               lambda d, s, p: s["in_flight_recorded"]),
        Clause("outputs-below-next", False, "output ids lie below the next call id",
               lambda d, s, p: z3.And(1 <= s["outputs_below"], s["outputs_below"] <= s["next_id"],
                                      1 <= s["rollout_outputs_below"], s["rollout_outputs_below"] <= s["next_id"])),
        Clause("undrained-unanswered", False, "no output answers a call still waiting in the drain",
               lambda d, s, p: z3.Implies(z3.And(_in(s["phase"], STREAM, DRAIN, CANCEL), s["in_flight_len"] > 0),
                                          z3.And(s["outputs_below"] <= s["base_id"] + s["drained"],
                                                 s["rollout_outputs_below"] <= s["base_id"] + s["drained"]))),
        Clause("removals-whole", False, "a result a removal took went with its call",
               lambda d, s, p: s["removals_whole"]),
        Clause("removed-below-next", False, "a later call never takes a removed result's id: every removed "
               "result's id lies below the next call id",
               lambda d, s, p: z3.And(1 <= s["removed_below"], s["removed_below"] <= s["next_id"])),
        Clause("nothing-in-flight-at-compaction", False, "where a compaction between turns or after the drain "
               "runs, no tool future is in flight",
               lambda d, s, p: z3.Implies(Encoding(d).compact_phase(s, p), s["in_flight_len"] == 0)
               if d.compacts and d.compaction != "in-flight" else z3.BoolVal(True)),
        Clause("rollout-is-history", False, "the rollout (file and queue) equals the history",
               lambda d, s, p: s["rollout_is_history"]),
        Clause("rollout-like-history", False, "the rollout equals the history up to made-up outputs",
               lambda d, s, p: s["rollout_like_history"]),
        Clause("turns-paired", False, "no user turn starts between a call and its output (history)",
               lambda d, s, p: s["turns_paired"]),
        Clause("rollout-turns-paired", False, "no user turn starts between a call and its output (rollout)",
               lambda d, s, p: s["rollout_turns_paired"]),
        Clause("flight-in-turn", False, "the calls in flight come after the history's last turn start",
               lambda d, s, p: s["flight_in_turn"]),
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
        return m.eval(term(x), model_completion=True)
    out: dict = {}
    for f in INTS:
        v = ev(s[f]).as_long() if z3.is_int_value(ev(s[f])) else str(ev(s[f]))
        out[f] = v
    for f in BOOLS:
        out[f] = z3.is_true(ev(s[f]))
    n = out["in_flight_len"] if isinstance(out["in_flight_len"], int) else 0
    out["in_flight"] = tuple(_status(ev(s["in_flight"][i])) for i in range(max(0, min(n, extent))))
    for f, names in (("phase", PHASES), ("exit", EXITS), ("automaton", AUT)):
        if isinstance(out[f], int) and 0 <= out[f] < len(names):
            out[f] = names[out[f]]
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
    """One round: init => clause, then every (action, clause) under the conjunction of ``clauses``.

    One solver: the parameters' constraint at the bottom, a frame per obligation group (init; each
    action with the invariant; each of its cases with its guard), each clause checked as an
    assumption inside it."""
    enc = Encoding(design, faults)
    p = SymbolicParams.fresh()
    sol = z3.Solver()
    sol.set("timeout", timeout_ms)
    sol.add(p.constraint())
    out: list = []
    init = init_state(p)
    for c in clauses:
        t0 = time.perf_counter()
        negated = z3.Not(c.fn(design, init, p))
        st = _check(sol, negated)
        cti = None
        if st == "failed":
            m = _small_model(sol, negated, p)
            cti = {"params": _params(m, p), "choices": {}, "before": None, "after": _decode(m, init)}
        out.append(Obligation("init", c.name, st, time.perf_counter() - t0, cti))
    s = fresh_state("")
    for action in enc.actions():
        cases, choices = enc.cases(action, s, p)
        seconds = dict.fromkeys((c.name for c in clauses), 0.0)
        status = dict.fromkeys(seconds, "ok")
        ctis: dict = {}
        sol.push()
        sol.add(*[c.fn(design, s, p) for c in clauses])  # the invariant
        for guard, t in cases:  # a clause holds after the action when it holds after every case
            sol.push()
            sol.add(guard)
            for c in clauses:
                if status[c.name] == "failed":
                    continue
                t0 = time.perf_counter()
                negated = z3.Not(c.fn(design, t, p))
                st = _check(sol, negated)
                if st == "failed":
                    m = _small_model(sol, negated, p)
                    ctis[c.name] = {"params": _params(m, p),
                                    "choices": {k: str(m.eval(v, model_completion=True))
                                                for k, v in choices.vars.items()},
                                    "before": _decode(m, s), "after": _decode(m, t)}
                    status[c.name] = "failed"
                elif st == "unknown":
                    status[c.name] = "unknown"
                seconds[c.name] += time.perf_counter() - t0
            sol.pop()
        sol.pop()
        for c in clauses:
            out.append(Obligation(action, c.name, status[c.name], seconds[c.name], ctis.get(c.name)))
    return out


def _small_model(sol: z3.Solver, negated, p: SymbolicParams) -> z3.ModelRef:
    """The counterexample with the fewest calls z3 finds quickly (a readable one), else any."""
    for n in (1, 2, 3):
        if sol.check(negated, p.N <= n) == z3.sat:
            return sol.model()
    sol.check(negated)
    return sol.model()


def _params(m: z3.ModelRef, p: SymbolicParams) -> dict:
    return {k: m.eval(v, model_completion=True).as_long()
            for k, v in (("N", p.N), ("T", p.T), ("R", p.R), ("K", p.K))}

