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

from .abstract import BOOLS, HIST_FIELDS, INTS, PROMPT_FACTS, SymbolicParams, alpha, ok_props, term, z3_value
from .transitions import Encoding

# True in the abstract state => True in the concrete one
FACTS = ("results_in_history", "rollout_is_history", "in_flight_recorded", "removals_whole", "turns_paired",
         "rollout_turns_paired", "flight_in_turn", "rollout_like_history")
# compared below as weaker facts, not for equality
WEAKER = ("orderly", "well_formed", "rollout_well_formed", "outputs_below", "rollout_outputs_below", "removed_below")


def refines(e: dict, a: dict):
    """z3: the concrete abstraction ``a`` (Python values) is represented by the abstract state ``e``."""
    cs = []
    for f in INTS + BOOLS:
        if f in HIST_FIELDS or f in FACTS or f in PROMPT_FACTS or f in WEAKER:
            continue
        cs.append(e[f] == a[f])
    # well formed with outputs below the bound: a larger bound is a weaker fact
    cs.append(z3.Implies(e["well_formed"], z3.And(a["well_formed"], a["outputs_below"] <= e["outputs_below"])))
    cs.append(z3.Implies(e["rollout_well_formed"],
                         z3.And(a["rollout_well_formed"], a["rollout_outputs_below"] <= e["rollout_outputs_below"])))
    cs.append(z3.Implies(e["orderly"], z3.And(a["orderly"], *[e[f] == a[f] for f in HIST_FIELDS])))
    cs.append(a["removed_below"] <= e["removed_below"])  # every removed result's id lies below it
    cs += [z3.Implies(e[f], a[f]) for f in FACTS]
    cs.append(z3.Implies(e["has_prompt"], z3.And(*[z3.Implies(e[f], a[f]) for f in PROMPT_FACTS])))
    for i, st in enumerate(a["in_flight"]):
        cs.append(e["in_flight"][i] == st)
    return z3.And(*cs)


def step_matches(enc: Encoding, p: SymbolicParams, params_vals: dict, s: tuple, action: str, t: tuple,
                 a_t: dict | None = None) -> bool:
    """Is the model step s --action--> t matched by an abstract step? (``a_t`` replaces alpha(t).)"""
    d = enc.d
    a_s = alpha(d, s)
    a_t = alpha(d, t) if a_t is None else a_t
    zs = z3_value(a_s)
    cases, _ = enc.cases(action, zs, p, tag="_m")
    sol = z3.Solver()
    sol.add(p.N == params_vals["N"], p.T == params_vals["T"], p.R == params_vals["R"],
            p.K == params_vals.get("K", 2))
    sol.add(z3.Or(*[z3.And(g, refines({k: term(v) for k, v in e.items()}, a_t)) for g, e in cases])
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
