"""A dead session rescued on the real binary (openai/codex #8479 and the chat residuals).

Each row of issue 18's table: the real codex-cli release makes the session against the scripted
chat provider (turnproof/realcodex), `codex exec resume --last` shows it is dead, `turnproof repair
--in-place` rewrites the rollout for that release (read from its session_meta), lint then says it
can be resumed as it is, and `codex exec resume --last` on the same binary sends a request the
provider accepts, carrying every result the rollout holds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest

from turnproof.cli import main
from turnproof.realcodex import judge
from turnproof.realcodex.provider import Call, Reply, Text
from turnproof.realcodex.runner import Fault, Session


@dataclass(frozen=True)
class Row:
    version: str
    script: tuple
    fault: Fault | None = None
    unfinished: tuple = ()  # commands that must still be running when the fault fires
    layout: str = ""  # what the repaired file must show (see each row)
    ops: tuple = field(default_factory=tuple)  # the repair's edits, in order


def _calls(n: int, slow: bool = False) -> list:
    return [Call(f"call_{i}", **({"seconds": 10} if slow and i == 2 else {})) for i in range(1, n + 1)]


KILL = Fault("SIGKILL", after_output="call_1")
ROWS = {
    "0.77.0-three-parallel-calls": Row("0.77.0", (Reply(_calls(3)),),
                                       ops=("move-result", "move-result", "move-result")),
    "0.77.0-one-call-with-text": Row("0.77.0", (Reply([Text("I will run one command."), *_calls(1)]),),
                                     ops=("move-text",)),
    "0.79.0-three-calls-with-text": Row("0.79.0", (Reply([Text("I will run three commands."), *_calls(3)]),),
                                        ops=("move-text",)),
    "0.79.0-sigkill-mid-drain": Row("0.79.0", (Reply(_calls(3, slow=True)),), KILL, ("call_2",),
                                    ops=("synthesize", "synthesize")),
    "0.79.0-sigkill-mid-drain-with-text": Row("0.79.0", (Reply([Text("I will run three commands."),
                                                                *_calls(3, slow=True)]),), KILL, ("call_2",),
                                              ops=("move-text", "synthesize", "synthesize")),
}
ATTEMPTS = 5


def _dead_session(row: Row, root: str) -> Session:
    for attempt in range(1, ATTEMPTS + 1):
        s = Session(row.version, "chat", os.path.join(root, f"attempt-{attempt}"))
        first = s.exec(list(row.script), fault=row.fault)
        if not set(row.unfinished) & set(first.commands_finished):
            return s
    raise AssertionError(f"in {ATTEMPTS} sessions codex-cli never ran {row.unfinished} after the other commands")


def _history(run) -> list:
    """The resumed request's messages in short form: roles, call ids, tool results."""
    out = []
    for m in run["body"]["messages"][1:]:
        if m["role"] == "assistant" and m.get("tool_calls"):
            out.append("assistant{" + ",".join(tc["id"] for tc in m["tool_calls"]) + "}")
        elif m["role"] == "tool":
            out.append(f"tool({m['tool_call_id']})")
        elif m["role"] == "assistant":
            out.append("assistant(text)")
        else:
            out.append(m["role"])
    return out


@pytest.mark.real_codex
@pytest.mark.slow
@pytest.mark.parametrize("name", list(ROWS))
def test_dead_session_is_rescued_on_the_same_binary(name, codex, capsys, tmp_path):
    row = ROWS[name]
    codex(row.version)
    s = _dead_session(row, str(tmp_path))
    dead = s.resume([])
    assert dead.rejected, f"{name}: the session was not dead: {[r['status'] for r in dead.model_requests]}"
    (path,) = s.rollout_files()
    capsys.readouterr()

    assert main(["lint", path]) == 1
    out = capsys.readouterr().out
    assert f"cannot be resumed as it is; rescue it: turnproof repair {path} --in-place" in out, out

    assert main(["repair", path, "--in-place", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["design"] == ("codex-0.77-chat" if row.version == "0.77.0" else "codex-0.78-chat")
    assert tuple(e["op"] for e in doc["edits"]) == row.ops, doc["edits"]
    assert os.path.exists(doc["backup"])

    assert main(["lint", path]) == 0
    assert "can be resumed as it is" in capsys.readouterr().out
    assert main(["repair", path, "--in-place"]) == 0  # idempotent
    assert "nothing to repair; file left as it was" in capsys.readouterr().out

    rescued = s.resume([])
    assert rescued.model_requests and not rescued.rejected, [r["rejections"] for r in rescued.rejected]
    assert judge.results_kept_broken(rescued) == []
    req = rescued.model_requests[0]
    msgs = _history(req)
    recorded = {cid for cid, text, _ in judge.recorded_outputs(rescued) if judge.is_real(text)}
    assert recorded <= set(judge.request_outputs(req)), (recorded, msgs)
    if row.version == "0.77.0":  # per-call: each assistant{call} right before its tool message
        for i, m in enumerate(msgs):
            if m.startswith("assistant{"):
                assert msgs[i + 1] == f"tool({m[10:-1]})", msgs
        if any(isinstance(x, Text) for x in row.script[0].items):  # held text before the calls, where streamed
            assert msgs[msgs.index("assistant{call_1}") - 1] == "assistant(text)", msgs
    else:  # grouped: one assistant message with every call, then their results
        k = msgs.index("assistant{call_1,call_2,call_3}")
        assert sorted(msgs[k + 1:k + 4]) == ["tool(call_1)", "tool(call_2)", "tool(call_3)"], msgs
        if any(isinstance(x, Text) for x in row.script[0].items):
            assert msgs[k - 1] == "assistant(text)", msgs
