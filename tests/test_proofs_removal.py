"""z3 on removal: the summary compaction (the user messages and a summary, between turns or after
the drain) is an abstract step that every model Compact step matches, the proofs of the designs that
use it pass for any number of calls (never on unknown), and the removal policies the encoding lacks
stay unknown (proofs/transitions.py Compact)."""

import json
from functools import lru_cache

import pytest
import z3

from turnproof.checks import design_faults, prove_goals
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
# every removal step of these is an abstract step: the summary compaction, the pair-aware cuts,
# rollback and truncation (proofs/transitions.py)
ENCODED = ("codex-0.122-compact", "codex-0.78-compact", "codex-0.122-rollback", "turnproof-proposed-compact",
           "goose", "opencode", "openhands", "keep-last-n-paired")
NOT_ENCODED = ("codex-0.47-compact", "gemini-cli-pre-8691", "gemini-cli", "cline-pre-7225", "cline", "keep-last-n")
REMOVAL_STEPS = ("Compact", "Rollback", "TruncateOutput")


@lru_cache(maxsize=None)
def explored(name: str):
    d = FIELD[name]
    m = TurnLoop(d, Params(calls=2, faults=design_faults(d)))
    ex = Explorer(m, TurnLoopSpec(m))
    ex.run(safety_only=True)
    return m, ex._states


def _marked(s) -> bool:
    st = State(*s)
    return (any(it[0] in (I.COMPACTED, I.ROLLED_BACK) for it in st.file + st.queue)
            or any(it[0] == I.OUTPUT and it[2] == I.TRUNCATED for it in st.history))


def _sample(m, states, k=400):
    """Every state where a removal step is enabled or that one led to (the rollout holds a compacted
    or thread_rolled_back line, history a truncated result), thinned to about k."""
    keep = [s for s in states if _marked(s) or any(a in REMOVAL_STEPS for a, _, _ in m.successors(s))]
    step = max(1, len(keep) // k)
    return keep[::step]


@pytest.mark.slow
@pytest.mark.parametrize("name", ENCODED)
def test_every_model_step_near_a_removal_is_an_abstract_step(name):
    """Every model step from a state where a removal step is enabled, or after one (rollback and
    truncation included: truncation is the identity of the abstraction), is an abstract step."""
    m, states = explored(name)
    enc, p = Encoding(m.d, m.p.faults), SymbolicParams.fresh()
    seen = set()
    for s in _sample(m, states):
        for action, arg, t in m.successors(s):
            seen.add(action)
            if action == "Compact" and arg.trimmed is not None:
                seen.add(("Compact", "summary request accepted" if arg.accepted else "rejected"))
            assert step_matches(enc, p, VALS, s, action, t), (action, arg, s, t)
    d = m.d
    # (calls come in the first turn only: a rollback, between turns, is followed by none)
    want = {"SendRequest"} | ({"DrainOutput"} if d.compacts else set()) | {a for a, on in (("Compact", d.compacts), ("Rollback", d.rollback),
                                                              ("TruncateOutput", d.truncate_outputs)) if on}
    if "crash" in m.p.faults:  # crash and resume over a removal line
        want |= {"Crash", "Resume"}
    if d.compaction_request != "none":
        want.add(("Compact", "summary request accepted"))
    assert want <= seen, (want - seen, seen)


@pytest.mark.parametrize("name", ENCODED)
def test_a_removal_is_matched_only_by_its_effect(name):
    # not vacuous: a removal step claimed to leave another next id, or a wrong phase, is refused
    m, states = explored(name)
    enc, p = Encoding(m.d, m.p.faults), SymbolicParams.fresh()
    checked = 0
    for s in _sample(m, states, 200):
        for action, _, t in m.successors(s):
            if action not in REMOVAL_STEPS:
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
    kept = set(prove(m.d, m.p.faults).kept)
    p = SymbolicParams(z3.IntVal(2), z3.IntVal(2), z3.IntVal(1))
    clauses = [c for c in CLAUSES if c.name in kept]
    assert {"removals-whole", "removal-keeps-pairs", "results-kept"} <= kept
    spec = TurnLoopSpec(m)
    removal_edges = 0
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
            if action not in REMOVAL_STEPS:
                continue
            removal_edges += 1
            bad = {pid for pid, _ in spec.check_edge(s, action, arg, t)}
            assert not bad & sure, (bad, s, arg)
            assert safe and "removal-keeps-pairs" not in bad
    assert removal_edges > 20


def test_prove_the_summary_compaction_for_any_number_of_calls():
    res, traces, verdicts = prove_goals(FIELD["codex-0.122-compact"])
    assert verdicts == dict.fromkeys(GOALS, "proved") and not res.unknown
    res, traces, verdicts = prove_goals(FIELD["codex-0.78-compact"])
    # v0.77's `res?` loses a finished tool's result, compaction or not: refuted by a replayed trace
    assert verdicts == {**dict.fromkeys(GOALS, "proved"), "results-recorded": "refuted"} and not res.unknown
    assert traces["results-recorded"].length > 0 and traces["results-recorded"].prop == "results-recorded"


@lru_cache(maxsize=None)
def explicit_violations(name: str) -> frozenset:
    d = FIELD[name]
    m = TurnLoop(d, Params(calls=2, faults=design_faults(d)))
    return frozenset(Explorer(m, TurnLoopSpec(m)).run(safety_only=True).violations)


# Rollback, truncation and the pair-aware cuts: proved for any number of calls where the explicit
# model holds, never on unknown (the explorer's verdicts at calls 2 agree goal by goal)
@pytest.mark.parametrize("name", [n for n in ENCODED if not n.startswith("codex-0.78")])
def test_encoded_removal_designs_are_proved_as_the_explorer_finds(name):
    res, traces, verdicts = prove_goals(FIELD[name])
    assert not res.unknown
    assert verdicts == dict.fromkeys(GOALS, "proved"), verdicts
    assert not explicit_violations(name) & set(GOALS)


def test_prove_cli_exit_codes_on_removal_designs():
    code, out, _ = run_cli("prove", "--design", "codex-0.122-compact", "--json")
    assert code == 0 and json.loads(out)["verdict"] == "proved"
    code, out, _ = run_cli("prove", "--design", "codex-0.78-compact")
    assert code == 1
    code, out, _ = run_cli("prove", "--design", "turnproof-proposed-compact")
    assert code == 0 and "PROVED for any number of parallel calls" in out
    code, out, _ = run_cli("prove", "--design", "goose", "--json")  # the field table's faults: removal only
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "proved" and doc["faults"] == ["compaction", "rollback"]


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
