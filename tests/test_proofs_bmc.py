"""BMC on the z3 actions agrees with the explorer: same verdict, same shortest length, and every
z3 trace is decoded into model states and replayed through TurnLoop.successors.

The default set covers every named design's violated safety properties at calls 2 and two
holding ones; calls 1 and 3 and every holding property are behind @pytest.mark.slow. For a
holding property BMC only shows no violation up to DEPTH steps, while the explorer searches the
whole graph."""

import pytest

from turnproof.model.designs import NAMED
from turnproof.model.properties import SAFETY
from turnproof.model.turnloop import Params, TurnLoop
from model_helpers import explore
from turnproof.proofs.bmc import bmc
from turnproof.proofs.refute import replay

DEPTH = 10  # every shortest counterexample of the named designs at calls <= 3 is at most 10 steps


# which safety properties the explorer finds violated (the `turnproof matrix` columns; at calls 1
# seed-fix-1's wire-valid needs a second call). Only used to choose fast and slow cases: each
# test compares with the explorer it runs.
VIOLATED = {"codex-0.77-chat": {"wire-valid", "results-recorded"}, "codex-0.77-responses": {"results-recorded"},
            "codex-0.78-chat": {"wire-valid", "results-recorded"}, "codex-0.122-responses": set(),
            "seed-fix-1": {"wire-valid", "results-recorded"}, "seed-fix-2": {"results-recorded"},
            "seed-fix-3": {"wire-valid", "results-recorded"}, "turnproof-proposed": set()}


def _cases(calls_list, violated: bool):
    return [(name, calls, g) for name in NAMED for calls in calls_list for g in SAFETY
            if (g in VIOLATED[name]) == violated]


def _agree(name, calls, goal):
    m, r = explore(name, calls)
    b = bmc(NAMED[name], goal, calls, depth=DEPTH)
    v = r.violations.get(goal)
    if v is None:
        assert not b.violated, (b.actions, b.note)
        assert b.depth_checked == DEPTH and not b.note
        return
    assert b.violated and b.confirmed, b.note
    model = TurnLoop(NAMED[name], Params(calls=calls))
    assert replay(model, b.path, goal)  # the decoded states are a path of the model
    # the explorer reports its shortest (reduced) path made concrete; BMC's, made concrete, is as long
    assert len(model.concretize(b.path)) == len(v.path)
    assert [a for a, _, _ in b.path[1:]] == b.actions


@pytest.mark.parametrize("name,calls,goal", _cases((2,), violated=True))
def test_bmc_finds_the_explorers_shortest_counterexample(name, calls, goal):
    _agree(name, calls, goal)


@pytest.mark.parametrize("name,goal", [("turnproof-proposed", "wire-valid"), ("codex-0.77-chat", "calls-answered")])
def test_bmc_finds_nothing_where_the_explorer_finds_nothing(name, goal):
    _agree(name, 1, goal)


@pytest.mark.slow
@pytest.mark.parametrize("name,calls,goal", _cases((1, 3), violated=True))
def test_bmc_calls_1_and_3(name, calls, goal):
    _agree(name, calls, goal)


@pytest.mark.slow
@pytest.mark.parametrize("name,calls,goal", _cases((1, 2), violated=False))
def test_bmc_holding_properties(name, calls, goal):
    _agree(name, calls, goal)
