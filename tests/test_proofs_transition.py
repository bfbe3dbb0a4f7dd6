"""The symbolic transition relation against model/: on pairs of explored states drawn by
hypothesis, z3 finds an abstract step of action A from alpha(s) to a state alpha(t) represents
exactly when TurnLoop.successors(s) has an A step to a state with the same abstraction as t.

Here the encoding runs with the model's bounds (N = 2 calls, 2 turns, 1 retry, each fault once and
at most two, tools resolving at the head of the drain), so it is compared with the model as the
explorer runs it. Targets are drawn both from s's own successors and from other states' (mostly
non-successors).

"Exactly" is up to the abstraction's own order: an abstract state that is not orderly says nothing
about the history's shape, so it represents every concrete state that agrees on the other fields
(proofs/agreement.py refines). The expected answer is therefore "the model has an A step from s to
some u whose abstraction represents alpha(t)".

One step over-approximates beyond that, by design, and is checked in the sound direction only (each
model step is a z3 step): Resume under Codex's normalization of a file with unanswered calls. The
encoding does not follow where "aborted" lands after each call and calls the resumed history not
orderly (proofs/transitions.py Resume), while the model may find it orderly (one call per run). A
proof over more abstract steps than the model has still holds for the model, and a z3
counterexample is replayed on the explicit model before it is reported."""

from functools import lru_cache

import pytest
import z3
from hypothesis import HealthCheck, given, settings, strategies as st

from turnproof.model.designs import NAMED
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import Params, TurnLoop
from turnproof.proofs.abstract import SymbolicParams, alpha, z3_value
from turnproof.proofs.agreement import refines, step_matches
from turnproof.proofs.transitions import Encoding

VALS = {"N": 2, "T": 2, "R": 1}


@lru_cache(maxsize=None)
def setup(name):
    d = NAMED[name]
    m = TurnLoop(d, Params(calls=2))
    ex = Explorer(m, TurnLoopSpec(m))
    ex.run(safety_only=True)
    return m, ex.all_states(), Encoding(d, reduced=True, max_faults=2), SymbolicParams.fresh()


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
    own = [u for a, _, u in m.successors(s) if a == action]
    exact = any(alpha(m.d, u) == a_t for u in own)
    expected = exact or any(z3.is_true(z3.simplify(refines(z3_value(alpha(m.d, u)), a_t))) for u in own)
    got = step_matches(enc, p, VALS, s, action, t)
    if exact:
        assert got, (action, s, t)  # soundness: every model step is a z3 step
    if got and not expected and action == "Resume" and m.d.normalization == "codex":
        a_s = alpha(m.d, s)
        assert a_s["pending_lo"] < a_s["pending_hi"], (s, t)  # the case the docstring names: calls unanswered
        return
    assert got == expected, (action, s, t)


def test_the_resume_over_approximation_is_met():
    """The case the docstring excuses exists (seed-fix-1: a file with two unanswered calls, resumed
    to a history where a non-orderly one from another file is also an abstract successor)."""
    m, states, enc, p = setup("seed-fix-1")
    s = next(x for x in states if x[0] == "down" and alpha(m.d, x)["pending_hi"] - alpha(m.d, x)["pending_lo"] == 2
             and alpha(m.d, x)["orderly"])
    resumed = {alpha(m.d, u)["orderly"] for a, _, u in m.successors(s) if a == "Resume"}
    assert resumed == {True}
    others = [t for x in states if x[0] == "down" for a, _, t in m.successors(x)
              if a == "Resume" and not alpha(m.d, t)["orderly"]]
    assert any(step_matches(enc, p, VALS, s, "Resume", t) for t in others[:200])


@pytest.mark.parametrize("name", ["turnproof-proposed", "codex-0.77-chat"])
def test_the_cancel_reduction_is_in_the_bmc_encoding(name):
    """The model's third reduction (once cancelled, a running tool aborts and does not finish) is in
    the reduced encoding too, so BMC proposes no trace the model cannot follow: from every cancelled
    state with a running head, the unreduced model's ToolFinish step is no z3 step, its ToolAbort is."""
    m, states, enc, p = setup(name)
    full = TurnLoop(m.d, Params(calls=2, reduce=False))
    checked = 0
    for s in states:
        if s[0] != "cancel" or s[11] >= len(s[10]) or s[10][s[11]] != "running":
            continue
        head = m.cid(s, s[11])  # the head of the drain: the tool the reduced model resolves
        steps = {a: t for a, arg, t in full.successors(s) if a in ("ToolFinish", "ToolAbort") and arg == head}
        assert not step_matches(enc, p, VALS, s, "ToolFinish", steps["ToolFinish"])
        assert step_matches(enc, p, VALS, s, "ToolAbort", steps["ToolAbort"])
        checked += 1
        if checked == 20:
            break
    assert checked
