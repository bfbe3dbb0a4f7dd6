"""`turnproof repair` on every dialect lint reads, on real files (tests/data/real, SOURCES.md) and on
broken copies of them: never a lost tool result, user message or assistant content; a repaired file
lints clean for its provider; repairing again changes nothing; a clean file is left byte for byte."""

from __future__ import annotations

import copy
import glob
import json
import os
import shutil

import pytest

from tests.test_lint_helpers import DATA, lint_json, rollout_text, run, write_rollout
from turnproof.lint.repair import MARKER, MOVED, SYNTHETIC_OUTPUT

REAL = os.path.join(os.path.dirname(DATA), "real")
CLEAN_REAL = sorted(p for p in glob.glob(os.path.join(REAL, "*")) if not p.endswith(("SOURCES.md",))
                    and "400" not in p and "cut-mid-call" not in p and "real-binary" not in p)


def repair(capsys, src, out, *extra):
    code, text, err = run(capsys, "repair", src, "-o", out, *extra, "--json")
    return code, (json.loads(text) if code in (0, 1) and text.strip() else None), err


def relint(capsys, path, dialect=None) -> int:
    code, doc = lint_json(capsys, path, *(["--dialect", dialect] if dialect else []))
    return code


@pytest.mark.parametrize("src", CLEAN_REAL, ids=os.path.basename)
def test_clean_real_files_are_left_byte_for_byte(capsys, tmp_path, src):
    """Including the two stateful Responses bodies: only a function_call_output, the call on the server."""
    out = tmp_path / ("o" + os.path.splitext(src)[1])
    code, rep, err = repair(capsys, src, out)
    assert code == 0 and rep["edits"] == [], (err, rep)
    assert out.read_bytes() == open(src, "rb").read()
    p = tmp_path / os.path.basename(src)
    shutil.copy(src, p)
    code, text, err = run(capsys, "repair", p, "--in-place")
    assert code == 0 and "nothing to repair" in text and p.read_bytes() == open(src, "rb").read()
    assert sorted(os.listdir(tmp_path)) == sorted([out.name, p.name])  # no backup when nothing changed


@pytest.mark.parametrize("name", ["openai-responses-previous-response-id-200.json",
                                  "openai-responses-conversation-200.json"])
def test_stateful_responses_output_is_never_an_orphan(capsys, tmp_path, name):
    """Issue 12.1: repair once wrote "input": [] here, deleting the one tool result the API accepted."""
    src = os.path.join(REAL, name)
    doc = json.load(open(src))
    assert [x["type"] for x in doc["input"]] == ["function_call_output"]
    out = tmp_path / "o.json"
    assert repair(capsys, src, out)[0] == 0 and out.read_bytes() == open(src, "rb").read()
    # a call in the same request still gets its synthetic result; the stored call's output stays
    doc["input"].append({"type": "function_call", "call_id": "call_new", "name": "f", "arguments": "{}"})
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc))
    code, rep, err = repair(capsys, p, out)
    assert code == 0 and [e["op"] for e in rep["edits"]] == ["synthesize"]
    fixed = json.loads(out.read_text())["input"]
    assert fixed[0] == doc["input"][0] and fixed[-1]["call_id"] == "call_new"


def test_deepseek_interleaved_body_is_repaired_for_deepseek(capsys, tmp_path):
    src = os.path.join(REAL, "deepseek-responses-interleaved-400.json")
    assert relint(capsys, src) == 1
    out = tmp_path / "o.json"
    code, rep, err = repair(capsys, src, out)
    assert code == 0, err
    shape = lambda d: [(x.get("type", "message"), x.get("role"), x.get("call_id")) for x in d["input"]]  # noqa: E731
    # held text before the call group (plan.py): the order of the body DeepSeek accepted in the same
    # cassette series (HTTP 200), the calls one group, not [call-a, out-a, message, call-b, out-b]
    settled = json.load(open(os.path.join(REAL, "deepseek-responses-settled-200.json")))
    assert shape(json.loads(out.read_text())) == shape(settled)
    assert relint(capsys, out) == 0
    assert [e["op"] for e in rep["edits"]] == ["move-text"]


def test_claude_code_session_cut_mid_call(capsys, tmp_path):
    """The Task call on line 25 never got its result: a synthetic tool_result line, linked into the chain."""
    src = os.path.join(REAL, "claude-code-cut-mid-call.jsonl")
    out = tmp_path / "o.jsonl"
    code, rep, err = repair(capsys, src, out)
    assert code == 0, err
    assert rep["dialect"] == "claude-code" and rep["edits"] == [
        {"op": "synthesize", "call_id": "toolu_bdrk_01NNGBKLENmr7j3TfUKZW7rz", "line": None, "after": 25}]
    before = open(src, "rb").read().splitlines()
    after = out.read_bytes().splitlines()
    assert after[:25] == before[:25] and after[26:] == before[25:]
    syn = json.loads(after[25])
    call = json.loads(before[24])
    assert syn[MARKER] is True and syn["type"] == "user" and syn["parentUuid"] == call["uuid"]
    assert syn["sessionId"] == call["sessionId"] and syn["timestamp"] == call["timestamp"]
    block = syn["message"]["content"][0]
    assert block["tool_use_id"] == "toolu_bdrk_01NNGBKLENmr7j3TfUKZW7rz" and block["is_error"] is True
    assert relint(capsys, out) == 0
    again = tmp_path / "again.jsonl"
    assert repair(capsys, out, again)[1]["edits"] == [] and again.read_bytes() == out.read_bytes()


def _claude(lines: list) -> str:
    out, parent = [], None
    for k, (t, content) in enumerate(lines):
        u = f"u{k}"
        out.append(json.dumps({"parentUuid": parent, "isSidechain": False, "sessionId": "s", "type": t,
                               "message": {"role": t, "content": content}, "uuid": u,
                               "timestamp": f"2026-01-01T00:00:{k:02d}.000Z"}))
        parent = u
    return "\n".join(out) + "\n"


def test_claude_code_late_result_moves_up_and_the_chain_follows(capsys, tmp_path):
    tu = lambda i: {"type": "tool_use", "id": i, "name": "Bash", "input": {}}
    tr = lambda i: {"type": "tool_result", "tool_use_id": i, "content": "ok"}
    src = tmp_path / "s.jsonl"
    src.write_text(_claude([("user", "go"), ("assistant", [tu("t1")]), ("user", "wait, also"),
                            ("user", [tr("t1")]), ("assistant", [{"type": "text", "text": "done"}])]))
    assert relint(capsys, src) == 1
    out = tmp_path / "o.jsonl"
    code, rep, err = repair(capsys, src, out)
    assert code == 0 and [(e["op"], e["line"], e["after"]) for e in rep["edits"]] == [("move", 4, 2)]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["uuid"] for g in got] == ["u0", "u1", "u3", "u2", "u4"]
    assert [g["parentUuid"] for g in got] == [None, "u0", "u1", "u3", "u2"]  # one chain, in the new order
    assert got[2][MOVED] == {"line": 4, "timestamp": "2026-01-01T00:00:03.000Z"}
    stamps = [g["timestamp"] for g in got]
    assert stamps == sorted(stamps)
    assert relint(capsys, out) == 0


def test_gemini_cli_call_without_result(capsys, tmp_path):
    doc = json.load(open(os.path.join(REAL, "gemini-cli-session.json")))
    msg = next(i for i, m in enumerate(doc["messages"]) if m.get("toolCalls"))
    tc = doc["messages"][msg]["toolCalls"][0]
    del tc["result"]
    tc["status"] = "executing"
    p = tmp_path / "g.json"
    p.write_text(json.dumps(doc))
    assert relint(capsys, p) == 1
    out = tmp_path / "o.json"
    code, rep, err = repair(capsys, p, out)
    assert code == 0 and [e["op"] for e in rep["edits"]] == ["synthesize"]
    fixed = json.loads(out.read_text())["messages"][msg]["toolCalls"][0]
    assert fixed[MARKER] is True and fixed["status"] == "cancelled"
    assert fixed["result"][0]["functionResponse"]["id"] == tc["id"]
    assert relint(capsys, out) == 0


@pytest.mark.parametrize("name, breaker", [
    ("bedrock-converse-tool-200.json", "drop-result"),
    ("gemini-generatecontent-tool-200.json", "drop-result"),
    ("gemini-generatecontent-tool-200.json", "late-result"),
    ("openai-chat-tool-calls-200.json", "drop-result"),
    ("openai-chat-tool-calls-200.json", "late-result"),
])
def test_broken_copies_of_real_bodies_are_repaired(capsys, tmp_path, name, breaker):
    doc = json.load(open(os.path.join(REAL, name)))
    key = next(k for k in ("messages", "contents") if k in doc)
    msgs = doc[key]
    res = next(i for i, m in enumerate(msgs) if i and m.get("role") in ("user", "tool")
               and (m.get("role") == "tool" or any(isinstance(b, dict) and ({"toolResult", "functionResponse"} & set(b))
                                                    for b in m.get("content") or m.get("parts") or [])))
    if breaker == "drop-result":
        if msgs[res].get("role") == "tool":
            del msgs[res]
        else:
            ck = "content" if "content" in msgs[res] else "parts"
            msgs[res][ck] = msgs[res][ck][1:] or [{"text": "go on"}]
    else:  # a user message slips in between the call and its result
        msgs.insert(res, {"role": "user", "content": "hurry"} if key == "messages" else
                    {"role": "user", "parts": [{"text": "hurry"}]})
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc))
    before = copy.deepcopy(doc)
    assert relint(capsys, p) == 1
    out = tmp_path / "o.json"
    code, rep, err = repair(capsys, p, out)
    assert code == 0 and rep["edits"], err
    assert relint(capsys, out) == 0
    fixed = json.loads(out.read_text())
    # nothing a user or the assistant said is gone
    said = lambda d: [json.dumps(m, sort_keys=True) for m in d[key] if m.get("role") not in ("tool", "function")]
    texts = lambda d: sorted(json.dumps(b, sort_keys=True) for m in d[key] if m.get("role") != "tool"
                             for b in (m.get("content") or m.get("parts") or [])
                             if isinstance(b, dict) and not ({"toolResult", "functionResponse"} & set(b)))
    assert texts(fixed) == texts(before) or said(fixed) == said(before)
    assert json.loads(p.read_text()) == before
    again = tmp_path / "again.json"
    assert repair(capsys, out, again)[1]["edits"] == [] and again.read_bytes() == out.read_bytes()


def test_mistral_rules_beyond_pairing_are_reported_not_hidden(capsys, tmp_path):
    body = {"model": "mistral-large-latest", "messages": [
        {"role": "user", "content": "ls"},
        {"role": "assistant", "content": "running it", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]}]}
    p = tmp_path / "m.json"
    p.write_text(json.dumps(body))
    out = tmp_path / "o.json"
    code, rep, err = repair(capsys, p, out)
    assert code == 1 and [e["op"] for e in rep["edits"]] == ["synthesize"]
    assert {f["rule"] for f in rep["still_rejected"]} == {"mistral-content-and-tool-calls"}
    fixed = json.loads(out.read_text())["messages"]
    assert fixed[-1] == {"role": "tool", "tool_call_id": "c1", "content": SYNTHETIC_OUTPUT}


# ---- rollouts: nothing lost --------------------------------------------------------------------------
def test_responses_rollout_is_only_changed_where_openai_requires(capsys, tmp_path):
    """On OpenAI's Responses wire order does not matter: a late result or a second copy is accepted
    where it is (Codex Desktop's developer message between a call and its output), a missing one is not."""
    src = write_rollout(tmp_path, "U C1 U O1 C2 O2 O2 C3 T U")
    assert relint(capsys, src) == 1
    out = tmp_path / "o.jsonl"
    code, rep, err = repair(capsys, src, out)
    assert code == 0 and rep["edits"] == [
        {"op": "drop-duplicate", "call_id": "call_2", "line": 8, "after": None, "kept": 7},
        {"op": "synthesize", "call_id": "call_3", "line": None, "after": 10}]
    before, after = open(src).read().splitlines(), out.read_text().splitlines()
    assert after[:7] == before[:7] and after[7:9] == before[8:10] and after[10:] == before[10:]
    assert relint(capsys, out) == 0


def test_result_before_its_call_moves_down(capsys, tmp_path):
    """Issue 14.2's file: the result written before its call is kept, moved down to it (every
    provider wants a result after its call; a chat-wire rollout goes through rescue.py the same way)."""
    src = write_rollout(tmp_path, "U O1 C1 U")
    out = tmp_path / "o.jsonl"
    code, rep, err = repair(capsys, src, out)
    assert code == 0 and rep["edits"] == [
        {"op": "move", "call_id": "call_1", "line": 3, "after": 4, "direction": "down"}]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["payload"].get("type") for g in got[1:]] == ["message", "function_call", "function_call_output",
                                                           "message"]
    assert got[3]["payload"]["output"] == "out 1" and got[3]["payload"][MOVED]["line"] == 3
    assert relint(capsys, out) == 0


def test_a_real_result_replaces_a_synthetic_one(capsys, tmp_path):
    src = write_rollout(tmp_path, "U C1 C2 O1")
    first = tmp_path / "first.jsonl"
    assert repair(capsys, src, first)[0] == 0  # call_2 gets a synthetic result
    late = rollout_text("U O2").splitlines()[2].replace('"out 2"', '"the real output"')
    with open(first, "a") as f:  # then the real one shows up (the session was still running)
        f.write(late + "\n")
    out = tmp_path / "o.jsonl"
    code, rep, err = repair(capsys, first, out)
    assert code == 0 and [e["op"] for e in rep["edits"]] == ["drop-synthetic"]  # the real one stays where it is
    outs = [json.loads(x)["payload"] for x in out.read_text().splitlines()
            if json.loads(x)["payload"].get("type") == "function_call_output"]
    assert [(o["call_id"], o["output"]) for o in outs] == [("call_1", "out 1"), ("call_2", "the real output")]


def test_two_different_results_for_one_call_are_refused(capsys, tmp_path):
    src = write_rollout(tmp_path, "U C1 O1 O1")
    lines = open(src).read().splitlines()
    lines[-1] = lines[-1].replace('"out 1"', '"another output"')
    open(src, "w").write("\n".join(lines) + "\n")
    out = tmp_path / "o.jsonl"
    code, text, err = run(capsys, "repair", src, "-o", out)
    assert code == 1 and "call call_1 has two different results (line 4 and line 5)" in err
    assert not out.exists()
    code, text, err = run(capsys, "repair", src, "--in-place")
    assert code == 1 and not os.path.exists(src + ".bak")


def test_identical_copy_is_dropped(capsys, tmp_path):
    src = write_rollout(tmp_path, "U C1 O1 O1")
    out = tmp_path / "o.jsonl"
    code, rep, err = repair(capsys, src, out)
    assert code == 0 and rep["edits"] == [
        {"op": "drop-duplicate", "call_id": "call_1", "line": 5, "after": None, "kept": 4}]


def test_duplicate_keys_are_not_guessed_at(capsys, tmp_path):
    """Issue 14.12: a call with two call_ids once made repair drop a real result as an orphan."""
    p = tmp_path / "b.json"
    p.write_text('{"input": [{"type": "function_call", "call_id": "a", "call_id": "b", "name": "f", "arguments": "{}"},'
                 ' {"type": "function_call_output", "call_id": "a", "output": "real"}]}')
    code, text, err = run(capsys, "repair", p, "-o", tmp_path / "o.json")
    assert code == 2 and "appears twice" in err and not (tmp_path / "o.json").exists()


def test_duplicate_keys_in_a_rollout_are_not_guessed_at(capsys, tmp_path):
    """Issue 14.12 on a rollout: a call line with two call_ids; json.loads keeps "b", and repair used to
    drop a's real result as an orphan and answer b with a synthetic one. Lint names the line; repair
    refuses (exit 2), whichever wire resumes the file."""
    lines = rollout_text("U C1 O1").splitlines()
    lines[2] = lines[2].replace('"call_id":"call_1"', '"call_id":"call_1","call_id":"call_9"')
    assert lines[2].count('"call_id"') == 2
    for version, provider in (("0.122.0", "openai"), ("0.77.0", "scripted")):  # the pairing path, the rescue
        lines[0] = json.dumps({"timestamp": "2025-12-20T10:00:00.000Z", "type": "session_meta",
                               "payload": {"id": "s", "cli_version": version, "model_provider": provider}})
        src = tmp_path / f"r-{version}.jsonl"
        src.write_text("\n".join(lines) + "\n")
        code, doc = lint_json(capsys, src)
        assert code == 1 and any(f["rule"] == "duplicate-key" and f["line"] == 3 for f in doc["files"][0]["findings"])
        out = tmp_path / "o.jsonl"
        code, text, err = run(capsys, "repair", src, "-o", out)
        assert code == 2 and "appears twice" in err and ":3:" in err and not out.exists(), err


def test_nan_with_nothing_to_repair_is_refused_too(capsys, tmp_path):
    """Repair exits 0 only for a file that lints clean: NaN is not, and it is not a pairing repair."""
    p = tmp_path / "b.json"
    p.write_text('{"temperature": NaN, "input": [{"type": "function_call", "call_id": "a", "name": "f", '
                 '"arguments": "{}"}, {"type": "function_call_output", "call_id": "a", "output": "ok"}]}')
    code, text, err = run(capsys, "repair", p, "-o", tmp_path / "o.json")
    assert code == 2 and "NaN" in err and not (tmp_path / "o.json").exists()


def test_nan_is_never_written_back(capsys, tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"temperature": NaN, "input": [{"type": "function_call", "call_id": "a", "name": "f", '
                 '"arguments": "{}"}]}')
    code, text, err = run(capsys, "repair", p, "-o", tmp_path / "o.json")
    assert code == 2 and "NaN" in err and not (tmp_path / "o.json").exists()


# ---- held text: before its call group, in every dialect (plan.py says why) -------------------------
@pytest.mark.parametrize("provider", ["openai", "mistral", "gpt-oss", "deepseek"])
def test_chat_held_text_goes_before_the_call_message(capsys, tmp_path, provider):
    """[assistant{a,b}, assistant{text}, tool, tool], as Codex 0.78's builder sends a response whose
    text the stream held: rejected; repaired as rescue.py lays out the same rollout."""
    calls = {"role": "assistant", "content": None, "tool_calls": [
        {"id": c, "type": "function", "function": {"name": "f", "arguments": "{}"}} for c in ("call_a", "call_b")]}
    text = {"role": "assistant", "content": "I will run two commands."}
    tools = [{"role": "tool", "tool_call_id": c, "content": "ok"} for c in ("call_a", "call_b")]
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}, calls, text, *tools]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(body))
    out = tmp_path / "o.json"
    code, rep, err = repair(capsys, p, out, "--provider", provider)
    assert code == 0, err
    assert json.loads(out.read_text())["messages"] == [body["messages"][0], text, calls, *tools]
    assert rep["edits"] == [{"op": "move-text", "call_id": None, "pointer": "/messages/2", "after": "/messages/0",
                             "direction": "up"}]
    code, doc = lint_json(capsys, out, "--provider", provider)
    assert code == 0, doc


def test_anthropic_held_text_message_goes_before_the_tool_use_message(capsys, tmp_path):
    tu = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}
    text = {"role": "assistant", "content": [{"type": "text", "text": "running it"}]}
    res = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}
    body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "go"}, tu, text, res]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(body))
    out = tmp_path / "o.json"
    assert relint(capsys, p) == 1
    code, rep, err = repair(capsys, p, out)
    assert code == 0, err
    assert json.loads(out.read_text())["messages"] == [body["messages"][0], text, tu, res]
    assert [e["op"] for e in rep["edits"]] == ["move-text"] and relint(capsys, out) == 0


def test_claude_code_nan_on_a_summary_line_is_refused_like_any_dialects(capsys, tmp_path):
    """Found by the dialect fuzz: a summary line of a real session with `"leafUuid": NaN` lints as a
    finding, and repair wrote the file unchanged with exit 0 ("nothing to repair")."""
    lines = open(os.path.join(REAL, "claude-code-summary-lines.jsonl"), encoding="utf-8").read().splitlines()
    k = next(i for i, ln in enumerate(lines) if '"type":"summary"' in ln.replace(" ", ""))
    lines[k] = json.dumps({"type": "summary", "summary": "s", "leafUuid": "x"}).replace('"x"', "NaN")
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(lines) + "\n")
    code, doc = lint_json(capsys, src)
    assert code == 1 and any(f["rule"] == "non-standard-json" and f["line"] == k + 1
                             for f in doc["files"][0]["findings"])
    out = tmp_path / "o.jsonl"
    code, text, err = run(capsys, "repair", src, "-o", out)
    assert code == 2 and f":{k + 1}:" in err and "NaN" in err and not out.exists(), err


# ---- every real session file, cut while a tool ran: repaired, clean, no result lost ------------------
_CALL_KEYS = (b'"function_call"', b'"custom_tool_call"', b'"local_shell_call"', b'"tool_use"')
_RESULT_KEYS = (b'"function_call_output"', b'"custom_tool_call_output"', b'"tool_result"')
REAL_JSONL = sorted(p for p in glob.glob(os.path.join(REAL, "*.jsonl")) if "cut-mid-call" not in p)


@pytest.mark.parametrize("src", REAL_JSONL, ids=os.path.basename)
def test_real_sessions_cut_mid_call_are_repaired_without_loss(capsys, tmp_path, src):
    """Each real rollout and Claude Code session, cut just after a call line (a crash while its tool
    ran), as the release or provider that made it reads it: repair answers that call with a synthetic
    result, relints clean, and every result the cut file holds is still there, byte for byte."""
    lines = open(src, "rb").read().splitlines(keepends=True)
    k = max(i for i, ln in enumerate(lines) if any(c in ln for c in _CALL_KEYS))
    cut = tmp_path / os.path.basename(src)
    cut.write_bytes(b"".join(lines[:k + 1]))
    assert relint(capsys, cut) == 1
    out = tmp_path / ("o" + os.path.splitext(src)[1])
    code, text, err = run(capsys, "repair", cut, "-o", out)
    assert code == 0, (text, err)
    assert relint(capsys, out) == 0
    fixed = out.read_bytes()
    assert MARKER.encode() in fixed
    kept = [ln for ln in lines[:k + 1] if any(r in ln for r in _RESULT_KEYS)]
    new = fixed.splitlines(keepends=True)
    # a result line is written as it was, or moved (then marked), never gone
    for ln in kept:
        obj = json.loads(ln)
        assert ln in new or any(MOVED.encode() in x and _unmarked(x) == obj for x in new), ln[:200]
    again = tmp_path / ("again" + os.path.splitext(src)[1])
    assert run(capsys, "repair", out, "-o", again)[0] == 0 and again.read_bytes() == fixed


def _unmarked(raw: bytes) -> dict:
    obj = json.loads(raw)
    p = obj.get("payload") if isinstance(obj.get("payload"), dict) else obj
    moved = p.pop(MOVED, None)
    if moved and moved.get("timestamp") is not None:
        obj["timestamp"] = moved["timestamp"]
    return obj
