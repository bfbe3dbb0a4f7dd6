"""z3 on removal: the summary compaction (the user messages and a summary, between turns or after
the drain) is an abstract step that every model Compact step matches, the proofs of the designs that
use it pass for any number of calls (never on unknown), and the removal policies the encoding lacks
stay unknown (proofs/transitions.py Compact)."""

import json
from functools import lru_cache

import pytest
import z3

from turnproof.checks import prove_goals
from turnproof.model import items as I
from turnproof.model.designs import FIELD
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import IDLE, READY, Params, State, TurnLoop
from turnproof.proofs.abstract import SymbolicParams, alpha, ok_props, z3_value
from turnproof.proofs.agreement import step_matches, verdicts_sound
from turnproof.proofs.induction import CLAUSES, GOALS, prove, removal_safe, summary_ok
from turnproof.proofs.transitions import Encoding

from conftest import run_cli

VALS = {"N": 2, "T": 2, "R": 1}
ENCODED = ("codex-0.122-compact", "codex-0.78-compact")
NOT_ENCODED = ("codex-0.47-compact", "codex-0.122-rollback", "gemini-cli-pre-8691", "gemini-cli", "cline-pre-7225",
               "cline", "opencode", "goose", "openhands", "keep-last-n", "keep-last-n-paired",
               "turnproof-proposed-compact")


@lru_cache(maxsize=None)
def explored(name: str):
    m = TurnLoop(FIELD[name], Params(calls=2))
    ex = Explorer(m, TurnLoopSpec(m))
    ex.run(safety_only=True)
    return m, ex._states


def _marked(s) -> bool:
    return any(it[0] == I.COMPACTED for it in State(*s).file + State(*s).queue)


def _sample(m, states, k=400):
    """Every state where Compact is enabled or the rollout holds a compacted line, thinned to about k."""
    keep = [s for s in states if _marked(s) or any(a == "Compact" for a, _, _ in m.successors(s))]
    step = max(1, len(keep) // k)
    return keep[::step]


@pytest.mark.slow
@pytest.mark.parametrize("name", ENCODED)
def test_every_model_step_after_or_at_a_compaction_is_an_abstract_step(name):
    m, states = explored(name)
    enc, p = Encoding(m.d), SymbolicParams.fresh()
    seen = set()
    for s in _sample(m, states):
        for action, arg, t in m.successors(s):
            seen.add(action if action != "Compact" else ("Compact", arg.trimmed is not None and arg.accepted))
            assert step_matches(enc, p, VALS, s, action, t), (action, arg, s, t)
    # compactions that succeed and fail (a rejected summary request), and crash/resume over a compacted line
    assert {("Compact", True), "Crash", "Resume", "SendRequest", "DrainOutput"} <= seen, seen


@pytest.mark.parametrize("name", ENCODED)
def test_a_compaction_is_matched_only_by_its_effect(name):
    # not vacuous: a compacted history claimed to keep an output bound, or a wrong phase, is refused
    m, states = explored(name)
    enc, p = Encoding(m.d), SymbolicParams.fresh()
    checked = 0
    for s in _sample(m, states, 60):
        for action, _, t in m.successors(s):
            if action != "Compact":
                continue
            a_t = alpha(m.d, t)
            assert not step_matches(enc, p, VALS, s, action, t, {**a_t, "next_id": a_t["next_id"] + 1})
            assert not step_matches(enc, p, VALS, s, action, t, {**a_t, "phase": 4})
            checked += 1
    assert checked > 10


@pytest.mark.slow
@pytest.mark.parametrize("name", ENCODED)
def test_the_invariant_and_the_verdicts_hold_on_reachable_states(name):
    m, states = explored(name)
    kept = set(prove(m.d).kept)
    p = SymbolicParams(z3.IntVal(2), z3.IntVal(2), z3.IntVal(1))
    clauses = [c for c in CLAUSES if c.name in kept]
    assert {"removals-whole", "removal-keeps-pairs", "results-kept"} <= kept
    spec = TurnLoopSpec(m)
    compact_edges = 0
    for s in _sample(m, states):
        a = alpha(m.d, s)
        zs = z3_value(a)
        for c in clauses:
            assert z3.is_true(z3.simplify(c.fn(m.d, zs, p))), (c.name, s)
        if State(*s).phase == READY:
            assert verdicts_sound(m, s) == [], s
        if State(*s).phase not in (IDLE, READY):
            continue
        # the summary request and the removal step: what the abstraction guarantees, the model finds
        sure = {pid for pid, v in summary_ok(m.d, a).items() if v is True}
        safe = z3.is_true(z3.simplify(removal_safe(m.d, zs, p)))
        for action, arg, t in m.successors(s):
            if action != "Compact":
                continue
            compact_edges += 1
            bad = {pid for pid, _ in spec.check_edge(s, action, arg, t)}
            assert not bad & sure, (bad, s, arg)
            assert safe and "removal-keeps-pairs" not in bad
    assert compact_edges > 20


def test_prove_the_summary_compaction_for_any_number_of_calls():
    res, traces, verdicts = prove_goals(FIELD["codex-0.122-compact"])
    assert verdicts == dict.fromkeys(GOALS, "proved") and not res.unknown
    res, traces, verdicts = prove_goals(FIELD["codex-0.78-compact"])
    # v0.77's `res?` loses a finished tool's result, compaction or not: refuted by a replayed trace
    assert verdicts == {**dict.fromkeys(GOALS, "proved"), "results-recorded": "refuted"} and not res.unknown
    assert traces["results-recorded"].length > 0 and traces["results-recorded"].prop == "results-recorded"


def test_prove_cli_exit_codes_on_removal_designs():
    code, out, _ = run_cli("prove", "--design", "codex-0.122-compact", "--json")
    assert code == 0 and json.loads(out)["verdict"] == "proved"
    code, out, _ = run_cli("prove", "--design", "codex-0.78-compact")
    assert code == 1


@pytest.mark.parametrize("name", NOT_ENCODED)
def test_policies_not_encoded_stay_unknown(name):
    with pytest.raises(NotImplementedError):
        Encoding(FIELD[name]).actions()
    with pytest.raises(ValueError, match="z3 does not prove it"):
        prove_goals(FIELD[name])


def test_prove_cli_says_unknown_for_a_policy_not_encoded():
    code, out, _ = run_cli("prove", "--design", "gemini-cli-pre-8691", "--json")
    doc = json.loads(out)
    assert code == 3 and doc["verdict"] == "unknown" and "no compaction" in doc["reason"]


def test_ok_props_results_kept_needs_removals_whole():
    m, states = explored("codex-0.122-compact")
    s = next(x for x in states if State(*x).phase == READY and _marked(x))
    a = alpha(m.d, s)
    assert a["removals_whole"] and ok_props(m.d, a)["results-kept"] is True
    assert ok_props(m.d, {**a, "removals_whole": False})["results-kept"] is False
