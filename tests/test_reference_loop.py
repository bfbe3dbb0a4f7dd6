"""The reference loop running free (real asyncio scheduling and timers): rollout format, torn
lines, fsync per design, FuturesOrdered drain order, the 100 ms grace and the hard abort."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from turnproof.reference import items as RI
from turnproof.reference.designs import get
from turnproof.reference.loop import Session
from turnproof.reference.rollout import read
from turnproof.reference.tools import ScriptedModel, Tool


def run(design: str, path: str, responses: list, *, interrupt_after: str = "", turns: int = 1,
        parallel: bool = True, resume: bool = False):
    async def go():
        d = get(design)
        srv = ScriptedModel(responses, wire=d.wire)
        tools = {"shell": Tool("shell", parallel_safe=parallel)}
        s = (Session.resume if resume else Session.start)(d, path, server=srv, tools=tools)
        if interrupt_after:
            def listener(a, b):
                if a == interrupt_after:
                    asyncio.get_running_loop().call_soon(s.interrupt)
            s.log.listener = listener
        for _ in range(turns):
            s.submit("do it")
            await s.wait_turn()
        await s.close()
        return s
    return asyncio.run(go())


def calls(*cmds):
    return [("tool_call", "shell", {"command": list(c)}) for c in cmds]


def test_rollout_lines_have_codex_shape(tmp_path):
    path = str(tmp_path / "r.jsonl")
    run("codex-0.78-chat", path, [[("reasoning", "hm")] + calls(["ls"], ["pwd"]) + [("completed",)]])
    rows = [json.loads(x) for x in open(path)]
    assert all(set(r) == {"timestamp", "type", "payload"} and r["timestamp"].endswith("Z") for r in rows)
    assert [r["type"] for r in rows][:3] == ["session_meta", "response_item", "turn_context"]
    items = [r["payload"] for r in rows if r["type"] == "response_item"]
    assert [i["type"] for i in items] == ["message", "reasoning", "function_call", "function_call",
                                          "function_call_output", "function_call_output"]
    assert items[2] == {"type": "function_call", "name": "shell", "arguments": '{"command": ["ls"]}',
                        "call_id": "call_1"}
    assert items[4]["call_id"] == "call_1" and items[4]["output"].startswith("Exit code: 0")


def test_outputs_land_in_call_order_whatever_order_tools_finish(tmp_path):
    path = str(tmp_path / "r.jsonl")
    s = run("codex-0.78-chat", path, [calls(["sleep", "0.05"], ["ls"]) + [("completed",)]])
    finished = [b for a, b in s.log if a == "ToolFinish"]
    drained = [b for a, b in s.log if a == "DrainOutput"]
    assert finished == [2, 1] and drained == [1, 2]
    outs = [i["call_id"] for i in read(path).items if RI.is_output(i)]
    assert outs == ["call_1", "call_2"]


def test_interrupt_tools_that_notice_answer_aborted_by_user(tmp_path):
    path = str(tmp_path / "r.jsonl")
    s = run("codex-0.78-chat", path, [calls(["sleep", "5"], ["sleep", "5"]) + [("completed",)]],
            interrupt_after="StreamCompleted")
    acts = [a for a, _ in s.log]
    assert acts.count("ToolAbort") == 2 and "HardAbort" not in acts and acts[-1] == "TurnAborted"
    outs = [RI.text_of(i) for i in read(path).items if RI.is_output(i)]
    assert len(outs) == 2 and all(o.endswith("aborted by user") for o in outs)
    assert read(path).lines[-1] == ("event_msg", {"type": "turn_aborted", "reason": "interrupted"})


def test_hard_abort_after_the_grace(tmp_path):
    path = str(tmp_path / "r.jsonl")
    t0 = time.perf_counter()
    s = run("codex-0.78-chat", path, [calls(["ls"], ["uninterruptible", "2"], ["ls"]) + [("completed",)]],
            interrupt_after="DrainOutput")
    took = time.perf_counter() - t0
    acts = [a for a, _ in s.log]
    assert acts[-3:] == ["Interrupt", "HardAbort", "TurnAborted"]
    assert 0.1 <= took < 1.5  # the 100 ms grace, not the tool's 2 s
    assert [i["call_id"] for i in read(path).items if RI.is_output(i)] == ["call_1"]


def test_hard_abort_with_synthetic_results_under_turnproof_proposed(tmp_path):
    path = str(tmp_path / "r.jsonl")
    run("turnproof-proposed", path, [calls(["ls"], ["uninterruptible", "2"], ["ls"]) + [("completed",)]],
        interrupt_after="DrainOutput")
    outs = [(i["call_id"], RI.text_of(i)) for i in read(path).items if RI.is_output(i)]
    assert [c for c, _ in outs] == ["call_1", "call_2", "call_3"] and outs[1][1] == RI.SYNTHETIC


def test_stream_error_drops_in_flight_tools(tmp_path):
    path = str(tmp_path / "r.jsonl")
    s = run("codex-0.77-responses", path,
            [calls(["sleep", "0.05"]) + [("error", "disconnected")], [("completed",)]])
    acts = [a for a, _ in s.log]
    assert "StreamError" in acts and "ToolFinish" not in acts and "DrainOutput" not in acts
    assert acts[-2:] == ["SendRequest", "StreamCompleted"]  # the retry


def test_torn_last_line_is_skipped_reported_and_closed(tmp_path):
    path = str(tmp_path / "r.jsonl")
    run("codex-0.78-chat", path, [calls(["ls"]) + [("completed",)]])
    with open(path, "a") as f:
        f.write('{"timestamp":"2026-01-01T00:00:00.000Z","type":"response_item","payload":{"type":"mes')
    loaded = read(path)
    assert loaded.skipped == [(len(open(path).read().splitlines()), "torn last line")]
    s = run("codex-0.78-chat", path, [], resume=True)
    assert [a for a, _ in s.log][:1] == ["Resume"] and s.skipped
    again = read(path)  # the torn fragment stays one bad line; the new lines are intact
    assert [why for _, why in again.skipped] == ["not valid JSON"]
    assert RI.text_of(again.items[-1]) == "do it"


@pytest.mark.parametrize("design,expect", [("codex-0.77-chat", False), ("turnproof-proposed", True)])
def test_fsync_per_design(design, expect, tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    run(design, str(tmp_path / "r.jsonl"), [[("completed",)]])
    assert bool(synced) is expect


def test_reference_imports_neither_model_nor_turnproof():
    import ast
    import pathlib
    for f in pathlib.Path(__file__).parent.parent.joinpath("reference").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for n in names:
                assert n.split(".")[0] not in ("model", "turnproof", "proofs"), (f.name, n)


def test_compacted_line_replaces_history_on_resume(tmp_path):
    path = str(tmp_path / "r.jsonl")
    run("codex-0.77-chat", path, [calls(["ls"], ["pwd"]) + [("completed",)]])  # rejected: 8479
    with open(path, "a") as f:
        f.write(json.dumps({"timestamp": "2026-01-01T00:00:00.000Z", "type": "compacted", "payload": {
            "message": "summary", "replacement_history": [RI.user("do it"), RI.assistant("summary of the work")]}}) + "\n")
    s = run("codex-0.77-chat", path, [], resume=True)
    assert [a for a, b in s.log] == ["Resume", "UserMessage", "SendRequest", "StreamCompleted"]
    assert [i["type"] for i in s.history] == ["message", "message", "message"]
    with open(path, "a") as f:
        f.write(json.dumps({"timestamp": "2026-01-01T00:00:00.000Z", "type": "compacted",
                            "payload": {"message": "short"}}) + "\n")
    assert [RI.text_of(i) for i in read(path).items] == ["do it", "do it", "short"]


def test_chat_stream_is_read_the_way_chat_rs_reads_it():
    from turnproof.reference.sse import ChatReader, render
    script = [("reasoning", "plan"), ("tool_call", "call_1", "shell", {"command": ["ls"]}), ("text", "Done."),
              ("tool_call", "call_2", "shell", {"command": ["pwd"]}), ("completed",)]
    reader = ChatReader()
    out = [ev for chunk in render(script) for ev in reader.feed(chunk)]
    # reasoning and the calls at finish_reason, the aggregated text only at the end
    assert [e[0] for e in out] == ["reasoning", "tool_call", "tool_call", "text", "completed"]
    assert out[1] == ("tool_call", "call_1", "shell", {"command": ["ls"]}) and out[3] == ("text", "Done.")
    reader = ChatReader()
    out = [ev for chunk in render(script, with_ids=False) for ev in reader.feed(chunk)]
    assert [e[1] for e in out if e[0] == "tool_call"] == ["tool-call-0", "tool-call-1"]
    reader = ChatReader()  # closed before finish_reason: nothing was emitted, the calls are lost
    assert [ev for chunk in render(script[:3] + [("closed",)]) for ev in reader.feed(chunk)] == []
    reader = ChatReader()  # closed after it: the calls were delivered, the text was not
    out = [ev for chunk in render(script[:4] + [("finish",), ("closed",)]) for ev in reader.feed(chunk)]
    assert [e[0] for e in out] == ["reasoning", "tool_call", "tool_call"]


def test_chat_calls_start_when_the_stream_finishes(tmp_path):
    s = run("codex-0.78-chat", str(tmp_path / "r.jsonl"), [calls(["ls"], ["pwd"]) + [("completed",)]])
    acts = [a for a, _ in s.log]
    assert acts[:4] == ["UserMessage", "SendRequest", "StreamToolCall", "StreamToolCall"]



def test_chat_reader_completes_what_it_holds_on_a_close():
    # chat.rs on a close without [DONE]: flush_and_complete (rust-v0.78.0 sse/chat.rs:112-117)
    from turnproof.reference.sse import ChatReader, render
    script = [("reasoning", "plan"), ("tool_call", "call_1", "shell", {"command": ["ls"]}), ("text", "Done."),
              ("finish",), ("closed",)]
    reader = ChatReader()
    out = [ev for chunk in render(script) for ev in reader.feed(chunk)] + reader.close()
    assert [e[0] for e in out] == ["reasoning", "tool_call", "text", "closed"]
    assert reader.close() == [("closed",)]  # nothing held any more
