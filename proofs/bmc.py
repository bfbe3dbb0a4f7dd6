"""Bounded model checking on the same z3 actions, with the explicit model's bounds.

The transition relation is unrolled step by step from the initial state, with N = calls, T =
turns and R = retries fixed, the model's fault budget (each kind once, at most ``max_faults``; the
induction leaves it out) and the model's first reduction (tools resolve at the head of the
drain). After k steps the solver is asked for a READY state whose request may violate the goal; the first k that answers gives a counterexample of k + 1 steps (the
SendRequest is the last step), as the explorer counts them.

Every z3 trace is decoded and replayed through TurnLoop.successors: at each step the model's
successor under the same action whose abstraction the z3 state represents (agreement.refines);
the replayed trace must end in a step the property checker judges violated. A trace the model
does not confirm (the abstraction's verdict was only pessimistic) is never reported: its label
sequence is set aside for that depth and the solver is asked again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from ..model.designs import Design
from ..model.properties import TurnLoopSpec
from ..model.turnloop import FAULTS, Params, TurnLoop

from .abstract import BOOLS, INTS, READY, SymbolicParams, alpha, fresh_state, init_state, ok_props, term
from .agreement import refines
from .transitions import Encoding



@dataclass
class BmcResult:
    goal: str
    violated: bool
    length: int | None = None  # steps, SendRequest included
    depth_checked: int = 0
    actions: list = field(default_factory=list)
    path: list = field(default_factory=list)  # the replayed model path [(action, arg, state)]
    confirmed: bool = False  # replayed through the model and judged violated
    note: str = ""
    seconds: float = 0.0


def _goal_bad(design: Design, s: dict, goal: str):
    if goal == "wire-valid" and design.validate_before_send:
        return z3.BoolVal(False)
    ok = ok_props(design, s)[goal]
    return z3.And(s["phase"] == READY, z3.Not(ok if not isinstance(ok, bool) else z3.BoolVal(ok)))


def _eq(a: dict, b: dict):
    return z3.And(*[a[f] == b[f] for f in INTS + BOOLS + ("in_flight",)])


def bmc(design: Design, goal: str, calls: int, depth: int = 12, max_faults: int = 2,
        faults: frozenset = frozenset(FAULTS), turns: int = 2, retries: int = 1,
        max_unconfirmed: int = 2000, rounds: int = 2) -> BmcResult:
    t0 = time.perf_counter()
    enc = Encoding(design, faults, reduced=True, max_faults=max_faults)
    p = SymbolicParams(z3.IntVal(calls), z3.IntVal(turns), z3.IntVal(retries), z3.IntVal(rounds))
    actions = enc.actions()
    states = [init_state(p)]
    chosen: list = []  # per step: [(action, case index, indicator, choices)]
    sol = z3.Solver()
    res = BmcResult(goal, False)
    spurious = 0
    for k in range(depth + 1):
        bad = _goal_bad(design, states[k], goal)
        blocks: list = []  # traces of this length the model did not confirm
        while True:
            r = sol.check(bad, *blocks)
            if r != z3.sat:
                break
            m = sol.model()
            picked = [next((a, ind) for a, ind, _ in chosen[j] if z3.is_true(m.eval(ind, model_completion=True)))
                      for j in range(k)]
            trial = BmcResult(goal, True, k + 1, actions=[a for a, _ in picked])
            _replay(design, calls, faults, max_faults, turns, retries, m, states, trial, rounds)
            if trial.confirmed:
                trial.depth_checked, trial.note = k - 1, f"{spurious} unconfirmed trace(s) set aside"
                trial.seconds = time.perf_counter() - t0
                return trial
            # the abstraction's verdict was pessimistic on this label sequence: the model's unique
            # path with these labels does not violate the goal; look for another one
            spurious += 1
            blocks.append(z3.Not(z3.And(*[ind for _, ind in picked])) if picked else z3.BoolVal(False))
            if spurious > max_unconfirmed:
                res.note = f"more than {max_unconfirmed} unconfirmed traces at depth {k}: unknown"
                res.seconds = time.perf_counter() - t0
                return res
        if r == z3.unknown:
            res.note = f"unknown at depth {k}"
            break
        res.depth_checked = k
        if k == depth:
            break
        nxt = fresh_state(f"@{k + 1}")
        step = []
        for a in actions:
            cases, ch = enc.cases(a, states[k], p, tag=f"@{k}")
            for ci, (g, eff) in enumerate(cases):
                ind = z3.Bool(f"step{k}.{a}.{ci}")
                sol.add(z3.Implies(ind, z3.And(g, _eq(nxt, {f: term(v) for f, v in eff.items()}))))
                step.append((a, ind, ch))
        sol.add(z3.Or(*[ind for _, ind, _ in step]))
        sol.add(z3.AtMost(*[ind for _, ind, _ in step], 1))
        chosen.append(step)
        states.append(nxt)
    res.seconds = time.perf_counter() - t0
    return res


def _replay(design, calls, faults, max_faults, turns, retries, m, states, res: BmcResult, rounds: int = 2) -> None:
    """Follow the z3 trace in the explicit model; confirm the violation at its end."""
    model = TurnLoop(design, Params(calls=calls, turns=turns, retries=retries, faults=frozenset(faults),
                                     max_faults=max_faults, rounds=rounds))
    s = model.init_states()[0]
    path = [(None, None, s)]
    for k, action in enumerate(res.actions):
        target = {f: m.eval(term(v), model_completion=True) for f, v in states[k + 1].items()}
        nxt = None
        for a, arg, t in model.successors(s):
            if a == action and z3.is_true(z3.simplify(refines(target, alpha(design, t)))):
                nxt = (a, arg, t)
                break
        if nxt is None:
            res.note = f"the model cannot follow step {k + 1} ({action})"
            res.path = path
            return
        path.append(nxt)
        s = nxt[2]
    spec = TurnLoopSpec(model)
    for a, arg, t in model.successors(s):
        if a == "SendRequest" and res.goal in {pid for pid, _ in spec.check_edge(s, a, arg, t)}:
            path.append((a, arg, t))
            res.path, res.confirmed = path, True
            res.actions = res.actions + ["SendRequest"]
            return
    res.path = path
    res.note = "the model's request satisfies the property here (the abstraction was pessimistic)"

