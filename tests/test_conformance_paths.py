"""Model-based testing: model paths driven into the reference loop with the controlled scheduler.

For each named design, the explorer's shortest counterexample of every violated property (and
what follows it, for the graph properties) is taken step by step on the reference: same steps,
same requests, same provider error text, same states, same dead session. Random walks over the
model's full interleavings (no reductions) check the rest of the state graph the same way. The
environment's part of every counterexample (user, stream, tools, faults) is then given to
turnproof-proposed, whose every request must be accepted and keep every recorded result.
"""

from __future__ import annotations

import asyncio
import random
from functools import lru_cache

import pytest

from conformance_util import FAULT_STEPS, Mismatch, designs, follow, make_model, random_path, replay, run_schedule
from turnproof.model.designs import NAMED, REMOVAL_KNOBS, Design
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import FAULT_ACTIONS, Params, TurnLoop

DESIGNS = list(NAMED) + ["turnproof-proposed@responses", "turnproof-proposed@anthropic"]


@lru_cache(maxsize=None)
def explored(name: str):
    md, _ = designs(name)
    m = TurnLoop(md, Params(calls=2, retries=1))
    r = Explorer(m, TurnLoopSpec(m)).run()
    for v in r.violations.values():  # steps of the model without reductions, as the reference takes them
        v.path = m.concretize(v.path)
    return m, r


def _run(coro):
    return asyncio.run(coro)


def test_named_designs_have_the_same_knobs():
    from turnproof.reference.designs import NAMED as REF
    assert list(REF) == list(NAMED)
    default = Design("default")
    for n, d in NAMED.items():
        assert REF[n].knobs() == d.knobs(), n
        # the named designs remove nothing (the removal designs: test_conformance_removal.py)
        assert all(getattr(d, k) == getattr(default, k) for k in REMOVAL_KNOBS), n


@pytest.mark.parametrize("name", DESIGNS)
def test_counterexamples_replay_on_the_reference(name, tmp_path):
    model, result = explored(name)
    if name.startswith("turnproof-proposed"):
        assert not result.violations
    for prop, v in result.violations.items():
        path = v.path + [(a, b, t) for a, b, t in v.continuation]
        sim, errors = _run(replay(name, model, path, tmp_path))
        last_action = path[-1][0]
        if prop == "wire-valid":
            assert errors and errors[-1] == v.detail.text, (prop, errors)
        if prop in ("resumable", "can-proceed"):
            # the same dead session: the continuation ends in a rejected or refused step
            assert last_action in ("SendRequest", "RefuseRequest", "ResumeRefused"), path[-1]
            assert sim.log[-1][0] == last_action and sim.log[-1][1] in (None, "rejected")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NAMED))
def test_counterexamples_at_three_calls_replay_on_the_reference(name, tmp_path):
    md, _ = designs(name)
    model = TurnLoop(md, Params())  # the explorer's defaults, as `turnproof check` runs them
    result = Explorer(model, TurnLoopSpec(model)).run()
    for v in result.violations.values():
        v.path = model.concretize(v.path)
    for prop, v in result.violations.items():
        sim, errors = _run(replay(name, model, v.path + list(v.continuation), tmp_path))
        if prop == "wire-valid":
            assert errors and errors[-1] == v.detail.text


@pytest.mark.parametrize("name", DESIGNS)
def test_random_model_walks_replay_on_the_reference(name, tmp_path):
    model = make_model(name, calls=3)
    rng = random.Random(name)
    for walk in range(25):
        path = random_path(model, rng)
        try:
            _run(replay(name, model, path, tmp_path, check_enabled=True))
        except Mismatch as e:
            raise Mismatch(f"walk {walk}: {[(a, b) for a, b, _ in path[1:]]}\n{e}") from None


def _schedules():
    for name in NAMED:
        if name == "turnproof-proposed":
            continue
        _, result = explored(name)
        for prop, v in result.violations.items():
            path = v.path + list(v.continuation)
            yield f"{name}:{prop}", [(a, b) for a, b, _ in path[1:]]


@pytest.mark.parametrize("case", [c for c, _ in _schedules()])
def test_turnproof_proposed_passes_every_counterexample_schedule(case, tmp_path):
    steps = dict(_schedules())[case]
    run = _run(run_schedule("turnproof-proposed", str(tmp_path / "r.jsonl"), follow(steps), calls=2))
    spec = TurnLoopSpec(run.model)
    taken = [a for a, _ in run.steps]
    assert run.sends, "no request was sent"
    for prev, action, arg, t in run.sends:
        assert (action, arg) == ("SendRequest", "accepted"), (case, run.steps)
        assert spec.check_edge(prev, action, arg, t) == [], (case, run.steps)
    # the schedule's faults really happened on the proposed design too
    for fault in sorted(FAULT_ACTIONS):
        if any(a == fault for a, _ in steps):
            assert fault in taken, (case, fault, run.steps)
    assert taken.count("StreamToolCall") == [a for a, _ in steps].count("StreamToolCall")
    assert run.sim.phase != "refused"
    # the same schedule on its own design still fails there (the adapter keeps the schedule's point)
    name, prop = case.split(":")
    own = _run(run_schedule(name, str(tmp_path / "own.jsonl"), follow(steps), calls=2))
    own_spec = TurnLoopSpec(own.model)
    found = {p for prev, a, b, t in own.sends for p, _ in own_spec.check_edge(prev, a, b, t)}
    bad_end = any(a in ("RefuseRequest", "ResumeRefused") or (a, b) == ("SendRequest", "rejected")
                  for a, b in own.steps)
    assert prop in found or (prop in ("resumable", "can-proceed") and bad_end), (case, own.steps)


def pick(rng, succ: list) -> tuple:
    """A random successor: a fault about one step in seven when there is a choice, then the action,
    then its argument (else Crash(k), one successor per k, crowds out everything else)."""
    calm = [x for x in succ if x[0] not in FAULT_STEPS]
    pool = succ if not calm or rng.random() < 0.15 else calm
    action = rng.choice(sorted({a for a, _, _ in pool}))
    return rng.choice([x for x in pool if x[0] == action])
