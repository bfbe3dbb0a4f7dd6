"""Concrete counterexamples for goals the induction could not prove.

A failed obligation is a counterexample to induction: an abstract state that satisfies the
invariant and steps out of it, which need not be reachable. A goal is *refuted* only by a concrete
trace of the explicit model (model/explorer.py, a few calls) that is replayed step by step through
TurnLoop.successors and whose last step the property checker judges violated again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.designs import Design
from ..model.explorer import Explorer, Violation
from ..model.properties import TurnLoopSpec
from ..model.turnloop import FAULTS, Params, TurnLoop


@dataclass
class Trace:
    prop: str
    calls: int
    model: TurnLoop
    violation: Violation

    @property
    def length(self) -> int:
        return len(self.violation.path) - 1


def replay(model: TurnLoop, path: list, prop: str) -> bool:
    """Each step is one of the model's successors of the state before it, and the last step
    (a SendRequest) violates ``prop``."""
    if not path or path[0][2] not in model.init_states():
        return False
    s = path[0][2]
    for action, arg, t in path[1:]:
        if (action, arg, t) not in model.successors(s):
            return False
        last = (s, action, arg, t)
        s = t
    if len(path) < 2:
        return False
    s, action, arg, t = last
    return prop in {pid for pid, _ in TurnLoopSpec(model).check_edge(s, action, arg, t)}


def find_traces(design: Design, props: list[str], faults: frozenset = frozenset(FAULTS),
                max_calls: int = 3) -> dict[str, Trace]:
    """The shortest explorer trace for each of ``props``, at the fewest calls that show it (<= max_calls).
    Only traces the model confirms by replay are returned."""
    found: dict = {}
    for calls in range(1, max_calls + 1):
        todo = [p for p in props if p not in found]
        if not todo:
            break
        model = TurnLoop(design, Params(calls=calls, faults=faults))
        result = Explorer(model, TurnLoopSpec(model)).run(safety_only=True)
        for p in todo:
            v = result.violations.get(p)
            if v is not None and replay(model, v.path, p):
                v.path = model.concretize(v.path)  # shown as steps of the model without reductions
                found[p] = Trace(p, calls, model, v)
    return found
