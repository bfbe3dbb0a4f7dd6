"""Real files from public repositories (tests/data/real/SOURCES.md): lint reaches each one's truth."""

from __future__ import annotations

import json
import os

import pytest

from turnproof.cli import main
from turnproof.lint import lint_path

REAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "real")

# file -> (dialect, provider judged, problem call ids for that provider)
TRUTH = {
    "deepseek-responses-interleaved-400.json": ("openai-responses", "deepseek", {"call-a"}),
    "deepseek-responses-settled-200.json": ("openai-responses", "deepseek", set()),
    "openai-responses-previous-response-id-200.json": ("openai-responses", "openai", set()),
    "openai-responses-conversation-200.json": ("openai-responses", "openai", set()),
    "openai-chat-tool-calls-200.json": ("openai-chat", "openai", set()),
    "anthropic-mcp-tool-use-200.json": ("anthropic", "anthropic", set()),
    "anthropic-server-tool-use-200.json": ("anthropic", "anthropic", set()),
    "bedrock-converse-tool-200.json": ("bedrock", "bedrock", set()),
    "gemini-generatecontent-tool-200.json": ("gemini", "gemini", set()),
    "mistral-chat-tool-calls-200.json": ("openai-chat", "mistral", set()),
    "claude-code-cut-mid-call.jsonl": ("claude-code", "anthropic", {"toolu_bdrk_01NNGBKLENmr7j3TfUKZW7rz"}),
    "claude-code-subagents-turn-2.jsonl": ("claude-code", "anthropic", set()),
    "claude-code-subagent-a485154.jsonl": ("claude-code", "anthropic", set()),
    "claude-code-summary-lines.jsonl": ("claude-code", "anthropic", set()),
    "gemini-cli-session.json": ("gemini-cli", "gemini", set()),
    "codex-desktop-0.128-responses.jsonl": ("codex-rollout", "openai", set()),
    "codex-desktop-0.104-developer-between.jsonl": ("codex-rollout", "openai", set()),
    # made here by the real codex-cli binaries on the chat wire (SOURCES.md): judged by OpenAI's chat
    # rules, the release's builder's rejections are the findings
    "codex-0.77.0-chat-8479-real-binary.jsonl": ("codex-rollout", "openai", {"call_1", "call_2"}),
    "codex-0.79.0-chat-text-with-calls-real-binary.jsonl": ("codex-rollout", "openai", {"call_1", "call_2"}),
    "codex-0.125-responses-custom-tools.jsonl": ("codex-rollout", "openai", set()),
}


def test_every_corpus_file_has_a_truth_and_a_source():
    files = sorted(f for f in os.listdir(REAL) if f != "SOURCES.md")
    assert files == sorted(TRUTH)
    sources = open(os.path.join(REAL, "SOURCES.md"), encoding="utf-8").read()
    for f in files:
        assert f"| {f} |" in sources


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_reaches_its_truth(name):
    path = os.path.join(REAL, name)
    before = open(path, "rb").read()
    rep = lint_path(path)
    dialect, provider, problems = TRUTH[name]
    assert rep.error is None, rep.error
    assert (rep.dialect, rep.provider) == (dialect, provider)
    assert {f.call_id for f in rep.findings} == problems
    assert open(path, "rb").read() == before


def test_deepseek_400_is_flagged_with_deepseeks_text():
    rep = lint_path(os.path.join(REAL, "deepseek-responses-interleaved-400.json"))
    assert [f.provider_error for f in rep.findings] == ["No tool output found for tool call call-a."]
    assert rep.findings[0].pointer == "/input/1"
    # OpenAI's Responses API would have accepted the same input
    assert not [f for f in rep.info if f.provider == "openai"]


def test_claude_code_cut_mid_call_names_the_line():
    rep = lint_path(os.path.join(REAL, "claude-code-cut-mid-call.jsonl"))
    assert [(f.rule, f.line) for f in rep.findings] == [("anthropic-missing-result", 25)]


def _between(path: str) -> list[tuple[int, str, int]]:
    """(line, role, line of the call) of every message between a function call and its output."""
    open_calls: dict = {}
    out = []
    for n, line in enumerate(open(path, encoding="utf-8"), start=1):
        row = json.loads(line)
        if row.get("type") != "response_item":
            continue
        it = row["payload"]
        if it.get("type") == "function_call":
            open_calls[it["call_id"]] = n
        elif it.get("type") == "function_call_output":
            open_calls.pop(it["call_id"])
        elif it.get("type") == "message" and open_calls:
            out += [(n, it["role"], at) for at in open_calls.values()]
    return out


def test_codex_desktop_developer_message_between_call_and_output_is_fine_on_responses():
    """Codex Desktop 0.104 records a developer message while a command waits for approval, between
    the call and its output; OpenAI's Responses API accepted the next request (the model answered)."""
    path = os.path.join(REAL, "codex-desktop-0.104-developer-between.jsonl")
    meta = json.loads(open(path, encoding="utf-8").readline())["payload"]
    assert (meta["originator"], meta["cli_version"], meta["model_provider"]) == \
        ("Codex Desktop", "0.104.0-alpha.1", "openai")
    assert _between(path) == [(693, "developer", 691)]  # the shape is really there
    rows = [json.loads(x) for x in open(path, encoding="utf-8")]
    after = [r["payload"].get("role") for r in rows[693:] if r["type"] == "response_item"]
    assert "assistant" in after  # a later request was answered
    rep = lint_path(path)
    assert rep.error is None and rep.provider == "openai" and "responses wire" in rep.provider_why
    assert rep.findings == []
    # the chat builders would put the developer message between the assistant's tool_calls and the
    # tool message: information, with the call named
    assert "call_4jxJEFRewIBvuWaOcDI5P7M7" in {f.call_id for f in rep.info if f.wire == "chat"}
    assert main(["lint", path]) == 0


def test_codex_desktop_0128_is_clean_on_responses():
    path = os.path.join(REAL, "codex-desktop-0.128-responses.jsonl")
    assert _between(path) == []  # this one has no message between a call and its output
    rep = lint_path(path)
    assert rep.findings == [] and rep.info  # clean for OpenAI; chat builders would reject it (information)


def test_stateful_bodies_are_clean_and_their_output_kept():
    for name in ("openai-responses-previous-response-id-200.json", "openai-responses-conversation-200.json"):
        rep = lint_path(os.path.join(REAL, name))
        assert rep.findings == [] and not [f for f in rep.info if f.rule == "responses-orphan-output"]


def test_8479_shape_on_the_v077_chat_builder_gets_the_upgrade_advice(tmp_path):
    src = os.path.join(os.path.dirname(REAL), "lint", "rollout-8479.jsonl")
    lines = open(src, encoding="utf-8").read().splitlines()
    meta = json.loads(lines[0])
    assert meta["type"] == "session_meta"
    meta["payload"]["model_provider"] = "ollama"  # a configured provider: the chat wire
    meta["payload"]["cli_version"] = "0.77.0"
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join([json.dumps(meta)] + lines[1:]) + "\n")
    rep = lint_path(str(p))
    assert {f.design for f in rep.findings} == {"codex-0.77-chat"}
    assert any("upgrade to >= 0.78 (its builder accepts this file)" in a for a in rep.advice)
    assert rep.resume["rescue"] == f"turnproof repair {p} --in-place"
    # the same history on 0.78 is clean
    meta["payload"]["cli_version"] = "0.78.0"
    p.write_text("\n".join([json.dumps(meta)] + lines[1:]) + "\n")
    assert lint_path(str(p)).findings == []


def test_real_0770_rollout_of_8479_is_flagged_with_the_upgrade_advice():
    """The rollout codex-cli 0.77.0 itself wrote for #8479's scenario (three parallel calls, chat wire)."""
    path = os.path.join(REAL, "codex-0.77.0-chat-8479-real-binary.jsonl")
    meta = json.loads(open(path, encoding="utf-8").readline())["payload"]
    assert meta["cli_version"] == "0.77.0" and meta["model_provider"] == "scripted"
    rep = lint_path(path)
    assert "chat wire" in rep.provider_why
    assert {f.design for f in rep.findings} == {"codex-0.77-chat"}
    # the text the real provider answered with (the scripted provider's 400, shown by `reproduce`)
    assert ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            "'tool_call_id'. The following tool_call_ids did not have response messages: call_1") in \
        {f.provider_error for f in rep.findings}
    assert rep.advice == ["rejected by codex 0.77's chat builder (one assistant message per parallel call, "
                          "openai/codex #8479): `turnproof repair` puts each result right after its call, which "
                          "it sends; or upgrade to >= 0.78 (its builder accepts this file) or use the Responses wire"]
    # the advice is checked: 0.78's builder accepts this very file
    assert next(b for b in rep.builders if b.design == "codex-0.78-chat").accepted
    assert main(["lint", path]) == 1


def test_real_0790_text_with_calls_rollout_is_flagged_and_told_to_use_responses(tmp_path):
    """codex-cli 0.79.0 with assistant text streamed beside two calls: the text is recorded after the
    calls, and 0.78's grouping puts it between the calls and their results; upgrading within chat does
    not help, the rescue (turnproof/lint/rescue.py) moves the text back before the calls."""
    path = os.path.join(REAL, "codex-0.79.0-chat-text-with-calls-real-binary.jsonl")
    rows = [json.loads(x) for x in open(path, encoding="utf-8")]
    kinds = [(r["payload"].get("type"), r["payload"].get("role")) for r in rows if r["type"] == "response_item"]
    i = kinds.index(("function_call", None))
    assert kinds[i:i + 5] == [("function_call", None), ("function_call", None), ("message", "assistant"),
                              ("function_call_output", None), ("function_call_output", None)]
    rep = lint_path(path)
    assert {f.design for f in rep.findings} == {"codex-0.78-chat"}
    assert ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            "'tool_call_id'. The following tool_call_ids did not have response messages: call_1, call_2") in \
        {f.provider_error for f in rep.findings}
    assert len(rep.advice) == 1 and "moves the text before the calls" in rep.advice[0]
    assert rep.resume["resumable"] is False and rep.resume["rescue"]
    # and that is so: 0.79's builder accepts the repaired file
    out = tmp_path / "repaired.jsonl"
    assert main(["repair", path, "-o", str(out)]) == 0
    fixed = lint_path(str(out))
    assert fixed.findings == [] and fixed.resume["resumable"] is True


@pytest.mark.real_codex
@pytest.mark.slow
@pytest.mark.parametrize("name,scenario,version", [
    ("codex-0.77.0-chat-8479-real-binary.jsonl", "8479", "0.77.0"),
    ("codex-0.79.0-chat-text-with-calls-real-binary.jsonl", "text-with-calls", "0.79.0"),
])
def test_the_real_binary_rollouts_are_made_again_the_same(codex, capsys, tmp_path, name, scenario, version):
    """SOURCES.md's command, run again: the rollout codex-cli writes now has the committed file's items
    and lints the same (ids, lines, advice)."""
    import glob

    codex(version)
    assert main(["reproduce", scenario, "--codex", version, "--dir", str(tmp_path)]) == 1
    capsys.readouterr()
    (made,) = glob.glob(str(tmp_path / "home" / "sessions" / "*" / "*" / "*" / "rollout-*.jsonl"))

    def items(p):
        rows = [json.loads(x) for x in open(p, encoding="utf-8")]
        return [(r["payload"].get("type"), r["payload"].get("role"), r["payload"].get("call_id"))
                for r in rows if r["type"] == "response_item"]

    kept = os.path.join(REAL, name)
    assert items(made) == items(kept)
    a, b = lint_path(made), lint_path(kept)
    assert [(f.rule, f.call_id, f.line) for f in a.findings] == [(f.rule, f.call_id, f.line) for f in b.findings]
    assert a.advice == b.advice
