"""The symbolic transition relation against model/: on pairs of explored states drawn by
hypothesis, z3 finds an abstract step of action A from alpha(s) to a state alpha(t) represents
exactly when TurnLoop.successors(s) has an A step to a state with the same abstraction as t.

Here the encoding runs with the model's bounds (N = 2 calls, 2 turns, 1 retry, each fault once and
at most two, tools resolving at the head of the drain), so it is compared with the model as the
explorer runs it. Targets are drawn both from s's own successors and from other states' (mostly
non-successors)."""

from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from turnproof.model.designs import NAMED
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import Params, TurnLoop
from turnproof.proofs.abstract import SymbolicParams, alpha
from turnproof.proofs.agreement import step_matches
from turnproof.proofs.transitions import Encoding

VALS = {"N": 2, "T": 2, "R": 1}


@lru_cache(maxsize=None)
def setup(name):
    d = NAMED[name]
    m = TurnLoop(d, Params(calls=2))
    ex = Explorer(m, TurnLoopSpec(m))
    ex.run(safety_only=True)
    return m, ex._states, Encoding(d, reduced=True, max_faults=2), SymbolicParams.fresh()


@pytest.mark.parametrize("name", list(NAMED))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_z3_step_exactly_when_model_step(name, data):
    m, states, enc, p = setup(name)
    s = states[data.draw(st.integers(0, len(states) - 1), label="s")]
    own = data.draw(st.booleans(), label="own successor")
    src = s if own else states[data.draw(st.integers(0, len(states) - 1), label="other")]
    succ = m.successors(src)
    if not succ:
        return
    action, _, t = succ[data.draw(st.integers(0, len(succ) - 1), label="step")]
    a_t = alpha(m.d, t)
    expected = any(a == action and alpha(m.d, u) == a_t for a, _, u in m.successors(s))
    assert step_matches(enc, p, VALS, s, action, t) == expected, (action, s, t)
