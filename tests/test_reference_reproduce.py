"""`turnproof reproduce`, and each residual failure the model finds for a shipped Codex design
reproduced end to end: two real processes (the session, then a resume from its file), every step
replayed on the model, the provider's answers equal to the model's, and the property the model
says is broken found broken in the real run; turnproof-proposed passes the same scenarios.
"""

from __future__ import annotations

import os
import re

import pytest

from conformance_util import Replayer, file_items, make_model
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import State
from turnproof.reference.proc import run_process
from turnproof.cli import main
from turnproof.incidents import SCENARIOS

CHAT_8479 = ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
             "'tool_call_id'. The following tool_call_ids did not have response messages: call_1")

# scenario -> (model faults besides the restart, the property the default design breaks)
EXPECT = {
    "8479": (set(), "wire-valid"),
    "text-with-calls": (set(), "wire-valid"),
    "tool-failure": ({"tool-failure"}, "wire-valid"),
    "hard-abort": ({"interrupt"}, "wire-valid"),
    "crash": (set(), "wire-valid"),
    "stream-closed-retry": ({"stream-closed"}, "results-recorded"),
}


def test_8479_fails_and_fails_again_after_resume(tmp_path, capsys):
    assert main(["reproduce", "8479", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.count(CHAT_8479) == 2  # the session, then the fresh process resumed from its file
    assert "process 2 (pid" in out and "resumed from the rollout file" in out
    path = re.search(r"rollout file left at (\S+)", out).group(1)
    assert os.path.exists(path) and path.startswith(str(tmp_path))
    assert file_items(path)[:4] == (("user", None, None), ("call", 1, None), ("call", 2, None), ("call", 3, None))


def test_8479_passes_on_codex_078(tmp_path, capsys):
    assert main(["reproduce", "8479", "--design", "codex-0.78-chat", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "REJECTED" not in out and "ok: every request was accepted" in out


CRASHER = """import os, sys
if "--pause-lines" in sys.argv and {which!r} in sys.argv:
    os.write(2, b"Traceback (most recent call last):\\nFileNotFoundError: the session file\\n")
    os._exit(1)
"""


@pytest.mark.parametrize("which", ["run", "resume"])
def test_a_child_that_crashes_fails_the_run(tmp_path, capsys, monkeypatch, which):
    """Issue 14.1: crashed children once made `reproduce` print "ok" and exit 0."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(CRASHER.format(which=which))
    monkeypatch.setenv("PYTHONPATH", str(site))  # the children's Python runs it at start-up
    monkeypatch.chdir(tmp_path)
    code = main(["reproduce", "8479", "--design", "codex-0.78-chat", "--dir", "out"])  # works when nothing crashes
    out = capsys.readouterr().out
    assert code == 4, out
    n = "1" if which == "run" else "2"
    err_line = next(x for x in out.splitlines() if x.startswith("ERROR: process"))
    assert n in err_line and "of the reference loop crashed" in err_line and "CRASHED: exit code 1" in out
    assert "ok:" not in out


def test_relative_dir_works(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "8479", "--dir", "out"]) == 1
    out = capsys.readouterr().out
    assert "CRASHED" not in out and out.count(CHAT_8479) == 2
    assert re.search(r"rollout file left at out/", out)


def test_reproduce_usage_errors(tmp_path, capsys):
    assert main(["reproduce", "9999"]) == 2
    assert main(["reproduce", "8479", "--design", "codex-9"]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario '9999'" in err and "unknown design 'codex-9'" in err


def _two_processes(design: str, scenario: str, tmp_path) -> tuple:
    sc = SCENARIOS[scenario]
    faults, _ = EXPECT[scenario]
    path = str(tmp_path / f"{scenario}-{design}.jsonl")
    model = make_model(design, calls=3, faults=faults | {"crash"}, text=True)
    rep = Replayer(model)
    spec = TurnLoopSpec(model)
    broken: set = set()
    verdicts: list = []

    def replay(events):
        verdicts.clear()
        for ev in events:
            prev = rep.s
            rep.step(*ev)
            if ev[0] == "SendRequest":
                broken.update(p for p, _ in spec.check_edge(prev, ev[0], ev[1], rep.s))
                r = model.request(prev)
                verdicts.append(r.rejections[0].text if r.rejections else None)

    first = run_process(["run", "--design", design, "--file", path, *sc.args], fork=True,
                        kill_after_model_line=sc.kill_after_model_line)
    replay(first.events)
    if first.result is not None:
        assert [r["rejected"] for r in first.result["requests"]] == verdicts
    on_disk = file_items(path)
    rep.step("Crash", len(on_disk))  # killed, or ended by itself: the writer had caught up
    assert on_disk == State(*rep.s).file
    second = run_process(["resume", "--design", design, "--file", path, "--message", "continue"], fork=True)
    replay(second.events)
    # the stub provider answered what the model's provider rules answer
    assert [r["rejected"] for r in second.result["requests"]] == verdicts
    return broken, first, second


def test_every_scenario_is_tested():
    assert set(SCENARIOS) == set(EXPECT) | {"5385", "5385-trim"}  # those two: the removal tests below


@pytest.mark.parametrize("scenario", list(EXPECT))
def test_residual_failure_reproduced_and_fixed(scenario, tmp_path):
    _, prop = EXPECT[scenario]
    broken, first, second = _two_processes(SCENARIOS[scenario].design, scenario, tmp_path)
    assert prop in broken, (scenario, broken, first.events)
    if prop == "wire-valid":  # dead for good: the resumed process is rejected too
        assert second.result["rejections"]
    elif prop == "results-recorded":  # the finished tools' results never reached history or file
        assert any(r["unrecorded_results"] for r in first.result["requests"])
    else:
        assert any(r["lost_results"] for r in first.result["requests"])
    broken, _, second = _two_processes("turnproof-proposed", scenario, tmp_path)
    assert not broken
    assert not second.result["rejections"]


def test_reproduce_with_a_design_file(tmp_path, capsys):
    f = tmp_path / "fix.toml"
    f.write_text('base = "codex-0.77-chat"\ntitle = "group calls"\n\n[knobs]\nchat_grouping = "consecutive"\n')
    assert main(["reproduce", "8479", "--design", str(f), "--dir", str(tmp_path)]) == 0
    f.write_text('base = "codex-0.77-chat"\ntitle = "no change"\n\n[knobs]\nchat_grouping = "per-call"\n')
    assert main(["reproduce", "8479", "--design", str(f), "--dir", str(tmp_path)]) == 1
    assert CHAT_8479 in capsys.readouterr().out


def test_stream_closed_retry_on_the_chat_wire(tmp_path):
    """On the chat wire a close after the finish_reason chunk is a completion (chat.rs
    flush_and_complete, rust-v0.78.0 codex-api/src/sse/chat.rs:112-117): the calls' outputs are
    drained and the follow-up carries them; nothing is retried and nothing is lost."""
    broken, first, _ = _two_processes("codex-0.78-chat", "stream-closed-retry", tmp_path)
    assert not broken, broken
    steps = [a for a, _ in first.events]
    assert "StreamClosed" in steps and steps.count("SendRequest") == 2  # the first request and its follow-up
    assert not any(r["lost_results"] or r["unrecorded_results"] for r in first.result["requests"])


# ---- history that shrinks (issue 13): #5385 on the reference loop ----------------------------------
def _replay_removal(scenario: str, design: str, tmp_path) -> tuple[set, list]:
    """Both processes of a removal scenario, every step replayed on the model (the restart is its
    Crash); the provider's verdict on every request, summary requests included, equal to the model's."""
    from turnproof.model.turnloop import CompactArg

    sc = SCENARIOS[scenario]
    os.makedirs(tmp_path, exist_ok=True)
    path = str(tmp_path / f"{scenario}-{design}.jsonl")
    model = make_model(design, calls=1, faults={"tool-failure", "compaction", "crash"}, max_faults=3)
    rep, spec = Replayer(model), TurnLoopSpec(model)
    broken: set = set()
    texts: list = []

    def replay(run):
        verdicts = []
        for a, b in run.events:
            prev = rep.s
            rep.step(a, b)
            if a == "Compact" and b[1] is not None or a == "SendRequest":
                arg = CompactArg(*b) if a == "Compact" else b
                broken.update(p for p, _ in spec.check_edge(prev, a, arg, rep.s))
                r = model.request_at(prev, a, arg)
                verdicts.append(r.rejections[0].text if r.rejections else None)
        if run.result is not None:
            assert [q["rejected"] for q in run.result["requests"]] == verdicts
            texts.extend(v for v in verdicts if v)

    first = run_process(["run", "--design", design, "--file", path, *sc.args], fork=True,
                        kill_after_model_line=sc.kill_after_model_line)
    replay(first)
    on_disk = file_items(path)
    rep.step("Crash", len(on_disk))
    assert on_disk == State(*rep.s).file
    second = run_process(["resume", "--design", design, "--file", path, "--message", "continue", *sc.resume_args],
                         fork=True)
    replay(second)
    return broken, texts


def test_5385_a_failed_call_goes_raw_into_the_047_summary_request(tmp_path, capsys):
    broken, texts = _replay_removal("5385", "codex-0.47-compact", tmp_path)
    assert broken == {"calls-answered", "wire-valid"} and texts == ["No tool output found for function call call_1."]
    assert main(["reproduce", "5385", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Compact(summary request rejected)" in out and "(a compaction's summary request)" in out
    assert out.count("No tool output found for function call call_1.") == 1
    assert "FAILED: the session broke (it recovered after the restart)." in out
    # v0.48's normalized summary request: the same session works
    assert _replay_removal("5385", "codex-0.78-compact", tmp_path / "b")[0] == set()
    assert main(["reproduce", "5385", "--design", "codex-0.78-compact", "--dir", str(tmp_path)]) == 0


def test_5385_trim_remove0_leaves_a_result_without_its_call(tmp_path, capsys):
    broken, texts = _replay_removal("5385-trim", "codex-0.47-compact", tmp_path)
    assert broken == {"no-orphan-results", "wire-valid"}
    assert texts == ["No tool call found for function call output with call_id call_1."]
    assert main(["reproduce", "5385-trim", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Crash(k=2)" in out and "Compact(summary request trimmed 2 rejected)" in out
    assert "after the restart, a compaction's summary request was rejected" in out
    assert _replay_removal("5385-trim", "codex-0.78-compact", tmp_path / "b")[0] == set()  # remove_first_item


def test_reproduce_runs_a_removal_design_file_and_refuses_what_the_reference_cannot_run(tmp_path, capsys):
    f = tmp_path / "raw.toml"
    f.write_text('base = "codex-0.77-responses"\ntitle = "v0.47 compaction"\n\n[knobs]\ncompaction = "after-drain"\n'
                 'compaction_request = "raw"\ncompaction_trim = "drop-oldest-items"\n')
    assert main(["reproduce", "5385", "--design", str(f), "--dir", str(tmp_path)]) == 1
    assert "No tool output found for function call call_1." in capsys.readouterr().out
    for design, why in [("gemini-cli", "never compacts while tools are in flight"),
                        ("cline-pre-7225", "has no compaction that keeps 'cline-range'"),
                        ("goose", "has no compaction that keeps 'drop-oldest-pairs'")]:
        assert main(["reproduce", "5385", "--design", design, "--dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{design}: not reproducible: the reference loop " in err[0] and why in err[0], err
    g = tmp_path / "opencode.toml"
    g.write_text('base = "codex-0.77-responses"\ntitle = "tail cut"\n\n[knobs]\ncompaction = "after-drain"\n'
                 'compaction_keeps = "tail-user"\n')
    assert main(["reproduce", "5385", "--design", str(g), "--dir", str(tmp_path)]) == 2
    assert "not reproducible" in capsys.readouterr().err
