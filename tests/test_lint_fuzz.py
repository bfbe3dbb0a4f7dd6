"""Fuzz: mutated rollouts and request bodies thrown at lint and repair (hundreds in CI, about 20 s;
TURNPROOF_FUZZ=50 for tens of thousands).

Whatever the bytes: no traceback, exit codes 0/1/2 only, lint and repair agree on what is
readable, every repaired file lints clean, every line that is not a tool result survives byte for
byte and in order, repairing again changes nothing, repairing in place gives the same bytes as -o,
and the input file is byte-identical afterwards. TURNPROOF_FUZZ multiplies the number of examples
(tests/fuzz_budget.py); the other formats' fuzz is tests/test_lint_fuzz_dialects.py.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile

from hypothesis import HealthCheck, example, given, settings, strategies as st

from fuzz_budget import examples
from tests.test_lint_helpers import DATA, rollout_text
from turnproof.fileio import TAG

BASES = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(DATA, "rollout-*.jsonl")))]
BASES.append(rollout_text("U R C1 C2 K3 T O2 E O1 U O3 X R C4 O4 O4 O8 T").encode())
TYPES = [b'"function_call"', b'"function_call_output"', b'"custom_tool_call"', b'"message"', b'"reasoning"',
         b'"local_shell_call"', b'"custom_tool_call_output"']
COMPACTED = json.dumps({"timestamp": "t", "type": "compacted", "payload": {"message": "m", "replacement_history": [
    {"type": "message", "role": "user", "content": []},
    {"type": "function_call", "call_id": "call_A1", "name": "x", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_A1", "output": "o"}]}}).encode() + b"\n"


def not_results(data: bytes) -> list[bytes]:
    """Every readable line that is not a tool result, in order: what repair must keep byte for byte."""
    out = []
    for ln in data.split(b"\n"):
        try:
            obj = json.loads(ln)
        except ValueError:
            continue
        p = obj.get("payload") if isinstance(obj, dict) else None
        kind = p.get("type") if isinstance(p, dict) else obj.get("type") if isinstance(obj, dict) else None
        if kind not in ("function_call_output", "custom_tool_call_output"):
            out.append(ln)
    return out


@st.composite
def mutated(draw) -> bytes:
    data = draw(st.sampled_from(BASES))
    for _ in range(draw(st.integers(1, 4))):
        lines = data.split(b"\n")
        op = draw(st.sampled_from(["del", "dup", "swap", "move", "cut", "insert", "flip", "id", "type", "compacted",
                                   "no-newline"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        j = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "del" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(j, lines[i])
        elif op == "swap" and lines:
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "move" and lines:
            lines.insert(j, lines.pop(i))
        elif op == "cut":
            data = data[:draw(st.integers(0, len(data)))]
            continue
        elif op == "insert":
            k = draw(st.integers(0, len(data)))
            data = data[:k] + draw(st.binary(min_size=1, max_size=8)) + data[k:]
            continue
        elif op == "flip" and data:
            k = draw(st.integers(0, len(data) - 1))
            data = data[:k] + bytes([draw(st.integers(0, 255))]) + data[k + 1:]
            continue
        elif op == "id" and lines:
            new = draw(st.sampled_from([b"call_1", b"call_2", b"call_B2", b"call_ghost", b"", b"x\\\"y"]))
            lines[i] = lines[i].replace(b'"call_id":"', b'"call_id":"' + new + b'", "was":"', 1)
        elif op == "type" and lines:
            a, b = draw(st.sampled_from(TYPES)), draw(st.sampled_from(TYPES))
            lines[i] = lines[i].replace(a, b, 1)
        elif op == "compacted":
            lines.insert(i, COMPACTED[:-1])
        elif op == "no-newline":
            data = data.rstrip(b"\n")
            continue
        data = b"\n".join(lines)
    return data


@settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
@example(b"{")  # a torn line alone, or after a blank line: nothing left to write
@example(b"\n{")
def test_mutated_rollouts(cli, data):
    d = tempfile.mkdtemp(prefix="turnproof-fuzz-")
    try:
        src = os.path.join(d, "rollout.jsonl")
        with open(src, "wb") as f:
            f.write(data)
        code, out, err = cli("lint", src)
        assert code in (0, 1, 2) and "Traceback" not in err
        assert (code == 2) == bool(err), err
        rout = os.path.join(d, "out.jsonl")
        rcode, rtext, rerr = cli("repair", src, "-o", rout)
        assert rcode in (0, 1, 2) and "Traceback" not in rerr
        if rcode == 1 and os.path.exists(rout):  # written, but the release still does not send it: it says why
            assert "still not sent" in rtext
            assert cli("lint", rout)[0] == 1
            return
        if rcode == 1:  # refused, nothing written (a call with two different results; no order the release sends)
            assert "has two different results" in rerr or "cannot be rescued" in rtext, \
                (rtext, rerr)
        elif code == 2:
            assert rcode == 2 and len(rerr.splitlines()) == 1
            # the same one-line reason, unless repair, reading in one pass, stopped earlier on its own
            assert rerr.split(": error: ", 1)[1] == err.split(": error: ", 1)[1] or "not repaired" in rerr, rerr
        elif rcode == 2:
            # what lint reads and repair declines: a move inside a compacted line, a file of torn lines
            assert "compacted" in rerr or "only torn lines" in rerr or "lint names every one" in rerr, rerr
        if rcode:
            assert not os.path.exists(rout)
        else:
            lcode, lout, lerr = cli("lint", rout)
            assert lcode == 0, (lout, lerr)
            assert not_results(open(rout, "rb").read()) == not_results(data)  # only results move, go or come
            again = os.path.join(d, "again.jsonl")
            assert cli("repair", rout, "-o", again)[0] == 0
            assert open(again, "rb").read() == open(rout, "rb").read()
            copy = os.path.join(d, "copy.jsonl")
            shutil.copyfile(src, copy)
            assert cli("repair", copy, "--in-place")[0] == 0
            assert open(copy, "rb").read() == open(rout, "rb").read()
        with open(src, "rb") as f:
            assert f.read() == data
        assert not [n for n in os.listdir(d) if TAG in n]  # no temporary file left behind
    finally:
        shutil.rmtree(d)


DOCS = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(DATA, "*.json")))]
KEYS = [b'"role"', b'"tool_calls"', b'"tool_call_id"', b'"content"', b'"type"', b'"id"', b'"tool_use_id"',
        b'"call_id"', b'"parts"', b'"functionCall"', b'"functionResponse"', b'"messages"', b'"input"', b'"contents"']
VALUES = [b'"tool"', b'"assistant"', b'"user"', b'"tool_use"', b'"tool_result"', b'"function_call"',
          b'"function_call_output"', b'null', b'3', b'[]', b'{}', b'"call_H1"', b'"toolu_M1"', b'""']


@st.composite
def mutated_documents(draw) -> bytes:
    data = draw(st.sampled_from(DOCS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["key", "value", "cut", "insert", "flip"]))
        if op == "key":
            a, b = draw(st.sampled_from(KEYS)), draw(st.sampled_from(KEYS))
            data = data.replace(a, b, 1)
        elif op == "value":
            a, b = draw(st.sampled_from(VALUES)), draw(st.sampled_from(VALUES))
            data = data.replace(a, b, 1)
        elif op == "cut":
            data = data[:draw(st.integers(0, len(data)))]
        elif op == "insert":
            k = draw(st.integers(0, len(data)))
            data = data[:k] + draw(st.binary(min_size=1, max_size=6)) + data[k:]
        elif data:
            k = draw(st.integers(0, len(data) - 1))
            data = data[:k] + bytes([draw(st.integers(0, 255))]) + data[k + 1:]
    return data


@settings(max_examples=examples(700), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(b'[{"type": [], "call_id": "c"}]', None)  # an unhashable type once crashed detection
@given(mutated_documents(), st.sampled_from([None, "openai-chat", "openai-responses", "anthropic", "gemini"]))
def test_mutated_request_bodies(cli, data, dialect):
    d = tempfile.mkdtemp(prefix="turnproof-fuzz-")
    try:
        src = os.path.join(d, "body.json")
        with open(src, "wb") as f:
            f.write(data)
        forced = ["--dialect", dialect] if dialect else []
        code, out, err = cli("lint", src, *forced)
        assert code in (0, 1, 2) and "Traceback" not in err
        assert (code == 2) == (len(err.splitlines()) == 1)
        rout = os.path.join(d, "out.json")
        rcode, rtext, rerr = cli("repair", src, "-o", rout, *forced, "--json")
        assert rcode in (0, 1, 2) and "Traceback" not in rerr
        if code == 2:
            assert rcode == 2
        if rcode == 0 or (rcode == 1 and os.path.exists(rout)):
            rep = json.loads(rtext)
            relint = ["--dialect", rep["dialect"]]
            lcode, lout, lerr = cli("lint", rout, *relint)
            # clean, unless repair said what the provider still rejects (rules that are not pairing)
            assert lcode == (1 if rep["still_rejected"] else 0), (lout, lerr, rtext)
            again = os.path.join(d, "again.json")
            assert cli("repair", rout, "-o", again, *relint)[0] == rcode
            assert open(again, "rb").read() == open(rout, "rb").read()  # a fixed point
            if not rep["edits"]:
                assert open(rout, "rb").read() == data  # nothing to repair: the bytes as they were
        else:
            assert not os.path.exists(rout) and len(rerr.splitlines()) == 1
        with open(src, "rb") as f:
            assert f.read() == data
    finally:
        shutil.rmtree(d)
