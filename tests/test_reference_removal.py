"""The reference loop's compaction and rollback (issue 13): the `compacted` and `thread_rolled_back`
lines in Codex's JSONL shape, replayed on resume, the crash window before the compacted line, and
lint reading the files."""

from __future__ import annotations

import asyncio
import json

import pytest

from turnproof.cli import main
from turnproof.reference import items as RI
from turnproof.reference.designs import get
from turnproof.reference.loop import Session
from turnproof.reference.rollout import SUMMARY_PREFIX, read
from turnproof.reference.tools import ScriptedModel, Tool

ONE_ROUND = [[("tool_call", "shell", {"command": ["ls"]}), ("tool_call", "shell", {"command": ["pwd"]}),
              ("completed",)], [("completed",)]]


def _session(path: str, responses: list, resume: bool = False) -> Session:
    d = get("codex-0.122-compact")
    srv = ScriptedModel(responses, wire=d.wire)
    return (Session.resume if resume else Session.start)(d, path, server=srv, tools={"shell": Tool("shell")})


def _types(items: list) -> list:
    return [i["type"] for i in items]


def test_compaction_replaces_history_and_resume_replays_the_line(tmp_path, capsys):
    path = str(tmp_path / "r.jsonl")

    async def go():
        s = _session(path, ONE_ROUND)
        s.submit("do it")
        await s.wait_turn()
        assert "function_call_output" in _types(s.history)
        assert s.compact()
        await s.close()
        return s
    s = asyncio.run(go())
    assert [RI.text_of(i) for i in s.history] == ["do it", SUMMARY_PREFIX + "the work so far"]
    assert ("Compact", ("summary", 0, True)) in list(s.log)
    rows = [json.loads(x) for x in open(path)]
    compacted = [r for r in rows if r["type"] == "compacted"]
    assert len(compacted) == 1 and set(compacted[0]["payload"]) == {"message", "replacement_history"}
    assert read(path).items == s.history  # resume starts from the replacement
    assert main(["lint", path]) == 0, capsys.readouterr().out


def test_a_crash_before_the_compacted_line_is_written_resumes_the_whole_history(tmp_path):
    path = str(tmp_path / "r.jsonl")

    async def go():
        s = _session(path, ONE_ROUND)
        s.submit("do it")
        await s.wait_turn()
        await s.recorder.flush()
        assert s.compact()
        s.crash()  # before the writer task ran: memory was replaced, the line never reached the file
        return read(path).items
    items = asyncio.run(go())
    assert _types(items).count("function_call") == 2 and _types(items).count("function_call_output") == 2


def test_rollback_drops_the_last_turns_and_resume_replays_the_marker(tmp_path, capsys):
    path = str(tmp_path / "r.jsonl")

    async def go():
        s = _session(path, ONE_ROUND + [[("completed",)]])
        s.submit("first")
        await s.wait_turn()
        s.submit("second")
        with pytest.raises(RuntimeError, match="Cannot rollback while a turn is in progress"):
            s.rollback(1)
        await s.wait_turn()
        s.rollback(1)
        await s.close()
        return s
    s = asyncio.run(go())
    assert [RI.text_of(i) for i in s.history if i.get("role") == "user"] == ["first"]
    assert _types(s.history).count("function_call") == _types(s.history).count("function_call_output") == 2
    rows = [json.loads(x) for x in open(path)]
    assert {"type": "thread_rolled_back", "num_turns": 1} in [r["payload"] for r in rows if r["type"] == "event_msg"]
    assert read(path).items == s.history
    assert main(["lint", path]) == 0, capsys.readouterr().out


def test_the_summary_request_goes_through_the_designs_normalization(tmp_path):
    path = str(tmp_path / "r.jsonl")

    async def go():
        s = Session.start(get("codex-0.122-compact"), path, server=ScriptedModel([], wire="responses"))
        s.history = [RI.user("x"), RI.output("call_9", "lost")]  # an orphan result, as a v0.47 trim leaves
        ok = s.compact()
        await s.close()
        return ok, s
    ok, s = asyncio.run(go())
    # Codex's normalization drops the orphan: the request is accepted
    assert ok and s.requests[-1][2] is None


# ---- the reference and the model agree on what a compaction and a rollback leave -----------------
def _abstract(items: list) -> tuple:
    from conformance_util import abstract

    from turnproof.model import items as I
    return tuple(I.user(I.SUMMARY) if RI.text_of(p).startswith(SUMMARY_PREFIX) and p.get("role") == "user"
                 else abstract(p) for p in items)


def test_the_reference_and_the_model_leave_the_same_history(tmp_path):
    from turnproof.model.removal import cuts
    from turnproof.model.turnloop import drop_last_user_turns as model_drop

    async def go():
        s = _session(str(tmp_path / "r.jsonl"), ONE_ROUND + [[("completed",)]])
        s.submit("first")
        await s.wait_turn()
        s.submit("second")
        await s.wait_turn()
        before = _abstract(s.history)
        s.rollback(1)
        rolled = _abstract(s.history)
        s.compact()
        compacted = _abstract(s.history)
        await s.close()
        return before, rolled, compacted
    before, rolled, compacted = asyncio.run(go())
    assert rolled == model_drop(before, 1)
    assert compacted == cuts(rolled, "summary")[0][1]


def test_sigkill_between_the_memory_replace_and_the_compacted_line(tmp_path):
    """A real process (codex-0.78-compact): the compaction before the follow-up has replaced memory and
    queued its `compacted` line when SIGKILL lands after the result's line reached the file; a fresh
    process resumes the whole history, the call with its result."""
    from turnproof.reference.proc import run_process

    path = str(tmp_path / "r.jsonl")
    first = run_process(["run", "--design", "codex-0.78-compact", "--file", path, "--calls", "1", "--compact-at", "2"],
                        fork=True, kill_after_model_line=3)  # the user message, the call, its result
    assert first.killed
    steps = [a for a, _ in first.events]
    # memory was replaced (the writer task had not run yet: the process stops at the third line)
    assert "Compact" in steps[steps.index("DrainOutput"):], steps
    assert [k for k, _ in read_lines(path)] == ["response_item"] * 3
    assert _types(read(path).items) == ["message", "function_call", "function_call_output"]
    second = run_process(["resume", "--design", "codex-0.78-compact", "--file", path, "--message", "continue"],
                         fork=True)
    sent = second.result["requests"][0]["body"]["input"]
    assert [i["type"] for i in sent] == ["message", "function_call", "function_call_output", "message"]
    assert second.result["requests"][0]["rejected"] is None


def read_lines(path: str) -> list:
    from turnproof.reference.rollout import model_lines
    return model_lines(path)
