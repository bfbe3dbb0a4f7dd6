"""Files lint and repair cannot read: one line naming file and line (or pointer), exit 2, no traceback,
nothing written."""

from __future__ import annotations

import json
import os

import pytest

from tests.test_lint_helpers import rollout_text, run

GOOD = rollout_text("U C1 O1")
DEEP = '{"timestamp":"t","type":"response_item","payload":' + "[" * 200_000 + "]" * 200_000 + "}\n"

# name -> (bytes, the line/pointer and words the message must hold)
ROLLOUTS = {
    "empty": (b"", "empty file"),
    "blank-lines": (b"\n \n\n", "only blank lines"),
    "binary": (bytes(range(256)) * 4, ":1: binary data"),
    "binary-high": (bytes(range(128, 256)) * 4, ":1: not valid UTF-8"),
    "bad-utf8-line": (GOOD.encode() + b'{"x": "\xc3\x28"}\n', ":5: not valid UTF-8"),
    "not-json-line": ((GOOD + "hello world\n" + GOOD).encode(), ":5: not valid JSON"),
    "list-line": ((GOOD + "[1, 2]\n").encode(), ":5: a rollout line must be a JSON object, not a list"),
    "payload-string": ((GOOD + '{"timestamp":"t","type":"response_item","payload":"x"}\n').encode(),
                       ':5: "payload" of a response_item line must be an object, not a string'),
    "no-type": ((GOOD + '{"timestamp":"t","payload":{}}\n').encode(), ':5: rollout line without a "type" string'),
    "call-id-number": ((GOOD + '{"timestamp":"t","type":"response_item","payload":{"type":"function_call","call_id":7}}\n').encode(),
                       ":5: function_call with call_id a number, not a string"),
    "missing-call-id": ((GOOD + '{"timestamp":"t","type":"response_item","payload":{"type":"function_call_output","output":"x"}}\n').encode(),
                        ":5: function_call_output with call_id missing"),
    "message-no-role": ((GOOD + '{"timestamp":"t","type":"response_item","payload":{"type":"message"}}\n').encode(),
                        ':5: message without a "role" string'),
    "duplicate-open-id": (rollout_text("U C1 C1 O1").encode(), ":4: call id call_1 is used again while the call on line 3"),
    "replacement-not-list": ((GOOD + '{"timestamp":"t","type":"compacted","payload":{"message":"m","replacement_history":5}}\n').encode(),
                             ':5: "replacement_history" must be a list, not a number'),
    "deep-nesting": ((GOOD + DEEP).encode(), ":5: JSON nested too deeply"),
    "huge-line": ((GOOD + '{"timestamp":"t","type":"event_msg","payload":{"x":"' + "a" * 3000 + '"}}\n').encode(),
                  ":5: line longer than 2048 bytes"),
}
DOCUMENTS = {
    "empty.json": (b"  \n", "empty file"),
    "bad.json": (b'{\n  "messages": [\n    {"role": "user",, }\n  ]\n}\n', "bad.json:3: not valid JSON"),
    "deep.json": (b"[" * 200_000 + b"]" * 200_000, "JSON nested too deeply"),
    "messages-not-list.json": (b'{"messages": {"role": "user"}}', 'messages-not-list.json: /messages: expected a list, not an object'),
    "message-not-object.json": (b'{"messages": [{"role": "user", "content": "x"}, 3]}', "/messages/1: expected an object, not a number"),
    "tool-call-no-id.json": (json.dumps({"messages": [{"role": "assistant", "tool_calls": [{"type": "function"}]}]}).encode(),
                             "/messages/0/tool_calls/0: id missing"),
    "dup-tool-use.json": (json.dumps({"messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "x", "input": {}}, {"type": "tool_use", "id": "t1", "name": "x", "input": {}}]}]}).encode(),
        "/messages/0/content/1: call id t1 is used again while the call at /messages/0/content/0 has no result"),
    "unknown.json": (b'{"hello": 1}', "not a session format I know"),
}


def _check(capsys, tmp_path, name: str, data: bytes, expect: str, command: str):
    p = tmp_path / name
    p.write_bytes(data)
    before = sorted(os.listdir(tmp_path))
    argv = [command, str(p), "--max-line-mb", str(2048 / (1 << 20))] if name == "huge-line.jsonl" else [command, str(p)]
    if command == "repair":
        argv += ["-o", str(tmp_path / "out.jsonl")]
    code, out, err = run(capsys, *argv)
    assert code == 2, (name, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(p) in err and expect in err, err
    assert p.read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, no temporary file left


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
@pytest.mark.parametrize("command", ["lint", "repair"])
def test_bad_rollouts(capsys, tmp_path, name, command):
    data, expect = ROLLOUTS[name]
    _check(capsys, tmp_path, name + ".jsonl", data, expect, command)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_bad_documents(capsys, tmp_path, name):
    data, expect = DOCUMENTS[name]
    _check(capsys, tmp_path, name, data, expect, "lint")


def test_repair_refuses_missing_files_and_bad_outputs(capsys, tmp_path):
    p = tmp_path / "body.json"
    p.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}))
    code, out, err = run(capsys, "repair", p, "-o", tmp_path / "out.json")  # nothing to repair: copied as is
    assert code == 0 and (tmp_path / "out.json").read_bytes() == p.read_bytes()
    os.unlink(tmp_path / "out.json")
    code, out, err = run(capsys, "repair", tmp_path / "nope.jsonl", "--in-place")
    assert code == 2 and "no such file" in err
    good = tmp_path / "r.jsonl"
    good.write_text(GOOD)
    code, out, err = run(capsys, "repair", good, "-o", good)
    assert code == 2 and "--in-place" in err
    (tmp_path / "adir").mkdir()
    for target, why in ((tmp_path / "adir", "not a regular file (a directory)"),
                        (tmp_path / "nodir" / "o.jsonl", "cannot write")):
        code, out, err = run(capsys, "repair", good, "-o", target)
        assert code == 2 and f"{target}: {why}" in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["adir", "body.json", "r.jsonl"]
    code, out, err = run(capsys, "lint", tmp_path / "missing.jsonl")
    assert code == 2 and "cannot read" in err and len(err.splitlines()) == 1


def test_unknown_design_is_a_usage_error(capsys, tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(GOOD)
    code, out, err = run(capsys, "lint", p, "--design", "codex-9")
    assert code == 2 and "unknown design 'codex-9'" in err
