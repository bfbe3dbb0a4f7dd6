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
import itertools
import random
from functools import lru_cache

import pytest

from conformance_util import Mismatch, Replayer, abstract, designs, drive, make_model
from model.designs import NAMED
from model.explorer import Explorer
from model.properties import TurnLoopSpec, dropped_results, orphan_results, unanswered_or_duplicated
from model.turnloop import FILE, QUEUE, Params, TurnLoop
from reference.sim import Sim

_SEQ = itertools.count()
DESIGNS = list(NAMED) + ["turnproof-proposed@responses", "turnproof-proposed@anthropic"]


@lru_cache(maxsize=None)
def explored(name: str):
    md, _ = designs(name)
    m = TurnLoop(md, Params(calls=2, retries=1))
    return m, Explorer(m, TurnLoopSpec(m)).run()


def _run(coro):
    return asyncio.run(coro)


async def _replay(name: str, model, path: list, tmp_path) -> tuple:
    _, rd = designs(name)
    sim = Sim(rd, str(tmp_path / f"rollout-{next(_SEQ)}.jsonl"), max_retries=model.p.retries)
    await sim.start()
    try:
        errors = await drive(sim, model, path)
    finally:
        await sim.finish()
    return sim, errors


def test_named_designs_have_the_same_knobs():
    from reference.designs import NAMED as REF
    assert list(REF) == list(NAMED)
    for n, d in NAMED.items():
        assert REF[n].knobs() == d.knobs(), n


@pytest.mark.parametrize("name", DESIGNS)
def test_counterexamples_replay_on_the_reference(name, tmp_path):
    model, result = explored(name)
    if name.startswith("turnproof-proposed"):
        assert not result.violations
    for prop, v in result.violations.items():
        path = v.path + [(a, b, t) for a, b, t in v.continuation]
        sim, errors = _run(_replay(name, model, path, tmp_path))
        last_action = path[-1][0]
        if prop == "wire-valid":
            assert errors and errors[-1] == v.detail.text, (prop, errors)
        if prop in ("resumable", "can-proceed"):
            # the same dead session: the continuation ends in a rejected or refused step
            assert last_action in ("SendRequest", "RefuseRequest", "ResumeRefused"), path[-1]
            assert sim.log[-1][0] == last_action and sim.log[-1][1] in (None, "rejected")


@pytest.mark.parametrize("name", DESIGNS)
def test_random_model_walks_replay_on_the_reference(name, tmp_path):
    model = make_model(name, calls=3)
    rng = random.Random(name)
    for walk in range(25):
        s = model.init_states()[0]
        path = [(None, None, s)]
        for _ in range(40):
            succ = model.successors(s)
            if not succ:
                break
            a, b, s = rng.choice(succ)
            path.append((a, b, s))
        try:
            _run(_replay(name, model, path, tmp_path))
        except Mismatch as e:
            raise Mismatch(f"walk {walk}: {[(a, b) for a, b, _ in path[1:]]}\n{e}") from None
