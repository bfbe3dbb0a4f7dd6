"""turnproof repair on rollouts, for the loop that resumes them (turnproof/lint/rescue.py).

The loop is read from session_meta (cli_version, model_provider), or named with --for. Each test
checks the file written line by line, then that lint finds the result resumable by that release,
and that repairing again changes nothing.
"""

from __future__ import annotations

import json
import os

from tests.test_lint_helpers import lint_json, rollout_text, run
from turnproof.lint.repair import MARKER
from turnproof.lint.rescue import MOVED


def rollout(tmp_path, spec: str, version: str | None = "0.77.0", provider: str | None = "ollama",
            name: str = "rollout.jsonl") -> str:
    lines = rollout_text(spec).splitlines()
    meta = json.loads(lines[0])
    if version:
        meta["payload"]["cli_version"] = version
    if provider:
        meta["payload"]["model_provider"] = provider
    p = tmp_path / name
    p.write_text("\n".join([json.dumps(meta)] + lines[1:]) + "\n")
    return str(p)


def history(path: str) -> list[str]:
    """The file's items in the helper's short form (U, T, Cn, On; S for a synthetic result)."""
    out = []
    for raw in open(path, encoding="utf-8").read().splitlines():
        d = json.loads(raw)
        p = d["payload"]
        if d["type"] != "response_item":
            continue
        t = p["type"]
        if t == "message":
            out.append("U" if p["role"] == "user" else "T")
        elif t == "function_call":
            out.append("C" + p["call_id"][5:])
        elif t == "function_call_output":
            out.append(("S" if p.get(MARKER) else "O") + p["call_id"][5:])
        elif t == "reasoning":
            out.append("R")
    return out


def repair(capsys, path: str, *more) -> tuple[int, str, str]:
    return run(capsys, "repair", path, *more)


def rescued(capsys, tmp_path, path: str, *more) -> tuple[str, str]:
    out = str(tmp_path / "out.jsonl")
    code, text, err = repair(capsys, path, "-o", out, *more)
    assert code == 0 and err == "", (text, err)
    again = str(tmp_path / "again.jsonl")
    assert repair(capsys, out, "-o", again, *more)[0] == 0
    assert open(again, "rb").read() == open(out, "rb").read()  # idempotent
    return out, text


def test_8479_on_077_chat_each_result_after_its_call(capsys, tmp_path):
    src = rollout(tmp_path, "U X C1 C2 C3 O1 O2 O3")
    out, text = rescued(capsys, tmp_path, src)
    assert "resumed by codex 0.77 on the chat wire (one assistant message per call)" in text
    assert "cli_version 0.77.0, chat wire" in text
    assert "line 7: moved result for call_1 after line 4" in text
    assert history(out) == ["U", "C1", "O1", "C2", "O2", "C3", "O3"]
    moved = [json.loads(x) for x in open(out).read().splitlines() if MOVED in x]
    assert [m["payload"][MOVED]["line"] for m in moved] == [7, 8, 9]
    # a moved line takes the timestamp of the line it follows; its own is kept in the marker
    stamps = [json.loads(x)["timestamp"] for x in open(out).read().splitlines()]
    assert stamps == sorted(stamps)
    assert moved[0]["payload"][MOVED]["timestamp"] == "2025-12-20T10:00:05.000Z"
    code, doc = lint_json(capsys, out)
    assert code == 0 and doc["files"][0]["resume"]["resumable"] is True
    code, doc = lint_json(capsys, src)
    res = doc["files"][0]["resume"]
    assert code == 1 and res["resumable"] is False and res["rescue"] == f"turnproof repair {src} --in-place"


def test_held_text_on_079_chat_goes_before_the_group(capsys, tmp_path):
    src = rollout(tmp_path, "U X R C1 C2 T O1 O2 U", version="0.79.0")
    out, text = rescued(capsys, tmp_path, src)
    assert "line 7: moved assistant text after line 4, before its call group" in text
    assert history(out) == ["U", "R", "T", "C1", "C2", "O1", "O2", "U"]
    code, out_text, _ = run(capsys, "lint", out)
    assert code == 0 and "can be resumed as it is" in out_text


def test_crash_mid_drain_on_079_chat_synthetic_results_after_the_group(capsys, tmp_path):
    src = rollout(tmp_path, "U X C1 C2 C3 T O1 E U", version="0.79.0")
    out, text = rescued(capsys, tmp_path, src)
    assert history(out) == ["U", "T", "C1", "C2", "C3", "O1", "S2", "S3", "U"]
    assert "added synthetic result for call_2 after line 8" in text
    lines = open(out).read().splitlines()
    assert json.loads(lines[10])["payload"]["type"] == "token_count"  # the event stays after the group
    code, doc = lint_json(capsys, out)
    assert code == 0


def test_the_same_crash_on_077_chat_interleaves(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 C2 C3 O1", version="0.77.0")
    out, _ = rescued(capsys, tmp_path, src)
    assert history(out) == ["U", "C1", "O1", "C2", "S2", "C3", "S3"]


def test_for_names_the_loop_whatever_session_meta_says(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 C2 O1 O2", provider=None)  # openai: the Responses wire
    out, text = rescued(capsys, tmp_path, src)
    assert "codex 0.77 on the Responses wire" in text and history(out) == ["U", "C1", "C2", "O1", "O2"]
    out, text = rescued(capsys, tmp_path, src, "--for", "codex-0.77-chat")
    assert "[--for codex-0.77-chat]" in text and history(out) == ["U", "C1", "O1", "C2", "O2"]


def test_for_takes_a_design_file(capsys, tmp_path):
    f = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "designs",
                     "pr-8556.toml")  # the 0.78 grouping as a design file
    src = rollout(tmp_path, "U C1 C2 T O1 O2")
    out, text = rescued(capsys, tmp_path, src, "--for", f)
    assert history(out) == ["U", "T", "C1", "C2", "O1", "O2"]


def test_two_different_results_for_a_call_cannot_be_rescued(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 O1 O1")
    lines = open(src).read().splitlines()
    d = json.loads(lines[-1])
    d["payload"]["output"] = "something else"
    open(src, "w").write("\n".join(lines[:-1] + [json.dumps(d)]) + "\n")
    out = tmp_path / "out.jsonl"
    code, text, err = repair(capsys, src, "-o", out)
    assert code == 1 and not out.exists()
    assert f"{src}:5: cannot be rescued for codex 0.77 on the chat wire" in text
    assert "call_1 has two different results (lines 4 and 5)" in text
    code, text, err = repair(capsys, src, "--in-place", "--json")
    doc = json.loads(text)
    assert code == 1 and doc["rescued"] is False and doc["upgrade"] is None
    assert not os.path.exists(src + ".bak")


def test_a_copy_of_a_result_goes_and_our_synthetic_result_gives_way(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 O1 O1 C2 O2")
    out, text = rescued(capsys, tmp_path, src)
    assert "line 5: dropped second result for call_1: it says what the first says" in text
    assert history(out) == ["U", "C1", "O1", "C2", "O2"]
    # a synthetic result turnproof added, then the real one shows up (recorded late)
    src = rollout(tmp_path, "U C1 C2 O1 U O2", version="0.79.0", name="b.jsonl")
    first, _ = rescued(capsys, tmp_path, src)
    assert history(first) == ["U", "C1", "C2", "O1", "O2", "U"]
    lines = open(src).read().splitlines()
    syn = json.loads(lines[-1])
    syn["payload"][MARKER] = True
    syn["payload"]["output"] = "aborted (synthetic)"
    late = json.loads(lines[-1])
    open(src, "w").write("\n".join(lines[:5] + [json.dumps(syn)] + lines[5:]) + "\n")
    assert history(src) == ["U", "C1", "C2", "O1", "S2", "U", "O2"]
    out, text = rescued(capsys, tmp_path, src)
    assert "dropped the synthetic result turnproof had added for call_2" in text
    assert history(out) == ["U", "C1", "C2", "O1", "O2", "U"] and late["payload"]["output"] in open(out).read()


def test_orphan_goes_and_is_reported(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 O9 O1")
    out, text = rescued(capsys, tmp_path, src)
    assert "line 4: dropped result for call_9: no call has its id" in text
    assert history(out) == ["U", "C1", "O1"]


def test_in_place_keeps_a_backup_and_is_idempotent(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 C2 O1 O2")
    before = open(src, "rb").read()
    code, text, _ = repair(capsys, src, "--in-place")
    assert code == 0 and f"the original is kept at {src}.bak" in text
    assert open(src + ".bak", "rb").read() == before
    code, text, _ = repair(capsys, src, "--in-place")
    assert code == 0 and "nothing to repair; file left as it was" in text


def test_stdout(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 C2 O1 O2")
    code, text, err = repair(capsys, src, "-o", "-")
    assert code == 0
    assert [json.loads(x)["payload"].get("call_id") for x in text.splitlines()[2:]] == \
        ["call_1", "call_1", "call_2", "call_2"]
    assert "resumed by codex 0.77 on the chat wire" in err


def test_mistral_user_after_results_has_no_order(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 O1", version="0.79.0", provider="mistral")
    code, text, _ = repair(capsys, src, "-o", tmp_path / "out.jsonl")
    assert code == 1
    assert "Unexpected role 'user' after role 'tool'" in text and "no Codex release sends it to this provider" in text
    code, doc = lint_json(capsys, src)
    assert "no order of its history is sent by it" in doc["files"][0]["resume"]["text"]


def test_for_on_a_request_body_is_a_usage_error(capsys, tmp_path):
    from tests.test_lint_helpers import DATA
    code, _, err = repair(capsys, os.path.join(DATA, "responses-8479-input.json"), "-o", tmp_path / "o.json",
                          "--for", "codex-0.77-chat")
    assert code == 2 and "--for names the loop that resumes a Codex rollout" in err
    assert not (tmp_path / "o.json").exists()


def test_unknown_design_is_a_usage_error(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 O1")
    code, _, err = repair(capsys, src, "-o", tmp_path / "o.jsonl", "--for", "codex-9-chat")
    assert code == 2 and "unknown design 'codex-9-chat'" in err


def test_a_chat_session_without_a_release_gets_the_layout_every_chat_builder_sends(capsys, tmp_path):
    src = rollout(tmp_path, "U C1 C2 T O1 O2", version=None)
    out, text = rescued(capsys, tmp_path, src)
    assert "no release recorded: laid out for the per-call builder" in text
    assert history(out) == ["U", "T", "C1", "O1", "C2", "O2"]  # held text before the group, as in every layout
    for d in ("codex-0.77-chat", "codex-0.78-chat"):
        code, doc = lint_json(capsys, out, "--design", d)
        assert code == 0, doc
