"""Shared helpers for the model tests: run the explorer with given parameters, cached per session."""

from __future__ import annotations

from functools import lru_cache

from turnproof.model.designs import get, with_knobs
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import Params, TurnLoop, parse_faults


@lru_cache(maxsize=None)
def explore(design: str, calls: int = 3, faults: str = "all", text: bool = True, reduce: bool = True,
            wire: str | None = None, text_lands: str | None = None, rounds: int = 2, **knobs):
    d = get(design)
    changes = dict(knobs)
    if wire:
        changes["wire"] = wire
    if text_lands:
        changes["text_lands"] = text_lands
    if changes:
        d = with_knobs(d, d.name, **changes)
    m = TurnLoop(d, Params(calls=calls, faults=parse_faults(faults), text=text, reduce=reduce, rounds=rounds))
    r = Explorer(m, TurnLoopSpec(m)).run()
    for v in r.violations.values():  # as `turnproof check` reports them: steps of the unreduced model
        v.path = m.concretize(v.path)
    return m, r


def lengths(result) -> dict:
    return {p: len(v.path) - 1 for p, v in result.violations.items()}


def actions(path) -> list[str]:
    return [a for a, _, _ in path[1:]]
