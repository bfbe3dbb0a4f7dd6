"""lint on files of every dialect: the must-show shapes, with rule, call id, place and the provider's exact text."""

from __future__ import annotations

import json
import os

import pytest

from turnproof.model import provider as P
from tests.test_lint_helpers import DATA, lint_json, run, write_rollout


def findings(capsys, name: str, *extra) -> tuple[int, dict]:
    """The file's entry, each finding's provider_error_ref replaced by the text it names."""
    code, doc = lint_json(capsys, os.path.join(DATA, name), *extra)
    assert len(doc["files"]) == 1
    return code, resolved(doc["files"][0])


def resolved(f: dict) -> dict:
    texts = f["provider_errors"]
    assert len(set(texts)) == len(texts)  # each text once

    def one(x: dict) -> dict:
        ref = x.pop("provider_error_ref")
        return {**x, "provider_error": None if ref is None else texts[ref]}

    out = dict(f, findings=[one(x) for x in f["findings"]], info=[one(x) for x in f.get("info", [])])
    if "builders" in f:
        out["builders"] = [dict(b, findings=[one(x) for x in b["findings"]]) for b in f["builders"]]
    return out


def rules(f: dict) -> set:
    """Findings (the provider in use) and information (other wires and builders) alike."""
    return {(x["rule"], x["call_id"], x.get("line", x.get("pointer"))) for x in f["findings"] + [
        x for x in f.get("info", []) if "design" not in x and x.get("provider_name") in (None, "openai", "anthropic",
                                                                                          "gemini")]}


def all_texts(f: dict) -> dict:
    return {x["rule"]: x["provider_error"] for x in f["findings"] + f.get("info", []) if "design" not in x}


def builder(f: dict, design: str) -> dict:
    return next(b for b in f["builders"] if b["design"] == design)


def test_8479_rollout_is_valid_on_responses_and_rejected_by_the_v077_chat_builder(capsys):
    code, f = findings(capsys, "rollout-8479.jsonl")
    assert code == 0 and f["dialect"] == "codex-rollout" and f["findings"] == []
    assert builder(f, "codex-0.77-responses")["accepted"]
    assert builder(f, "codex-0.78-chat")["accepted"]
    v077 = builder(f, "codex-0.77-chat")
    assert not v077["accepted"]
    first = v077["findings"][0]
    assert first == {"rule": "chat-missing-tool-response", "call_id": "call_A1", "line": 5,
                     "provider_error": P.CHAT_MISSING.format(ids="call_A1"), "wire": "chat",
                     "provider": "OpenAI Chat Completions", "design": "codex-0.77-chat"}
    # naming the design makes its rejections findings: the v0.77 chat user learns the session is dead
    code, f = findings(capsys, "rollout-8479.jsonl", "--design", "codex-0.77-chat")
    assert code == 1 and ("chat-missing-tool-response", "call_A1", 5) in rules(f)
    assert all(x["design"] == "codex-0.77-chat" for x in f["findings"])


def test_8479_shape_as_request_bodies(capsys):
    code, f = findings(capsys, "chat-8479.json")
    assert code == 1 and f["dialect"] == "openai-chat"
    assert rules(f) == {("chat-missing-tool-response", "call_H1", "/messages/2/tool_calls/0"),
                        ("chat-orphan-tool", "call_H1", "/messages/4")}
    assert {x["provider_error"] for x in f["findings"]} == {P.CHAT_MISSING.format(ids="call_H1"), P.CHAT_ORPHAN}
    # the `param` OpenAI reports: the message where the answers should have started
    assert {x["param"] for x in f["findings"]} == {"messages.[3].role", "messages.[4].role"}
    assert findings(capsys, "chat-fixed.json")[0] == 0
    code, f = findings(capsys, "responses-8479-input.json")
    assert code == 0 and f["dialect"] == "openai-responses" and f["findings"] == []


def test_partial_results_after_a_crash(capsys):
    code, f = findings(capsys, "rollout-crash-partial.jsonl")
    assert code == 1
    assert rules(f) == {("calls-answered", "call_B2", 6), ("responses-missing-output", "call_B2", 6),
                        ("chat-missing-tool-response", "call_B2", 6), ("anthropic-missing-result", "call_B2", 6)}
    texts = all_texts(f)
    assert texts["responses-missing-output"] == "No tool output found for function call call_B2."
    assert texts["anthropic-missing-result"] == P.ANT_MISSING.format(i=1, ids="call_B2")
    assert texts["calls-answered"] is None
    # Codex's own normalization puts "aborted" at call+1 and splits the group: v0.78 chat still fails
    assert builder(f, "codex-0.77-responses")["accepted"]
    assert not builder(f, "codex-0.78-chat")["accepted"]
    code, f = findings(capsys, "chat-messages-partial.json")
    assert code == 1 and rules(f) == {("chat-missing-tool-response", "call_J2", "/1/tool_calls/1")}


def test_orphan_result(capsys):
    code, f = findings(capsys, "rollout-orphan.jsonl")
    assert code == 1
    assert rules(f) == {(r, "call_ghost", 4) for r in ("no-orphan-results", "responses-orphan-output",
                                                        "chat-orphan-tool", "anthropic-unexpected-result")}
    texts = all_texts(f)
    assert texts["responses-orphan-output"] == P.RESP_ORPHAN.format(id="call_ghost")
    assert texts["anthropic-unexpected-result"] == P.ANT_UNEXPECTED.format(i=0, j=1, id="call_ghost")
    code, f = findings(capsys, "responses-body-broken.json")
    assert rules(f) == {("responses-missing-output", "call_L2", "/input/2"),
                        ("responses-orphan-output", "call_ghost", "/input/4")}


def test_torn_line_is_reported_and_the_rest_still_checked(capsys, tmp_path):
    code, f = findings(capsys, "rollout-torn.jsonl")
    assert code == 1 and rules(f) == {("torn-line", None, 7)}
    # the lines before the torn one are still judged
    p = write_rollout(tmp_path, "U C1 C2 O1")
    with open(p, "a") as fh:
        fh.write('{"timestamp":"2025-12-20T10:00:09.000Z","type":"resp')
    code, doc = lint_json(capsys, p)
    got = rules(doc["files"][0])
    assert ("torn-line", None, 6) in got and ("calls-answered", "call_2", 4) in got


def test_text_between_calls_and_results(capsys):
    code, f = findings(capsys, "rollout-text-between.jsonl")
    # the history pairs fine (one assistant message per run), but v0.78's grouping splits at the text
    assert code == 0 and f["findings"] == []
    v078 = builder(f, "codex-0.78-chat")
    assert not v078["accepted"]
    assert v078["findings"][0]["provider_error"] == P.CHAT_MISSING.format(ids="call_E1, call_E2")
    assert builder(f, "codex-0.77-responses")["accepted"]


def test_anthropic_result_not_first_in_its_message(capsys):
    code, f = findings(capsys, "anthropic-not-first.json")
    assert code == 1 and f["dialect"] == "anthropic"
    assert rules(f) == {("anthropic-results-not-first", "toolu_M1", "/messages/2/content/1")}
    assert f["findings"][0]["provider_error"] == P.ANT_NOT_FIRST.format(i=2, n=1)
    code, f = findings(capsys, "anthropic-missing.json")
    assert rules(f) == {("anthropic-missing-result", "toolu_N2", "/messages/1/content/1")}
    # the same shape in a rollout: a result after a user message, on the Anthropic wire
    code, f = findings(capsys, "rollout-result-after-user.jsonl")
    assert ("anthropic-results-not-first", "call_F2", 10) in rules(f)


def test_gemini(capsys):
    code, f = findings(capsys, "gemini-count.json")
    assert code == 1 and f["dialect"] == "gemini"
    assert rules(f) == {("gemini-count-mismatch", "weather", "/contents/1")}
    assert f["findings"][0]["provider_error"] == P.GEMINI_COUNT
    assert findings(capsys, "gemini-ok.json")[0] == 0


@pytest.mark.parametrize("name,dialect", [("chat-8479.json", "openai-chat"), ("responses-8479-input.json", "openai-responses"),
                                          ("anthropic-missing.json", "anthropic"), ("gemini-ok.json", "gemini"),
                                          ("rollout-orphan.jsonl", "codex-rollout")])
def test_dialect_detection_and_override(capsys, name, dialect):
    assert findings(capsys, name)[1]["dialect"] == dialect
    # forcing another dialect reads the document with that dialect's rules, or fails cleanly
    other = "anthropic" if dialect != "anthropic" else "openai-chat"
    code, out, err = run(capsys, "lint", os.path.join(DATA, name), "--dialect", other)
    assert code in (0, 1, 2) and "Traceback" not in err


def test_directory_recursion_and_exit_codes(capsys, tmp_path):
    sess = tmp_path / "sessions" / "2025" / "12" / "20"
    sess.mkdir(parents=True)
    write_rollout(sess, "U C1 O1 T", "rollout-a.jsonl")
    write_rollout(sess, "U C1 C2 O1", "rollout-b.jsonl")
    (sess / "notes.txt").write_text("not a session")
    code, doc = lint_json(capsys, tmp_path / "sessions")
    assert code == 1
    assert [os.path.basename(f["path"]) for f in doc["files"]] == ["rollout-a.jsonl", "rollout-b.jsonl"]
    assert [bool(f["findings"]) for f in doc["files"]] == [False, True]
    (sess / "rollout-c.jsonl").write_bytes(b"\xff\xfe garbage\n")
    code, out, err = run(capsys, "lint", tmp_path / "sessions")
    assert code == 2 and "rollout-c.jsonl:1: not valid UTF-8" in err
    assert "rollout-b.jsonl:4: call_2: calls-answered: call call_2 has 0 results" in out  # the other files are still reported


def test_text_output_one_line_per_finding(capsys):
    code, out, err = run(capsys, "lint", os.path.join(DATA, "rollout-orphan.jsonl"))
    assert code == 1 and err == ""
    line = next(ln for ln in out.splitlines() if ln.startswith(f"{os.path.join(DATA, 'rollout-orphan.jsonl')}:4: "))
    # one line for the call: the property broken, and who else rejects it
    assert line.startswith(f"{os.path.join(DATA, 'rollout-orphan.jsonl')}:4: call_ghost: no-orphan-results: ")
    assert "also rejected by" in line and "OpenAI Responses" in line


def test_json_document_has_the_promised_shape(capsys):
    code, doc = lint_json(capsys, os.path.join(DATA, "rollout-crash-partial.jsonl"), os.path.join(DATA, "chat-8479.json"))
    assert code == 1 and list(doc)[-1] == "files"
    roll, chat = doc["files"]
    assert set(roll) == {"path", "dialect", "findings", "builders", "provider", "info", "resume", "provider_errors"}
    assert roll["resume"]["design"] == "codex-0.77-responses" and roll["resume"]["resumable"] is True
    assert set(chat) == {"path", "dialect", "findings", "provider", "info", "provider_errors"}
    assert roll["provider"]["name"] == "openai" and chat["provider"]["name"] == "openai"
    for f in roll["findings"]:
        assert {"rule", "call_id", "line", "provider_error_ref"} <= set(f) and "pointer" not in f
    for f in chat["findings"]:
        assert {"rule", "call_id", "pointer", "provider_error_ref"} <= set(f) and "line" not in f
        assert chat["provider_errors"][f["provider_error_ref"]]  # the text, once per file


def test_progress_goes_to_stderr(capsys, tmp_path):
    p = write_rollout(tmp_path, " ".join(f"U C{i} O{i} T" for i in range(600)))
    code, out, err = run(capsys, "lint", p, "--progress")
    assert code == 0 and "MB" in err and "%" in err and "MB" not in out
    code, out, err = run(capsys, "repair", p, "-o", tmp_path / "o.jsonl", "--progress")
    assert code == 0 and "pass 1/2" in err


def test_early_rollouts_with_bare_items(capsys, tmp_path):
    p = tmp_path / "rollout-2025-05-01.jsonl"
    p.write_text('{"id":"0d4f","timestamp":"2025-05-01T10:00:00Z","instructions":null}\n'
                 '{"type":"message","role":"user","content":[]}\n'
                 '{"type":"function_call","name":"shell","arguments":"{}","call_id":"call_1"}\n'
                 '{"record_type":"state"}\n'
                 '{"type":"message","role":"user","content":[]}\n')
    code, doc = lint_json(capsys, p)
    assert code == 1 and ("calls-answered", "call_1", 3) in rules(doc["files"][0])


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(DATA) if n.endswith(".jsonl")))
def test_turnproof_proposed_builder_accepts_every_rollout(capsys, name):
    # its normalization is what repair writes, so its requests must be accepted whatever the file holds
    code, f = findings(capsys, name, "--design", "turnproof-proposed")
    assert builder(f, "turnproof-proposed")["accepted"]
    assert not any(x.get("design") == "turnproof-proposed" for x in f["findings"])


def test_an_indented_document_with_one_line_values_inside_is_one_document(capsys, tmp_path):
    """Found by the fuzz campaign: a repaired Gemini body, written indented, has lines such as `{}` and
    `"a"` that parse on their own; it was taken for a rollout and refused (exit 2)."""
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [{}], "x": ["TEXT", "a"]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(body, indent=2))
    assert "\n    {}\n" in p.read_text()
    code, doc = lint_json(capsys, p)
    assert code == 0 and doc["files"][0]["dialect"] == "gemini"
