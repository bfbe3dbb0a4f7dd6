"""Checks that tie the abstraction to the explicit model (used by the tests and the benchmark).

- ``step_matches``: a model step s -> t is matched by the abstract action of the same name from
  alpha(s) to an abstract state that alpha(t) refines (same exact fields; every fact the abstract
  state guarantees holds in alpha(t)). This is the soundness argument of proofs/README.md, checked
  on explored steps.
- ``verdicts_sound``: in a READY state, a property the abstraction guarantees holds on the request
  the model sends.
"""

from __future__ import annotations

import z3

from ..model.properties import TurnLoopSpec
from ..model.turnloop import TurnLoop

from .abstract import BOOLS, HIST_FIELDS, INTS, PROMPT_FACTS, Params, alpha, ok_props, z3_value
from .transitions import Encoding

FACTS = ("kept", "fqeq", "ifr")  # True in the abstract state => True in the concrete one


def refines(e: dict, a: dict):
    """z3: the concrete abstraction ``a`` (Python values) is represented by the abstract state ``e``."""
    cs = []
    for f in INTS + BOOLS:
        if f in HIST_FIELDS or f in FACTS or f in PROMPT_FACTS or f in ("hok", "wf", "fwf", "omax", "fomax"):
            continue
        cs.append(e[f] == a[f])
    # well formed with outputs below the bound: a larger bound is a weaker fact
    cs.append(z3.Implies(e["wf"], z3.And(a["wf"], a["omax"] <= e["omax"])))
    cs.append(z3.Implies(e["fwf"], z3.And(a["fwf"], a["fomax"] <= e["fomax"])))
    cs.append(z3.Implies(e["hok"], z3.And(a["hok"], *[e[f] == a[f] for f in HIST_FIELDS])))
    cs += [z3.Implies(e[f], a[f]) for f in FACTS]
    cs.append(z3.Implies(e["pr"], z3.And(*[z3.Implies(e[f], a[f]) for f in PROMPT_FACTS])))
    for i, st in enumerate(a["infl"]):
        cs.append(e["infl"][i] == st)
    return z3.And(*cs)


def _z(v):
    return z3.BoolVal(v) if isinstance(v, bool) else (z3.IntVal(v) if isinstance(v, int) else v)


def step_matches(enc: Encoding, p: Params, params_vals: dict, s: tuple, action: str, t: tuple,
                 a_t: dict | None = None) -> bool:
    """Is the model step s --action--> t matched by an abstract step? (``a_t`` replaces alpha(t).)"""
    d = enc.d
    a_s = alpha(d, s)
    a_t = alpha(d, t) if a_t is None else a_t
    zs = z3_value(a_s)
    cases, _ = enc.cases(action, zs, p, tag="_m")
    sol = z3.Solver()
    sol.add(p.N == params_vals["N"], p.T == params_vals["T"], p.R == params_vals["R"])
    sol.add(z3.Or(*[z3.And(g, refines({k: _z(v) for k, v in e.items()}, a_t)) for g, e in cases])
            if cases else z3.BoolVal(False))
    return sol.check() == z3.sat


def verdicts_sound(model: TurnLoop, s: tuple) -> list[str]:
    """Properties the abstraction guarantees for the request sent from READY state ``s`` but the
    model finds violated there (should be empty)."""
    spec = TurnLoopSpec(model)
    oks = ok_props(model.d, alpha(model.d, s))
    bad_props = set()
    for action, arg, t in model.successors(s):
        if action == "SendRequest":
            bad_props |= {pid for pid, _ in spec.check_edge(s, action, arg, t)}
    return sorted(pid for pid in bad_props if oks[pid] is True)
