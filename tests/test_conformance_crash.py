"""Real crashes: the reference loop runs in its own process, is killed with SIGKILL once its
writer has put k lines on disk, and a new process resumes from the file and sends the next
request. The killed process's logged steps, then Crash(k') (k' = the rollout lines of its queue
that reached the disk, counted from the file), then the new process's steps must be a path of the
model; the file must be the model's file; and the resumed request must get the model's verdict.
"""

from __future__ import annotations

import pytest

from conformance_util import Replayer, file_items, make_model
from turnproof.model import items as I
from turnproof.model.turnloop import State
from turnproof.reference.proc import run_process

SCENARIOS = {  # name -> (extra args for `python -m reference run`, model faults)
    "three-shell-calls": ([], {"crash"}),
    "calls-and-text": (["--text", "--reasoning"], {"crash"}),
    "tool-fails": (["--fail-call", "2", "--parallel"], {"crash", "tool-failure"}),
    "closed-then-retry": (["--close-early", "--parallel"], {"crash", "stream-closed"}),
}


def crash_and_resume(design: str, scenario: str, k: int, tmp_path, fork: bool = True, tear: bool = False) -> dict:
    extra, faults = SCENARIOS[scenario]
    path = str(tmp_path / f"{design}-{scenario}-{k}.jsonl")
    model = make_model(design, calls=3, faults=faults)
    rep = Replayer(model)
    first = run_process(["run", "--design", design, "--file", path, *extra], fork=fork,
                        kill_after_line=None if tear else k, tear_line=k if tear else None)
    for ev in first.events:
        rep.step(*ev)
    # a process that ends by itself is, to the model, a crash with the writer caught up
    assert first.returncode == (-9 if first.killed else 0)
    on_disk = file_items(path)
    assert on_disk[: len(State(*rep.s).file)] == State(*rep.s).file
    rep.step("Crash", len(on_disk) - len(State(*rep.s).file))
    assert on_disk == State(*rep.s).file, (I.show_all(on_disk), I.show_all(State(*rep.s).file))
    second = run_process(["resume", "--design", design, "--file", path], fork=fork)
    verdicts = []
    for ev in second.events:
        prev = rep.s
        rep.step(*ev)
        if ev[0] == "SendRequest":
            r = model.request(prev)
            verdicts.append(r.rejections[0].text if r.rejections else None)
    assert second.returncode == 0 and second.result is not None
    # a line torn by the kill is skipped on load, and reported
    assert [why for _, why in second.result["skipped"]] == (["torn last line"] if first.torn else [])
    got = [r["message"] for r in second.result["rejections"]]
    assert got == [v for v in verdicts if v is not None]
    assert file_items(path) == State(*rep.s).file + State(*rep.s).queue  # the resumed process closed cleanly
    return {"killed": first.killed, "verdicts": verdicts, "steps": rep.path}


@pytest.mark.parametrize("design,scenario", [
    ("codex-0.77-chat", "three-shell-calls"), ("codex-0.78-chat", "three-shell-calls"),
    ("codex-0.78-chat", "calls-and-text"), ("codex-0.78-chat", "tool-fails"),
    ("codex-0.77-responses", "closed-then-retry"), ("turnproof-proposed", "tool-fails"),
    ("turnproof-proposed", "calls-and-text"), ("seed-fix-3", "three-shell-calls"),
])
def test_sigkill_at_every_line_then_resume_matches_the_model(design, scenario, tmp_path):
    outcomes = set()
    for k in range(1, 14):
        r = crash_and_resume(design, scenario, k, tmp_path)
        outcomes.add((r["killed"], tuple(v is None for v in r["verdicts"])))
        if not r["killed"]:
            break
    assert any(killed for killed, _ in outcomes)


def test_sigkill_of_a_fresh_interpreter(tmp_path):
    """The same, with real `python -m reference` processes instead of forks."""
    r = crash_and_resume("codex-0.77-chat", "three-shell-calls", 6, tmp_path, fork=False)
    assert r["killed"]
    r = crash_and_resume("turnproof-proposed", "three-shell-calls", 6, tmp_path, fork=False)
    assert r["killed"] and all(v is None for v in r["verdicts"])


@pytest.mark.parametrize("design", ["codex-0.78-chat", "turnproof-proposed"])
def test_sigkill_halfway_through_a_line(design, tmp_path):
    torn = 0
    for k in range(2, 14):
        r = crash_and_resume(design, "three-shell-calls", k, tmp_path, tear=True)
        torn += r["killed"]
        if not r["killed"]:
            break
    assert torn >= 8
