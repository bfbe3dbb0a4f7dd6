"""Fuzz every format lint reads besides Codex rollouts and chat bodies (tests/test_lint_fuzz.py has
those): Claude Code JSONL, the Gemini CLI session, Bedrock Converse, Anthropic server / MCP tool
blocks, Gemini generateContent, every Responses pair type, and stateful Responses bodies.

Seeds are the real files of tests/data/real (and one Responses body with every pair type the API
documents). Mutations know the JSON: drop, repeat or swap list elements (messages, blocks, parts,
lines), point an id at another call, turn one block type into a related one, drop or rename a key,
replace a value by one of another type; then, sometimes, bytes are cut, flipped or inserted.
Whatever comes out, `turnproof lint` (with the dialect detected, or forced to the right or a wrong
one) and `turnproof repair`:

- never print a traceback or an internal error, and exit with a documented code (lint 0/1/2,
  repair 0/1/2: 1 when a result would be lost, nothing written, or when what it wrote is still
  rejected for a reason that is not pairing); exit 2 is one line on stderr naming the file;
- leave the input byte-identical with its mtime unchanged;
- lint --json prints one JSON document that validates against docs/turnproof.schema.json.

The CI budget is a few seconds per format; TURNPROOF_FUZZ multiplies it (tests/fuzz_budget.py).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz_budget import examples
from turnproof.lint import DIALECTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "tests", "data", "real")
try:
    import jsonschema

    VALIDATOR = jsonschema.Draft202012Validator(
        json.load(open(os.path.join(ROOT, "docs", "turnproof.schema.json"), encoding="utf-8")))
except ImportError:  # the schema is checked where jsonschema is installed (tests/test_jsonschema.py)
    VALIDATOR = None


def _real(name: str) -> bytes:
    with open(os.path.join(REAL, name), "rb") as f:
        return f.read()


# A Responses input with every call/output pair type lint pairs by call_id, and server-side calls
# that need no output (https://platform.openai.com/docs/api-reference/responses/create, input items).
RESPONSES_PAIRS = json.dumps({"model": "gpt-5", "input": [
    {"type": "message", "role": "user", "content": "go"},
    {"type": "function_call", "call_id": "fc_1", "name": "f", "arguments": "{}"},
    {"type": "custom_tool_call", "call_id": "ct_1", "name": "apply_patch", "input": "*** Begin Patch"},
    {"type": "local_shell_call", "call_id": "ls_1", "id": "ls_1", "action": {"type": "exec", "command": ["ls"]},
     "status": "completed"},
    {"type": "computer_call", "call_id": "cc_1", "action": {"type": "screenshot"}, "status": "completed"},
    {"type": "web_search_call", "id": "ws_1", "status": "completed"},
    {"type": "function_call_output", "call_id": "fc_1", "output": "ok"},
    {"type": "custom_tool_call_output", "call_id": "ct_1", "output": "done"},
    {"type": "local_shell_call_output", "call_id": "ls_1", "output": "a b"},
    {"type": "computer_call_output", "call_id": "cc_1", "output": {"type": "input_image", "image_url": "x"}},
    {"type": "tool_search_call", "call_id": "ts_1", "arguments": {}},
    {"type": "tool_search_call_output", "call_id": "ts_1", "output": []},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
]}, indent=1).encode()

# format -> (file name, seeds, the dialect lint should detect)
FORMATS = {
    "claude-code": ("s.jsonl", [_real("claude-code-cut-mid-call.jsonl"), _real("claude-code-summary-lines.jsonl")],
                    "claude-code"),
    "gemini-cli": ("s.json", [_real("gemini-cli-session.json")], "gemini-cli"),
    "bedrock": ("b.json", [_real("bedrock-converse-tool-200.json")], "bedrock"),
    "anthropic-server-mcp": ("b.json", [_real("anthropic-mcp-tool-use-200.json"),
                                        _real("anthropic-server-tool-use-200.json")], "anthropic"),
    "gemini": ("b.json", [_real("gemini-generatecontent-tool-200.json")], "gemini"),
    "responses-pairs": ("b.json", [RESPONSES_PAIRS, _real("deepseek-responses-interleaved-400.json")],
                        "openai-responses"),
    "responses-stateful": ("b.json", [_real("openai-responses-previous-response-id-200.json"),
                                      _real("openai-responses-conversation-200.json")], "openai-responses"),
}

# values a mutation puts in place of another: ids of other calls, related block and part types,
# roles, and values of the wrong JSON type
TYPES = ["tool_use", "tool_result", "server_tool_use", "mcp_tool_use", "mcp_tool_result", "web_search_tool_result",
         "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output", "local_shell_call",
         "computer_call_output", "tool_search_call", "text", "thinking", "message", "user", "assistant", "gemini",
         "summary", "system"]
IDS = ["fc_1", "ct_1", "call-a", "call-b", "toolu_x", "toolu_bdrk_01NNGBKLENmr7j3TfUKZW7rz", "tooluse_1", ""]
KEYS = ["type", "role", "content", "id", "tool_use_id", "call_id", "toolUse", "toolResult", "toolUseId",
        "functionCall", "functionResponse", "parts", "toolCalls", "result", "message", "isSidechain",
        "previous_response_id", "conversation", "input", "messages", "contents", "name", "status"]
VALUES = st.one_of(st.sampled_from(TYPES), st.sampled_from(IDS), st.none(), st.booleans(),
                   st.integers(-2, 10 ** 30), st.builds(list), st.builds(dict), st.just(float("nan")),
                   st.text(max_size=4))


def _containers(node, path=()):
    """Every (path, container) in a JSON value, the root first."""
    out = [(path, node)] if isinstance(node, (dict, list)) else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        out += _containers(v, path + (k,))
    return out


@st.composite
def mutate_value(draw, doc):
    """One structural change to a parsed JSON value (in place)."""
    spots = _containers(doc)
    if not spots:
        return
    _, c = draw(st.sampled_from(spots))
    if isinstance(c, list):
        if not c:
            c.append(draw(VALUES))
            return
        i, j = draw(st.integers(0, len(c) - 1)), draw(st.integers(0, len(c) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "swap", "set"]))
        if op == "drop":
            del c[i]
        elif op == "repeat":
            c.insert(j, copy.deepcopy(c[i]))
        elif op == "swap":
            c[i], c[j] = c[j], c[i]
        else:
            c[i] = draw(VALUES)
        return
    if not c:
        c[draw(st.sampled_from(KEYS))] = draw(VALUES)
        return
    k = draw(st.sampled_from(sorted(c, key=str)))
    op = draw(st.sampled_from(["set", "drop", "rename", "id", "type"]))
    if op == "drop":
        del c[k]
    elif op == "rename":
        c[draw(st.sampled_from(KEYS))] = c.pop(k)
    elif op == "id":
        c[k] = draw(st.sampled_from(IDS))
    elif op == "type":
        c[k] = draw(st.sampled_from(TYPES))
    else:
        c[k] = draw(VALUES)


@st.composite
def mutate_bytes(draw, data: bytes) -> bytes:
    op = draw(st.sampled_from(["cut", "flip", "insert"]))
    k = draw(st.integers(0, max(0, len(data) - 1)))
    if op == "cut":
        return data[:k]
    if op == "flip" and data:
        return data[:k] + bytes([draw(st.integers(0, 255))]) + data[k + 1:]
    return data[:k] + draw(st.binary(min_size=1, max_size=6)) + data[k:]


@st.composite
def mutated(draw, fmt: str) -> bytes:
    name, seeds, _ = FORMATS[fmt]
    data = draw(st.sampled_from(seeds))
    if name.endswith(".jsonl"):
        lines = data.split(b"\n")
        for _ in range(draw(st.integers(1, 4))):
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            op = draw(st.sampled_from(["line", "line", "drop", "repeat", "swap"]))
            if op == "drop" and len(lines) > 1:
                del lines[i]
            elif op == "repeat":
                lines.insert(j, lines[i])
            elif op == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                try:
                    obj = json.loads(lines[i])
                except ValueError:
                    continue
                draw(mutate_value(obj))
                lines[i] = json.dumps(obj).encode()
        data = b"\n".join(lines)
    else:
        doc = json.loads(data)
        for _ in range(draw(st.integers(1, 4))):
            draw(mutate_value(doc))
        data = json.dumps(doc, indent=1).encode()
    if draw(st.integers(0, 4)) == 0:
        data = draw(mutate_bytes(data))
    return data


def _no_crash(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err


def check(cli, fmt: str, data: bytes, dialect: str | None) -> None:
    d = tempfile.mkdtemp(prefix="turnproof-fuzz-")
    try:
        src = os.path.join(d, FORMATS[fmt][0])
        with open(src, "wb") as f:
            f.write(data)
        os.utime(src, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
        before = os.stat(src)
        forced = ["--dialect", dialect] if dialect else []
        code, out, err = cli("lint", src, *forced)
        _no_crash(err)
        assert code in (0, 1, 2)
        if code == 2:
            assert len(err.splitlines()) == 1 and src in err, err
        else:
            assert err == ""
        jcode, jout, jerr = cli("lint", src, "--json", *forced)
        _no_crash(jerr)
        assert jcode == code
        doc = json.loads(jout)
        if VALIDATOR is not None:
            VALIDATOR.validate(doc)
        out_path = os.path.join(d, "repaired" + os.path.splitext(src)[1])
        rcode, rout, rerr = cli("repair", src, "-o", out_path, *forced)
        _no_crash(rerr)
        assert rcode in (0, 1, 2)
        if code == 2:  # what lint cannot read, repair refuses alike
            assert rcode == 2, (err, rout)
        if rcode == 2 or (rcode == 1 and "still rejected" not in rout):
            assert len(rerr.splitlines()) == 1 and not os.path.exists(out_path), rerr
        else:  # written: clean for the provider, or exactly as rejected as repair said
            lcode, lout, lerr = cli("lint", out_path, *forced)
            assert lcode == rcode, (rout, lout, lerr)
        with open(src, "rb") as f:
            assert f.read() == data
        after = os.stat(src)
        assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)
        assert sorted(os.listdir(d)) in ([os.path.basename(src)], sorted([os.path.basename(src), "repaired" +
                                                                          os.path.splitext(src)[1]]))
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_seeds_reach_their_dialect(cli, fmt):
    """The seeds themselves: read as the format they are (else the fuzz would test the wrong reader)."""
    for data in FORMATS[fmt][1]:
        d = tempfile.mkdtemp(prefix="turnproof-fuzz-")
        try:
            src = os.path.join(d, FORMATS[fmt][0])
            with open(src, "wb") as f:
                f.write(data)
            code, out, err = cli("lint", src, "--json")
            assert code in (0, 1), err
            assert json.loads(out)["files"][0]["dialect"] == FORMATS[fmt][2]
        finally:
            shutil.rmtree(d)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_mutated(cli, fmt):
    right = FORMATS[fmt][2]

    @settings(max_examples=examples(60), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated(fmt), st.sampled_from([None, None, right] + [x for x in DIALECTS if x != right]))
    def run(data, dialect):
        check(cli, fmt, data, dialect)

    run()


# what longer campaigns found (TURNPROOF_FUZZ=25), kept as examples
FOUND = [
    # a local_shell_call with `id` but no `call_id`: repair raised KeyError (exit 4)
    ("responses-pairs", json.dumps({"model": "gpt-5", "input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "local_shell_call", "id": "ls_1", "status": "completed"},
        {"type": "local_shell_call_output", "call_id": "ls_1", "output": "a b"}]}).encode(), None),
    # a line whose "type" is a list: sniffing raised TypeError (unhashable) instead of reading the file
    ("claude-code", b'{"type": [], "summary": "x"}\n' + _real("claude-code-cut-mid-call.jsonl").split(b"\n", 3)[2],
     None),
    # a message whose role is not user or assistant: its tool_use was judged as no one's (clean)
    ("claude-code", b'{"type": "user", "sessionId": "s", "message": {"role": [], "content": '
                    b'[{"type": "tool_use", "id": "a"}]}}\n', "claude-code"),
]


@pytest.mark.parametrize("fmt,data,dialect", FOUND)
def test_found_by_longer_campaigns(cli, fmt, data, dialect):
    check(cli, fmt, data, dialect)


def test_a_claude_message_with_no_role_is_unreadable_not_clean(cli, tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_bytes(FOUND[-1][1])
    code, out, err = cli("lint", p)
    assert code == 2 and err.strip().endswith(f'{p}:1: message.role must be "user" or "assistant", not a list')
