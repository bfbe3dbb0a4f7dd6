"""The inductive proof for any number of calls, its refutations, and `turnproof prove`."""

import json
import pytest

from turnproof.model.designs import NAMED, with_knobs
from turnproof.model.properties import SAFETY
from turnproof.model.turnloop import Params, TurnLoop
from turnproof.proofs.induction import CLAUSES, GOALS, Obligation, ProofResult, prove
from turnproof.proofs.refute import find_traces, replay
from turnproof.proofs.transitions import Encoding
from turnproof.cli import main

PROPOSED = NAMED["turnproof-proposed"]


def test_goals_are_the_safety_properties():
    assert GOALS == SAFETY
    assert [c.name for c in CLAUSES if not c.goal]  # strengthening clauses exist and are labelled


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
def test_proposed_design_is_proved_for_any_number_of_calls(wire):
    d = PROPOSED if wire == "chat" else with_knobs(PROPOSED, f"turnproof-proposed@{wire}", wire=wire)
    r = prove(d)
    assert r.proved and r.rounds == 1 and not r.dropped, [o.line() for o in r.failures]
    # init plus every action the design can take, each against every clause
    assert len(r.obligations) == (1 + len(Encoding(d).actions())) * len(CLAUSES)
    assert {o.action for o in r.obligations} >= {"init", "StreamToolCall", "DrainOutput", "HardAbort", "Crash",
                                                 "Resume"}


@pytest.mark.parametrize("knob,value,goal,where", [
    ("chat_grouping", "per-call", "wire-valid", ("DrainOutput", "wire-valid")),  # #8479 itself
    # "aborted" at call+1 splits a group: the resumed history is no longer orderly
    ("normalization", "codex", "wire-valid", ("Resume", "orderly")),
    # the first prompt again, after a drain recorded results
    ("retry_prompt", "reuse", "results-kept", ("DrainOutput", "results-kept")),
    # `res?` again: finished tools lose their results (what a5783f90c fixed)
    ("drain_on_stream_error", False, "results-recorded", ("StreamError", "results-recorded")),
])
def test_the_proof_fails_when_a_fix_is_taken_back(knob, value, goal, where):
    d = with_knobs(PROPOSED, "mutant", **{knob: value})
    r = prove(d)
    assert goal not in r.proved_goals
    assert where in {(o.action, o.clause) for o in r.failures}
    assert goal in find_traces(d, [goal], max_calls=2)  # and the model confirms it is broken


def test_codex_077_chat_is_refuted_with_a_replayed_trace():
    d = NAMED["codex-0.77-chat"]
    r = prove(d)
    failed = {(o.action, o.clause) for o in r.failures}
    assert ("DrainOutput", "wire-valid") in failed
    assert r.proved_goals == ["calls-answered", "no-orphan-results", "results-kept", "removal-keeps-pairs"]
    traces = find_traces(d, ["wire-valid"], max_calls=2)
    tr = traces["wire-valid"]
    assert replay(tr.model, tr.violation.path, "wire-valid")
    assert tr.violation.path[-2][0] == "DrainOutput" and tr.violation.path[-1][0] == "SendRequest"


EXPLORER_VIOLATED = {  # the safety columns of `turnproof matrix` (calls 3)
    "codex-0.77-chat": {"wire-valid", "results-recorded"},
    "codex-0.77-responses": {"results-recorded"},
    "codex-0.78-chat": {"wire-valid", "results-recorded"},
    "codex-0.122-responses": set(),
    "seed-fix-1": {"wire-valid", "results-recorded"},
    "seed-fix-2": {"results-recorded"},
    "seed-fix-3": {"wire-valid", "results-recorded"},
    "turnproof-proposed": set(),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_every_goal_is_proved_for_any_number_of_calls_or_violated_in_the_explorer(name):
    from model_helpers import explore
    r = prove(NAMED[name])
    _, result = explore(name, 2)
    violated = {p for p in SAFETY if p in result.violations}
    assert violated == EXPLORER_VIOLATED[name]
    assert set(r.proved_goals) == set(SAFETY) - violated


def test_replay_rejects_a_trace_the_model_cannot_take():
    d = NAMED["codex-0.77-chat"]
    tr = find_traces(d, ["wire-valid"], max_calls=1)["wire-valid"]
    path = list(tr.violation.path)
    assert replay(tr.model, path, "wire-valid")
    assert not replay(tr.model, path, "calls-answered")  # the last step does not violate it
    assert not replay(tr.model, path[:3] + path[4:], "wire-valid")  # a step left out
    assert not replay(TurnLoop(PROPOSED, Params(calls=1)), path, "wire-valid")  # another design


def test_cli_proves_the_proposed_design(capsys):
    assert main(["prove", "--design", "turnproof-proposed"]) == 0
    out = capsys.readouterr().out
    assert "PROVED for any number of parallel calls" in out
    assert "StreamToolCall preserves calls-answered ... ok (" in out
    assert "init establishes wire-valid ... ok (" in out
    goals_at, strength_at = out.index("\nsafety goals (property IDs): the inductive invariant\n"), \
        out.index("\nstrengthening clauses: the inductive invariant\n")
    assert goals_at < out.index("preserves wire-valid") < strength_at < out.index("preserves orderly")


def test_cli_refutes_codex_077_chat(capsys):
    assert main(["prove", "--design", "codex-0.77-chat"]) == 1
    out = capsys.readouterr().out
    assert "wire-valid: REFUTED by a 8-step trace with 1 call(s), replayed through the model; " \
           "refuted obligation: DrainOutput preserves wire-valid ... FAILED" in out
    assert "calls-answered: proved for any number of parallel calls" in out
    cti = out[out.index("refuted obligation: DrainOutput preserves wire-valid"):]
    assert "counterexample to induction" in cti and "phase: drain -> ready" in cti  # a two-state difference
    assert "The following tool_call_ids did not have response messages: call_1" in out


def test_cli_json(capsys):
    assert main(["prove", "--design", "codex-0.78-chat", "--json"]) == 1
    j = json.loads(capsys.readouterr().out)
    assert j["verdict"] == "refuted"
    assert j["goals"]["wire-valid"]["status"] == "refuted"
    assert j["goals"]["wire-valid"]["trace"]["replayed"] is True
    assert j["goals"]["calls-answered"]["status"] == "proved"
    assert "calls-answered" in j["any_number_of_calls"]
    assert main(["prove", "--design", "turnproof-proposed", "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["verdict"] == "proved" and all(o["status"] == "ok" for o in j["obligations"])


def test_unknown_is_a_failure_exit_3(monkeypatch, capsys):
    import turnproof.proofs.induction as ind  # what turnproof.checks.prove_goals calls

    def fake(design, faults, timeout_ms):
        r = ProofResult(design.name)
        o = Obligation("Crash", "wire-valid", "unknown", 0.0)
        r.failures, r.dropped = [o], [("wire-valid", o, 1)]
        r.kept = tuple(g for g in GOALS if g != "wire-valid")
        r.obligations = [Obligation("init", g, "ok", 0.0) for g in r.kept]
        return r
    monkeypatch.setattr(ind, "prove", fake)
    # the proposed design has no counterexample, so an unknown obligation leaves it unknown
    assert main(["prove", "--design", "turnproof-proposed", "--max-calls", "1"]) == 3
    assert "UNKNOWN" in capsys.readouterr().out


def test_cli_usage_errors(capsys):
    assert main(["prove", "--design", "no-such-design"]) == 2
    assert "unknown design" in capsys.readouterr().err
    assert main(["prove", "--design", "turnproof-proposed", "--timeout", "0"]) == 2
    assert main(["prove", "--design", "turnproof-proposed", "--faults", "meteor"]) == 2


def test_design_files_work(tmp_path, capsys):
    f = tmp_path / "fix.toml"
    f.write_text('base = "turnproof-proposed"\nname = "my-fix"\n[knobs]\nwire = "responses"\n')
    code = main(["prove", "--design", str(f)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "design my-fix (wire responses)" in out.out
