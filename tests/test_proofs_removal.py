"""z3 on removal: every model step near a compaction, rollback or truncation is an abstract step
(exact where pairs stay whole, an over-approximation for cuts that may split a pair and compaction in
flight), the invariant and the guaranteed verdicts hold on reachable states, and `turnproof prove`
agrees goal by goal with the explorer and model/expected.toml: proved only where the explicit model
holds, refuted by a replayed trace where it fails, never proved on unknown."""

import json
from functools import lru_cache

import pytest
import z3

from turnproof.checks import design_faults, prove_goals
from turnproof.model import items as I
from turnproof.model.designs import FIELD, with_knobs
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import IDLE, READY, Params, State, TurnLoop
from turnproof.proofs.abstract import SymbolicParams, alpha, ok_props, z3_value
from turnproof.proofs.agreement import step_matches, verdicts_sound
from turnproof.proofs.induction import CLAUSES, GOALS, SUMMARY_JUDGED, prove, removal_safe, summary_ok
from turnproof.proofs.transitions import Encoding
from turnproof.verify import load_manifest

from conftest import run_cli

VALS = {"N": 2, "T": 2, "R": 1}
# exact where pairs stay whole: the summary compaction, the pair-aware cuts, rollback and truncation
EXACT = ("codex-0.122-compact", "codex-0.78-compact", "codex-0.122-rollback", "turnproof-proposed-compact",
         "goose", "opencode", "openhands", "keep-last-n-paired", "gemini-cli", "codex-0.122-remote")
# over-approximated: cuts that may split a pair (in flight too), v0.47's raw request and remove(0)
SPLIT = ("codex-0.47-compact", "gemini-cli-pre-8691", "cline-pre-7225", "cline", "keep-last-n", "codex-0.78-remote")
ENCODED = EXACT + SPLIT
# the facts Compact drops on such a cut (proofs/transitions.py Compact, split_cut)
SPLIT_LOST = ("orderly", "well_formed", "rollout_well_formed", "turns_paired", "rollout_turns_paired", "removals_whole",
              "in_flight_recorded")
REMOVAL_STEPS = ("Compact", "Rollback", "TruncateOutput")


@lru_cache(maxsize=None)
def explored(name: str):
    d = FIELD[name]
    m = TurnLoop(d, Params(calls=2, faults=design_faults(d)))
    ex = Explorer(m, TurnLoopSpec(m))
    ex.run(safety_only=True)
    return m, ex.all_states()


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
    # calls come in the first turn only: a rollback, between turns, is followed by none, and Cline's
    # range needs four messages, which only the last round leaves
    drains = d.compacts and not d.compaction_keeps.startswith("cline")
    want = {"SendRequest"} | ({"DrainOutput"} if drains else set()) | {
        a for a, on in (("Compact", d.compacts), ("Rollback", d.rollback), ("TruncateOutput", d.truncate_outputs)) if on}
    if "crash" in m.p.faults:  # crash and resume over a removal line
        want |= {"Crash", "Resume"}
    if d.compaction_request != "none":
        want.add(("Compact", "summary request accepted"))
    assert want <= seen, (want - seen, seen)


@pytest.mark.parametrize("name", [n for n in ENCODED if FIELD[n].truncate_outputs])
def test_truncation_is_the_identity_of_the_abstraction(name):
    """TruncateOutput changes a result's content only, and every fact reads results by their key:
    on every explored truncation the abstraction is unchanged, so the abstract step is the identity."""
    m, states = explored(name)
    steps = [(s, t) for s in states for a, _, t in m.successors(s) if a == "TruncateOutput"]
    assert len(steps) > 5
    for s, t in steps:
        assert State(*t).history != State(*s).history and alpha(m.d, t) == alpha(m.d, s), (s, t)


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
    if name in EXACT:
        assert {"removals-whole", "removal-keeps-pairs", "results-kept"} <= kept
    spec = TurnLoopSpec(m)
    removal_edges = 0
    for s in _sample(m, states):
        a = alpha(m.d, s)
        zs = z3_value(a)
        if Encoding(m.d).split_cut() and _marked(s):
            # after a cut that may split a pair the abstraction keeps no pairing fact: the invariant
            # holds of that abstract state, which represents s (False facts say nothing)
            zs = z3_value({**a, **dict.fromkeys(SPLIT_LOST, False)})
        for c in clauses:
            assert z3.is_true(z3.simplify(c.fn(m.d, zs, p))), (c.name, s)
        if State(*s).phase == READY:
            assert verdicts_sound(m, s) == [], s
        if State(*s).phase not in (IDLE, READY):
            continue
        # the summary request and the removal step: what the abstraction guarantees, the model finds
        sure = {pid for pid, v in summary_ok(m.d, a).items() if v is True and pid in SUMMARY_JUDGED}
        safe = z3.is_true(z3.simplify(removal_safe(m.d, zs, p)))
        for action, arg, t in m.successors(s):
            if action not in REMOVAL_STEPS:
                continue
            removal_edges += 1
            bad = {pid for pid, _ in spec.check_edge(s, action, arg, t)}
            assert not bad & sure, (bad, s, arg)
            assert safe or Encoding(m.d).split_cut()  # a cut that may split a pair is guaranteed nothing
            assert not (safe and "removal-keeps-pairs" in bad)
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


# z3 against the explorer on every design of the field table, goal by goal: a goal proved for any
# number of calls holds in the explorer (calls 2), a goal the explorer violates is refuted (by its
# replayed trace), never proved; the verdicts are those model/expected.toml records (what `turnproof
# verify` checks), and the designs whose removal keeps pairs whole are proved outright, never on unknown
@pytest.mark.parametrize("name", ENCODED)
def test_z3_agrees_with_the_explorer_on_removal_designs(name):
    res, traces, verdicts = prove_goals(FIELD[name])
    assert verdicts == load_manifest().designs[name]["prove"], verdicts
    violated = explicit_violations(name) & set(GOALS)
    for g, v in verdicts.items():
        assert (v == "refuted") == (g in violated), (g, v)
        if v == "refuted":
            assert traces[g].prop == g and traces[g].length > 0
    if name in EXACT:
        assert not res.unknown and set(verdicts.values()) <= {"proved", "refuted"}
        assert "removals-whole" in res.kept
    # two steps of the removal argument, proof obligations: a later call never takes a removed
    # result's id; nothing is in flight where a compaction between turns or after the drain runs
    assert {"removed-below-next", "nothing-in-flight-at-compaction"} <= set(res.kept)


def test_the_removal_obligations_are_not_vacuous():
    d = FIELD["codex-0.122-compact"]
    # without the bound, a call recorded after a compaction might bring a removed result's call back
    res = prove(d, clauses=tuple(c for c in CLAUSES if c.name != "removed-below-next"))
    assert ("removals-whole", "StreamToolCall") in [(c, o.action) for c, o, _ in res.dropped]
    # "nothing in flight where it runs" is kept (above) and rules out a READY state with a future in
    # flight (turnproof-proposed-compact drops late results, so removal-keeps-pairs does not say it)
    clause = next(c for c in CLAUSES if c.name == "nothing-in-flight-at-compaction")
    m, states = explored("turnproof-proposed-compact")
    a = alpha(m.d, next(x for x in states if State(*x).phase == READY and State(*x).retries_left == 1))
    p = SymbolicParams(z3.IntVal(2), z3.IntVal(2), z3.IntVal(1))
    assert z3.is_true(z3.simplify(clause.fn(m.d, z3_value(a), p)))
    assert z3.is_false(z3.simplify(clause.fn(m.d, z3_value({**a, "in_flight_len": 1, "in_flight": (0,)}), p)))


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


def test_removal_on_index_ids_stays_unknown():
    # chat.rs's tool-call-{index} ids repeat across responses: no removal is encoded on them
    d = with_knobs(FIELD["goose"], "goose-index", call_ids="index")
    with pytest.raises(NotImplementedError):
        Encoding(d).actions()
    with pytest.raises(ValueError, match="z3 does not prove it"):
        prove_goals(d)


def test_prove_cli_on_cuts_that_may_split_a_pair():
    # a goal the explorer finds failing is refuted (exit 1); one it finds holding stays unknown, and says why
    code, out, _ = run_cli("prove", "--design", "gemini-cli-pre-8691", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "refuted" and doc["goals"]["removal-keeps-pairs"]["trace"]["length"] == 4
    assert doc["goals"]["calls-answered"]["status"] == "unknown" and "over-approximation" in doc["note"]
    code, out, _ = run_cli("prove", "--design", "keep-last-n")
    assert code == 1 and "calls-answered: unknown" in out and "(last-n, after-drain) may split a pair" in out
    # the fixed gemini-cli (a tail from a user turn, in flight too) is proved
    code, out, _ = run_cli("prove", "--design", "gemini-cli")
    assert code == 0 and "PROVED for any number of parallel calls" in out


def test_ok_props_results_kept_needs_removals_whole():
    m, states = explored("codex-0.122-compact")
    s = next(x for x in states if State(*x).phase == READY and _marked(x))
    a = alpha(m.d, s)
    assert a["removals_whole"] and ok_props(m.d, a)["results-kept"] is True
    assert ok_props(m.d, {**a, "removals_whole": False})["results-kept"] is False
