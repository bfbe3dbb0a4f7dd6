"""lint and repair on the history after a thread rollback, as Codex resume rebuilds it (issue 13).

A ``thread_rolled_back`` event drops the last n user turns (rust-v0.79.0
codex-rs/core/src/codex.rs:1238-1274 and context_manager/history.rs:167-189; rust-v0.122.0
codex-rs/core/src/session/rollout_reconstruction.rs:236-284 and context_manager/history.rs:240-263):
their items stay in the file, but resume no longer has them, so pairing is judged, and repaired, on
what is left. n at or past the number of user turns cuts at the first user message (injected
context such as the AGENTS.md message is no user turn). The files are a real Codex CLI 0.125.0
rollout (tests/data/real/SOURCES.md) cut where a crash would cut it, with the lines Codex writes for
a rollback (EventMsg::ThreadRolledBack, {"num_turns": n}), a compaction (RolloutItem::Compacted
with replacement_history) and new turns, in its own shapes. Exit contract of repair: 0 clean (nothing
to do, or repaired and clean), 1 refused or still rejected, 2 unreadable.
"""

from __future__ import annotations

import json
import os

from tests.test_lint_helpers import lint_json, run
from turnproof.lint.rollout import RolloutReader

REAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "real",
                    "codex-0.125-responses-custom-tools.jsonl")
OPEN_CALL = "call_4pWfq1oNudq0ywkjgjSTjJ3t"  # line 121, its result on line 123
FIRST_TURN_CALL = "call_Y2p6KmqwoTtpi6atpDPuxC5M"  # line 9, its result on line 11


def real_lines(upto: int) -> list[bytes]:
    with open(REAL, "rb") as f:
        return f.readlines()[:upto]


def line(kind: str, payload: dict, ts: str = "2026-05-11T09:00:00.000Z") -> bytes:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}, separators=(",", ":")).encode() + b"\n"


def rollback(n: object) -> bytes:
    return line("event_msg", {"type": "thread_rolled_back", "num_turns": n})


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def new_turn(call_id: str, answered: bool = True) -> list[bytes]:
    out = [line("response_item", user("try again")),
           line("response_item", {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": call_id})]
    if answered:
        out.append(line("response_item", {"type": "function_call_output", "call_id": call_id, "output": "ok"}))
    return out


def write(tmp_path, parts: list[bytes], name: str = "rollout.jsonl") -> str:
    p = tmp_path / name
    p.write_bytes(b"".join(parts))
    return str(p)


def flagged(capsys, path: str) -> set:
    code, doc = lint_json(capsys, path)
    ids = {f["call_id"] for f in doc["files"][0]["findings"]}
    assert (code == 0) == (not ids), (code, ids)
    return ids


def test_a_rolled_back_turn_with_an_open_call_is_no_longer_history(capsys, tmp_path):
    crashed = real_lines(121)  # the process died while call_4pWf... ran: its result never reached the file
    assert flagged(capsys, write(tmp_path, crashed, "crashed.jsonl")) == {OPEN_CALL}
    path = write(tmp_path, crashed + [rollback(1)] + new_turn("call_new1"))
    assert flagged(capsys, path) == set()
    before = open(path, "rb").read()
    code, out, err = run(capsys, "repair", path, "--in-place")
    assert code == 0 and err == "", (out, err)
    assert open(path, "rb").read() == before and not os.path.exists(path + ".bak")  # nothing to do


def test_repair_answers_only_the_calls_the_history_after_the_rollback_has(capsys, tmp_path):
    path = write(tmp_path, real_lines(121) + [rollback(1)] + new_turn("call_new1", answered=False))
    assert flagged(capsys, path) == {"call_new1"}
    out = str(tmp_path / "out.jsonl")
    code, text, err = run(capsys, "repair", path, "-o", out)
    assert code == 0 and err == "", (text, err)
    assert "added synthetic result for call_new1" in text and OPEN_CALL not in text
    got, src = open(out, "rb").readlines(), open(path, "rb").readlines()
    assert got[:len(src)] == src and len(got) == len(src) + 1  # every line kept byte for byte, the rolled-back too
    synthetic = json.loads(got[-1])["payload"]
    assert synthetic["call_id"] == "call_new1" and synthetic["turnproof_synthetic"] is True
    assert flagged(capsys, out) == set()
    again = str(tmp_path / "again.jsonl")
    assert run(capsys, "repair", out, "-o", again)[0] == 0 and open(again, "rb").read() == open(out, "rb").read()


def test_a_rollback_of_all_turns_or_more_cuts_at_the_first_user_message(capsys, tmp_path):
    # turn 1 crashed with its call open (no result on line 11), was resumed, and turn 2 ran whole
    lines = real_lines(10) + real_lines(123)[21:]  # turn 1 up to its call; turn 2 from its user message
    assert flagged(capsys, write(tmp_path, lines, "open.jsonl")) == {FIRST_TURN_CALL}
    assert flagged(capsys, write(tmp_path, lines + [rollback(1)], "one.jsonl")) == {FIRST_TURN_CALL}
    for n in (2, 3, 1000):  # at or past the two user turns: the cut is "show tools" (line 6)
        path = write(tmp_path, lines + [rollback(n)], f"r{n}.jsonl")
        assert flagged(capsys, path) == set(), n
        items = [it for ch in RolloutReader(path).chunks() for it in ch.items]
        assert [it[2] for it in items] == [3, 4]  # the developer and AGENTS.md messages before it stay
    for bad in (0, -1, "1", None):  # no rollback (Codex: 0 is a no-op; the others do not parse)
        assert flagged(capsys, write(tmp_path, lines + [rollback(bad)], "bad.jsonl")) == {FIRST_TURN_CALL}


def test_rollbacks_count_turns_on_the_history_left_by_the_previous_one(capsys, tmp_path):
    lines = real_lines(10) + real_lines(123)[21:] + [rollback(1)] + new_turn("call_new1")
    # turns now: "show tools" (open call), "try again"; one more rollback of 1 leaves the open call
    assert flagged(capsys, write(tmp_path, lines + [rollback(1)], "a.jsonl")) == {FIRST_TURN_CALL}
    assert flagged(capsys, write(tmp_path, lines + [rollback(2)], "b.jsonl")) == set()


def test_a_call_id_used_again_after_its_call_was_rolled_back_is_not_ambiguous(capsys, tmp_path):
    # a provider that restarts ids (chat.rs's tool-call-{index}): the rolled-back call's id comes back
    lines = real_lines(22) + new_turn("tool-call-0", answered=False)[1:] + [rollback(1)] + new_turn("tool-call-0")
    assert flagged(capsys, write(tmp_path, lines)) == set()
    code, _, err = run(capsys, "lint", write(tmp_path, lines[:-4] + new_turn("tool-call-0"), "no-rollback.jsonl"))
    assert code == 2 and "is used again while the call on line" in err


def test_compacted_replacement_history_then_a_rollback(capsys, tmp_path):
    """The replacement_history is the history from the compacted line on; a rollback after it counts the
    user turns in it (the summary is a user message, so a turn boundary too)."""
    head = real_lines(21)  # turn 1, whole
    summary = user("Another language model started to solve this problem and produced a summary: ...")
    compacted = line("compacted", {"message": "summary", "replacement_history": [user("show tools"), summary]})
    turn2 = real_lines(121)[21:]  # turn 2, its last call open
    path = write(tmp_path, head + [compacted] + turn2, "open.jsonl")
    assert flagged(capsys, path) == {OPEN_CALL}
    path = write(tmp_path, head + [compacted] + turn2 + [rollback(1)])
    assert flagged(capsys, path) == set()
    items = [it[2] for ch in RolloutReader(path).chunks() for it in ch.items]
    assert (22, 0) in items and (22, 1) in items and 23 not in items  # the replacement stays, turn 2 goes
    path = write(tmp_path, head + [compacted] + turn2 + [rollback(2)], "two.jsonl")
    items = [it[2] for ch in RolloutReader(path).chunks() for it in ch.items]
    assert (22, 0) in items and (22, 1) not in items  # the summary was the second turn from the end
    path = write(tmp_path, head + [compacted] + turn2 + [rollback(3)], "three.jsonl")
    items = [it[2] for ch in RolloutReader(path).chunks() for it in ch.items]
    assert (22, 1) not in items and (22, 0) not in items and 3 in items  # cut at "show tools" of the replacement
    # lint before the compacted line is judged on its own (resume replaces it): turn 1 is whole
    assert flagged(capsys, path) == set()


def test_repair_exit_codes_with_a_rollback(capsys, tmp_path):
    # two different results for one call, both in the history after the rollback: refused (1), nothing written
    lines = real_lines(22) + new_turn("call_x", answered=False) + [
        line("response_item", {"type": "function_call_output", "call_id": "call_x", "output": "one"}),
        line("response_item", {"type": "function_call_output", "call_id": "call_x", "output": "two"}),
        rollback(0)]
    path = write(tmp_path, lines)
    code, out, err = run(capsys, "repair", path, "-o", str(tmp_path / "o.jsonl"))
    assert code == 1 and "two different results" in (out + err) and not (tmp_path / "o.jsonl").exists()
    # with that turn rolled back, nothing is left to repair
    path = write(tmp_path, lines + [rollback(1)], "rolled.jsonl")
    assert run(capsys, "repair", path, "-o", str(tmp_path / "o.jsonl"))[0] == 0
    # unreadable: 2
    path = write(tmp_path, real_lines(30) + [b"{not json\n", rollback(1)], "bad.jsonl")
    code, _, err = run(capsys, "repair", path, "-o", str(tmp_path / "o2.jsonl"))
    assert code == 2 and "bad.jsonl:31" in err


def test_lint_reads_a_reference_rollout_with_a_rollback_as_its_resume_does(capsys, tmp_path):
    """The reference loop's file (codex-0.122-rollback: a turn whose calls ran, a turn cut by a crash
    with its call open, resumed, then rolled back): lint's history after the rollback is the one the
    reference resumes to."""
    import asyncio

    from turnproof.reference.designs import get
    from turnproof.reference.rollout import read
    from turnproof.reference.sim import Sim

    path = str(tmp_path / "ref.jsonl")

    async def go():
        sim = Sim(get("codex-0.122-rollback"), path)
        await sim.start()
        for a, b in [("UserMessage", None), ("SendRequest", None), ("StreamToolCall", 1), ("StreamCompleted", None),
                     ("ToolFinish", 1), ("DrainOutput", 1), ("SendRequest", None), ("StreamCompleted", None),
                     ("UserMessage", None), ("SendRequest", None), ("StreamToolCall", 1)]:
            await sim.do(a, b)
        while sim.can_write():
            await sim.write()
        await sim.do("Crash", sim.session.recorder.written)
        await sim.do("Resume")
        await sim.do("Rollback", 1)
        await sim.finish()
        return sim
    asyncio.run(go())
    assert flagged(capsys, path) == set()
    live = [(it[0], it[1]) for ch in RolloutReader(path).chunks() for it in ch.items]
    want = [("call" if p["type"] == "function_call" else "output" if p["type"] == "function_call_output"
             else "user" if p.get("role") == "user" else "text", p.get("call_id")) for p in read(path).items]
    assert live == want and ("call", "call_2") not in live


def test_rescue_of_a_real_079_file_leaves_a_rolled_back_turn_alone(capsys, tmp_path):
    """codex-cli 0.79.0's own rollout (tests/data/real: text recorded after two calls, rejected by its chat
    builder), then a turn with the same fault, rolled back: the rescue moves only the live text."""
    src = os.path.join(os.path.dirname(REAL), "codex-0.79.0-chat-text-with-calls-real-binary.jsonl")
    with open(src, "rb") as f:
        real = f.readlines()
    turn = [line("response_item", user("second")),
            line("response_item", {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "call_9"}),
            line("response_item", {"type": "message", "role": "assistant",
                                   "content": [{"type": "output_text", "text": "I ran it."}]}),
            line("response_item", {"type": "function_call_output", "call_id": "call_9", "output": "ok"})]
    both = write(tmp_path, real + turn, "both.jsonl")
    code, text, _ = run(capsys, "repair", both, "-o", str(tmp_path / "both-out.jsonl"))
    assert code == 0 and text.count("moved assistant text") == 2
    path = write(tmp_path, real + turn + [rollback(1)])
    code, text, _ = run(capsys, "repair", path, "--in-place")
    assert code == 0 and text.count("moved assistant text") == 1 and "line 10" in text, text
    assert os.path.exists(path + ".bak")
    got = open(path, "rb").readlines()
    assert got[-5:] == turn + [rollback(1)]  # the rolled-back turn, byte for byte, in place
    code, doc = lint_json(capsys, path, "--design", "codex-0.78-chat")
    assert code == 0 and doc["files"][0]["resume"]["resumable"], doc["files"][0]
