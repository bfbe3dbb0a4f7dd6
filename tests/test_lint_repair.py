"""turnproof repair: normalize_ours_report mapped onto a rollout's lines."""

from __future__ import annotations

import copy
import json
import os
import shutil

from turnproof.model.normalize import normalize_ours
from tests.test_lint_helpers import DATA, lint_json, rollout_text, run, write_rollout
from turnproof.lint.repair import MARKER
from turnproof.lint.rollout import RolloutReader


def lines(p) -> list[dict]:
    return [json.loads(x) for x in open(p, encoding="utf-8").read().splitlines() if x.strip()]


def items(p) -> tuple:
    """The file's history as (kind, call id) pairs."""
    out = []
    for ch in RolloutReader(str(p)).chunks():
        out += [(k, c) for k, c, _ in ch.items]
    return tuple(out)


def repaired(capsys, tmp_path, src: str, *extra) -> tuple[str, str]:
    out = tmp_path / "out.jsonl"
    code, text, err = run(capsys, "repair", src, "-o", out, *extra)
    assert code == 0 and err == "", err
    return str(out), text


def assert_clean_and_fixed(capsys, tmp_path, out: str) -> None:
    code, doc = lint_json(capsys, out)
    assert code == 0 and doc["files"][0]["findings"] == []
    again = tmp_path / "again.jsonl"
    assert run(capsys, "repair", out, "-o", again)[0] == 0
    assert again.read_bytes() == open(out, "rb").read()  # idempotent


def test_crash_partial_gets_a_marked_synthetic_result_after_its_group(capsys, tmp_path):
    src = os.path.join(DATA, "rollout-crash-partial.jsonl")
    before = open(src, "rb").read()
    out, text = repaired(capsys, tmp_path, src)
    assert "added synthetic result for call_B2 after line 9" in text
    got = lines(out)
    assert len(got) == len(lines(src)) + 1
    syn = got[9]
    assert syn["type"] == "response_item" and syn["payload"]["call_id"] == "call_B2"
    assert syn["payload"][MARKER] is True and "synthetic" in syn["payload"]["output"]
    assert syn["payload"]["type"] == "function_call_output"
    assert open(src, "rb").read() == before
    assert_clean_and_fixed(capsys, tmp_path, out)
    code, doc = lint_json(capsys, out)
    assert all(b["accepted"] for b in doc["files"][0]["builders"] if b["design"] != "codex-0.77-chat")


def test_orphan_is_dropped_and_reported(capsys, tmp_path):
    src = os.path.join(DATA, "rollout-orphan.jsonl")
    out, text = repaired(capsys, tmp_path, src)
    assert "line 4: dropped result for call_ghost: no call for it anywhere in the history" in text
    assert [x for x in lines(src) if x["payload"].get("call_id") != "call_ghost"] == lines(out)
    assert_clean_and_fixed(capsys, tmp_path, out)


# for turnproof-proposed's chat (`--for turnproof-proposed`) results follow their call group: repair
# moves them (on OpenAI's Responses wire a late result is accepted where it is and stays)
PROPOSED = ("--for", "turnproof-proposed")


def test_result_recorded_after_a_user_message_moves_up(capsys, tmp_path):
    src = os.path.join(DATA, "rollout-result-after-user.jsonl")
    out, text = repaired(capsys, tmp_path, src, *PROPOSED)
    assert "line 10: moved result for call_F2 up, after line 7" in text
    raw_in = open(src).read().splitlines()
    raw_out = open(out).read().splitlines()
    assert len(raw_in) == len(raw_out) and raw_out[8] == raw_in[7]
    # the moved line takes the timestamp of the line it now follows; its own is kept beside it
    moved, orig = json.loads(raw_out[7]), json.loads(raw_in[9])
    assert moved["payload"].pop("turnproof_moved") == {"line": 10, "timestamp": orig["timestamp"]}
    assert moved["timestamp"] == json.loads(raw_in[6])["timestamp"] and moved["payload"] == orig["payload"]
    assert sorted(x for k, x in enumerate(raw_in) if k != 9) == sorted(x for k, x in enumerate(raw_out) if k != 7)
    stamps = [json.loads(x)["timestamp"] for x in raw_out]
    assert stamps == sorted(stamps)  # the file stays in time order
    assert_clean_and_fixed(capsys, tmp_path, out)


def test_torn_line_is_dropped_and_reported(capsys, tmp_path):
    src = os.path.join(DATA, "rollout-torn.jsonl")
    out, text = repaired(capsys, tmp_path, src)
    assert "line 7: dropped torn line" in text
    assert open(out).read() == "".join(open(src).readlines()[:6])
    assert_clean_and_fixed(capsys, tmp_path, out)


def test_user_and_assistant_content_is_never_dropped_or_changed(capsys, tmp_path):
    spec = "U R C1 K2 C3 T O3 U E O1 X R C4 O9 T O4 O4 U"
    src = write_rollout(tmp_path, spec, "in.jsonl")
    out, text = repaired(capsys, tmp_path, src, *PROPOSED)
    keep = lambda p: [x for x in open(p).read().splitlines() if '"_output"' not in x and "_output" not in x]
    assert keep(src) == keep(out)  # every non-result line, byte for byte, in order
    got = tuple((k, c, None) for k, c in items(out))
    assert normalize_ours(got) == got  # every call answered right after its group
    syn = [x for x in lines(out) if x["payload"].get(MARKER)]
    assert [(x["payload"]["type"], x["payload"]["call_id"]) for x in syn] == [("custom_tool_call_output", "call_2")]
    assert "dropped second result for call_4" in text and "dropped result for call_9" in text
    assert_clean_and_fixed(capsys, tmp_path, out)


def test_in_place_keeps_a_backup_and_says_where(capsys, tmp_path):
    p = tmp_path / "rollout.jsonl"
    shutil.copy(os.path.join(DATA, "rollout-crash-partial.jsonl"), p)
    before = p.read_bytes()
    code, text, err = run(capsys, "repair", p, "--in-place")
    assert code == 0 and f"the original is kept at {p}.bak" in text
    assert (tmp_path / "rollout.jsonl.bak").read_bytes() == before
    assert p.read_bytes() != before
    code, text, err = run(capsys, "repair", p, "--in-place")
    assert code == 0 and "nothing to repair" in text
    assert sorted(os.listdir(tmp_path)) == ["rollout.jsonl", "rollout.jsonl.bak"]


def test_clean_file_is_copied_unchanged(capsys, tmp_path):
    src = os.path.join(DATA, "rollout-8479.jsonl")
    out, text = repaired(capsys, tmp_path, src)
    assert open(out, "rb").read() == open(src, "rb").read() and "nothing to repair" in text


def test_repair_json_lists_the_edits(capsys, tmp_path):
    src = write_rollout(tmp_path, "U C1 C2 O2 U O7", "in.jsonl")
    code, text, err = run(capsys, "repair", src, "-o", tmp_path / "o.jsonl", "--json")
    doc = json.loads(text)
    assert code == 0 and doc["backup"] is None
    assert doc["edits"] == [{"op": "drop-orphan", "call_id": "call_7", "line": 7, "after": None},
                            {"op": "synthesize", "call_id": "call_1", "line": None, "after": 5}]


def test_compacted_history(capsys, tmp_path):
    comp = {"timestamp": "t", "type": "compacted", "payload": {"message": "summary", "replacement_history": [
        {"type": "message", "role": "user", "content": []},
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "call_r1"}]}}
    p = tmp_path / "c.jsonl"
    p.write_text(rollout_text("U C1 O1") + json.dumps(comp) + "\n" + rollout_text("O2 U").split("\n", 1)[1])
    code, doc = lint_json(capsys, p)
    got = {(f["rule"], f["call_id"], f["line"]) for f in doc["files"][0]["findings"]}
    # the history restarts at the compacted line: call_r1 is open there, call_2's result has no call
    assert ("calls-answered", "call_r1", 5) in got and ("no-orphan-results", "call_2", 6) in got
    out = tmp_path / "o.jsonl"
    assert run(capsys, "repair", p, "-o", out)[0] == 0
    assert lint_json(capsys, out)[0] == 0


# ---- OpenAI Responses input lists ----------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

from turnproof.lint.repair import SYNTHETIC_OUTPUT  # noqa: E402
from turnproof.lint.repair_bodies import repair_document  # noqa: E402


def repair_responses(doc, path):
    new, edits, left = repair_document(doc, "openai-responses", path)
    return new, edits
from turnproof.lint.bodies import lint_document  # noqa: E402


def test_responses_body_repair(capsys, tmp_path):
    src = os.path.join(DATA, "responses-body-broken.json")
    out = tmp_path / "fixed.json"
    code, text, err = run(capsys, "repair", src, "-o", out, "--json")
    doc = json.loads(text)
    assert code == 0 and doc["edits"] == [
        {"op": "drop-orphan", "call_id": "call_ghost", "index": 4, "after": None},
        {"op": "synthesize", "call_id": "call_L2", "index": None, "after": 3}]
    fixed = json.loads(out.read_text())
    assert fixed["model"] == "gpt-5" and fixed["input"][-1] == {
        "type": "function_call_output", "call_id": "call_L2", "output": SYNTHETIC_OUTPUT}
    assert lint_json(capsys, out)[0] == 0
    p = tmp_path / "body.json"
    shutil.copy(src, p)
    code, text, err = run(capsys, "repair", p, "--in-place")
    assert code == 0 and f"kept at {p}.bak" in text and (tmp_path / "body.json.bak").read_bytes() == open(src, "rb").read()
    code, text, err = run(capsys, "repair", p, "--in-place")
    assert code == 0 and "nothing to repair" in text and not (tmp_path / "body.json.bak1").exists()


def test_anthropic_results_not_first_are_moved_to_the_front(capsys, tmp_path):
    src = os.path.join(DATA, "anthropic-not-first.json")
    assert lint_json(capsys, src)[0] == 1
    code, out, err = run(capsys, "repair", src, "-o", tmp_path / "o.json")
    assert code == 0, err
    assert lint_json(capsys, tmp_path / "o.json")[0] == 0


@st.composite
def responses_inputs(draw) -> list:
    items: list = []
    ids: list = []
    for _ in range(draw(st.integers(0, 14))):
        k = draw(st.sampled_from(["user", "assistant", "reasoning", "call", "custom", "output", "web"]))
        if k in ("user", "assistant"):
            items.append({"role": k, "content": "x"})
        elif k == "reasoning":
            items.append({"type": "reasoning", "summary": []})
        elif k == "web":
            items.append({"type": "web_search_call", "id": "ws_1", "status": "completed"})
        elif k in ("call", "custom"):
            cid = f"call_{len(ids)}"
            ids.append(cid)
            items.append({"type": "function_call" if k == "call" else "custom_tool_call", "call_id": cid,
                          "name": "f", "arguments": "{}"})
        else:
            cid = draw(st.sampled_from(ids + ["call_ghost", None]))
            items.append({"type": "function_call_output", "call_id": cid, "output": "o"})
    return items


@settings(max_examples=300, deadline=None)
@given(responses_inputs())
def test_responses_repair_is_clean_idempotent_and_keeps_everything_else(inp):
    before = copy.deepcopy(inp)
    doc, edits = repair_responses(inp, "x.json")
    assert lint_document(doc, "openai-responses", "x.json") == []
    assert repair_responses(doc, "x.json")[1] == []
    is_result = lambda x: x.get("type") in ("function_call_output", "custom_tool_call_output")
    assert [x for x in doc if not is_result(x)] == [x for x in inp if not is_result(x)]
    assert inp == before  # the document read is not changed in memory either
