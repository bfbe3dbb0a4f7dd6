"""The real codex-cli binary as a second reference (turnproof/realcodex).

The provider tests need no binary: the scripted server's wire format and its verdicts, read back
with the standard library's HTTP client. The `real_codex` tests fetch codex-cli releases from npm
once (cached outside the repository, see turnproof/realcodex/binary.py) and run them in a
loopback-only network namespace; they skip, with the reason, only when npm cannot reach the
registry. They are also marked slow, so `-m "not slow"` stays quick; .ci/run runs them.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse

import pytest

from turnproof.cli import main
from turnproof.model.provider import CHAT_MISSING
from turnproof.realcodex.provider import Call, Reply, ScriptedProvider, Text

CHAT_8479 = CHAT_MISSING.format(ids="call_1")


def _post(base: str, path: str, body: dict):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", u.path + path, json.dumps(body), {"Content-Type": "application/json"})
    return c.getresponse()


@pytest.fixture
def provider(tmp_path):
    def make(script):
        p = ScriptedProvider(script, str(tmp_path))
        base = p.start()
        made.append(p)
        return p, base
    made: list = []
    yield make
    for p in made:
        p.stop()


def test_provider_rejects_8479_with_openai_error_envelope(provider):
    p, base = provider([])
    msgs = [{"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                                   "function": {"name": "shell", "arguments": "{}"}}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_2", "type": "function",
                                                                   "function": {"name": "shell", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a"},
            {"role": "tool", "tool_call_id": "call_2", "content": "b"}]
    r = _post(base, "/chat/completions", {"model": "m", "messages": msgs, "stream": True})
    assert r.status == 400
    err = json.loads(r.read())["error"]
    assert err == {"message": CHAT_8479, "type": "invalid_request_error", "param": "messages.[2].role", "code": None}
    assert p.requests[0]["status"] == 400 and p.requests[0]["rejections"][0]["call_ids"] == ["call_1"]


def test_provider_streams_chat_calls_then_finish_reason_then_done(provider):
    p, base = provider([Reply([Text("hi"), Call("call_1"), Call("call_2")])])
    r = _post(base, "/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "go"}],
                                          "tools": [{"type": "function", "function": {"name": "shell"}}]})
    assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
    data = [ln[6:] for ln in r.read().decode().splitlines() if ln.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    finish = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finish[-1] == "tool_calls" and not any(finish[:-1])
    ids = [tc["id"] for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", []) if "id" in tc]
    assert ids == ["call_1", "call_2"]
    args = "".join(tc["function"].get("arguments", "") for c in chunks
                   for tc in c["choices"][0]["delta"].get("tool_calls", []))
    assert '"bash", "-lc"' in args and p.tool_choice == "shell"


def test_provider_responses_events_and_a_dropped_connection(provider):
    p, base = provider([Reply([Call("call_1")]), Reply([Call("call_2")], end="close")])
    r = _post(base, "/responses", {"model": "m", "input": [], "tools": [{"type": "function", "name": "shell_command"}]})
    events = [ln[7:] for ln in r.read().decode().splitlines() if ln.startswith("event: ")]
    assert events == ["response.created", "response.output_item.done", "response.completed"]
    r = _post(base, "/responses", {"model": "m", "input": []})
    with pytest.raises(http.client.IncompleteRead):  # no terminating chunk: a transport error
        r.read()


def test_provider_responses_rejects_a_call_without_output(provider):
    p, base = provider([])
    r = _post(base, "/responses", {"input": [{"type": "function_call", "call_id": "call_9", "name": "shell",
                                              "arguments": "{}"}]})
    assert r.status == 400
    assert json.loads(r.read())["error"]["message"] == "No tool output found for function call call_9."


# ---- the real binary ---------------------------------------------------------------------------

def _reproduce(capsys, tmp_path, scenario: str, version: str) -> tuple:
    rc = main(["reproduce", scenario, "--codex", version, "--dir", str(tmp_path)])
    return rc, capsys.readouterr().out



@pytest.mark.real_codex
@pytest.mark.slow
def test_8479_on_0_77_0_dies_and_stays_dead(codex, capsys, tmp_path):
    codex("0.77.0")
    rc, out = _reproduce(capsys, tmp_path, "8479", "0.77.0")
    assert rc == 1, out
    assert out.count(CHAT_8479) == 2, out  # the session, then `codex exec resume --last`
    assert "[4] assistant tool_calls=[call_1]\n" in out and "[5] assistant tool_calls=[call_2]\n" in out


@pytest.mark.real_codex
@pytest.mark.slow
def test_8479_on_0_79_0_works(codex, capsys, tmp_path):
    codex("0.79.0")
    rc, out = _reproduce(capsys, tmp_path, "8479", "0.79.0")
    assert rc == 0, out
    assert "assistant tool_calls=[call_1, call_2, call_3]" in out and "REJECTED" not in out


@pytest.mark.real_codex
@pytest.mark.slow
def test_text_with_calls_on_0_79_0_dies(codex, capsys, tmp_path):
    codex("0.79.0")
    rc, out = _reproduce(capsys, tmp_path, "text-with-calls", "0.79.0")
    assert rc == 1, out
    # the held text lands between the call group and its results
    assert re.search(r"\[4\] assistant tool_calls=\[call_1, call_2\]\n\s+\[5\] assistant 'I will run", out), out
    assert CHAT_MISSING.format(ids="call_1, call_2") in out


@pytest.mark.real_codex
@pytest.mark.slow
def test_crash_on_0_79_0_dies_after_resume(codex, capsys, tmp_path):
    codex("0.79.0")
    rc, out = _reproduce(capsys, tmp_path, "crash", "0.79.0")
    assert rc == 1, out
    assert "SIGKILL after" in out
    resumed = out.split("process 2", 1)[1]
    lines = [ln.split("] ", 1)[1] for ln in resumed.splitlines() if re.match(r"\s+\[\d+\] ", ln)]
    assert lines[1:6] == ["assistant tool_calls=[call_1, call_2]", "tool call_2: 'aborted'",
                          "assistant tool_calls=[call_3]", "tool call_3: 'aborted'", lines[5]], lines
    assert lines[5].startswith("tool call_1: ") and CHAT_8479 in resumed


@pytest.mark.real_codex
@pytest.mark.slow
def test_stream_error_after_tools_loses_results_on_0_77_0_not_on_0_122_0(codex, capsys, tmp_path):
    codex("0.77.0")
    codex("0.122.0")
    rc, out = _reproduce(capsys, tmp_path / "a", "stream-error-after-tools", "0.77.0")
    assert rc == 1, out
    assert "output was never recorded: call_1, call_2, call_3" in out
    assert "function_call_output call_1: 'aborted'" in out  # the model is told it was aborted: it ran
    rc, out = _reproduce(capsys, tmp_path / "b", "stream-error-after-tools", "0.122.0")
    assert rc == 0, out
    assert "outputs recorded: call_1, call_2, call_3, call_4, call_5, call_6" in out


@pytest.mark.real_codex
@pytest.mark.slow
def test_a_release_that_does_not_exist_exits_2_with_one_line(codex, capsys, tmp_path):
    codex("0.77.0")  # skips when the registry is out of reach
    rc = main(["reproduce", "8479", "--codex", "0.78.0", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "codex-cli 0.78.0 cannot be had" in err, err
