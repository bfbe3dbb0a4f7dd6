"""`turnproof fuzz`: a repair function checked on loop histories and their mutations (turnproof/fuzz.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import textwrap

import pytest

from turnproof.cli import main
from turnproof.fuzz import MUTATIONS, Judge, Repair, fuzz, lost_content, mutate
from turnproof.model import items as I
from turnproof.model.designs import NAMED
from turnproof.model.normalize import normalize
from turnproof.model.turnloop import Params
from turnproof.resolve import resolve_design

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPAIRS = os.path.join(ROOT, "examples", "repairs")
CHAT_MISSING = ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                "'tool_call_id'. The following tool_call_ids did not have response messages: call_1")


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def splits_a_group_at_call_plus_one(before: tuple, after: tuple) -> bool:
    """``after`` holds an "aborted" output Codex put right after its call, between that call and an
    earlier one of the same group."""
    return any(it[0] == I.OUTPUT and it[2] == I.CODEX_ABORTED and it not in before
               and after[k - 1] == I.call(it[1]) and after[k - 2][0] == I.CALL
               for k, it in enumerate(after) if k >= 2)


@pytest.mark.slow
def test_fuzz_finds_codex_normalization_at_call_plus_one_on_the_078_chat_grouping():
    """The default budget, on the Codex port as a hook: the explorer's histories alone find it."""
    code, out, err = run("fuzz", "--design", os.path.join(REPAIRS, "codex.toml"))
    assert code == 1, err
    assert "accepted      FAIL" in out
    assert CHAT_MISSING in out
    # the kind where the repair changed the history: "aborted" at call+1 splits the call group
    assert "FAIL accepted (chat-missing-tool-response, changed; from the explorer)" in out
    assert "O2(aborted)" in out.split("changed; from the explorer")[1].split("\n")[2]


def test_the_call_plus_one_failure_in_the_library_result():
    d = resolve_design(os.path.join(REPAIRS, "codex.toml"))
    names = dict(d.hooks.names)
    res = fuzz(Repair(d.hooks.repair, names["shape"], d.chat_grouping, names["repair"]), d, d, Params(text=False),
               examples=0)
    fs = res.failures["accepted"]
    assert fs and all(f.rejection.rule == "chat-missing-tool-response" for f in fs)
    changed = [f for f in fs if f.after != f.before]
    assert changed and splits_a_group_at_call_plus_one(changed[0].before, changed[0].after), \
        [(I.show_all(f.before), I.show_all(f.after)) for f in fs]
    assert I.show_all(changed[0].before) == "[U,C1,C2,C3,O1]"  # the shortest: three calls, one drained


@pytest.mark.slow
@pytest.mark.parametrize("argv", [
    ["--design", "turnproof-proposed"],  # the model's own function (what `turnproof repair` runs)
    ["--design", os.path.join(REPAIRS, "turnproof-proposed.toml")],  # the port, as a hook
    ["--repair", "turnproof.model.normalize:normalize_ours", "--design", "turnproof-proposed", "--wire", "anthropic"],
])
def test_fuzz_finds_nothing_wrong_with_turnproof_proposeds_repair(argv):
    code, out, err = run("fuzz", *argv)
    assert code == 0, out + err
    assert out.count(" ok ") == 4
    assert "mutated histories tried" in out and " 0 mutated" not in out


@pytest.mark.slow
def test_mutations_are_shrunk_to_a_small_history(monkeypatch):
    """deepagents' patch answers every dangling call the loop leaves but never drops an orphan
    result, which the loop never makes: only a mutation finds it, shrunk to one item."""
    monkeypatch.chdir(REPAIRS)
    # one round of calls: the loop histories of --rounds 2 seed mutations whose shrinking stops at three
    # items ([C2,O1,O2] with its call_1 dropped), where one orphan result is what this test is about
    code, out, err = run("fuzz", "--repair", "deepagents_patch_tool_calls:patch", "--design", "turnproof-proposed",
                         "--calls", "2", "--rounds", "1")
    assert code == 1, err
    assert "results-kept  ok" in out and "content-kept  ok" in out and "idempotent    ok" in out
    fail = out.split("FAIL accepted")[1]
    assert "a mutation of" in fail.split("\n")[0]
    before = fail.split("before: ")[1].split("\n")[0]
    assert before.count(",") <= 1 and "O" in before and "C" not in before, before  # an orphan result, or two items
    assert "must be a response to a preceeding message with 'tool_calls'" in fail


def test_content_and_results_and_idempotence_are_judged(tmp_path, monkeypatch):
    src = """
    def lossy(h):
        # drops every result and every assistant message: accepted, but nothing kept
        return [x for x in h if x.get("type") == "message" and x.get("role") == "user"]

    def flips(h):
        # not idempotent: adds a marker the first time, removes it the second
        marker = {"type": "message", "role": "user", "content": "marker"}
        return [x for x in h if x != marker] if marker in h else h + [marker]
    """
    (tmp_path / "bad_repairs_mod.py").write_text(textwrap.dedent(src))
    monkeypatch.chdir(tmp_path)
    code, out, err = run("fuzz", "--repair", "bad_repairs_mod:lossy", "--design", "codex-0.122-responses",
                         "--calls", "1", "--examples", "0")
    assert code == 1
    assert "results-kept  FAIL" in out and "content-kept  FAIL" in out and "accepted      ok" in out
    code, out, err = run("fuzz", "--repair", "bad_repairs_mod:flips", "--design", "codex-0.122-responses",
                         "--calls", "1", "--examples", "0")
    assert code == 1 and "idempotent    FAIL" in out and "again:" in out


def test_a_bad_repair_in_fuzz_is_one_line_and_exit_2(tmp_path, monkeypatch):
    (tmp_path / "raising_mod.py").write_text("def r(h):\n    raise KeyError('call_id')\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run("fuzz", "--repair", "raising_mod:r", "--design", "codex-0.122-responses", "--calls", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--repair: repair hook raising_mod:r raised KeyError: 'call_id' at " in err
    code, out, err = run("fuzz", "--repair", "no_such_mod_xyz:r", "--design", "codex-0.122-responses")
    assert code == 2 and "cannot import 'no_such_mod_xyz'" in err
    code, out, err = run("fuzz", "--calls", "1")
    assert code == 2 and "give --design" in err


def test_mutate_keeps_call_ids_unique_and_renames_to_fresh_ids():
    h = (I.user(), I.call(1), I.call(2), I.output(1), I.output(2))
    for op in MUTATIONS:
        for i in range(6):
            m = mutate(h, ((op, i, 2),))
            calls = [it[1] for it in m if it[0] == I.CALL]
            assert len(calls) == len(set(calls)), (op, i, I.show_all(m))
    assert mutate(h, (("rename", 1, 0),))[1] == I.call(103)
    assert mutate(h, (("orphan", 0, 0),))[0] == I.output(103)
    assert mutate((), (("drop", 3, 0), ("move", 1, 1))) == ()


def test_lost_content_names_what_went():
    given = (I.user(), I.text(), I.call(1), I.output(1))
    assert lost_content(given, given) is None
    assert lost_content(given, (I.user(), I.call(1), I.output(1))) == "dropped T"
    assert lost_content(given, (I.user(), I.call(1), I.text(), I.output(1))).startswith("moved")
    assert lost_content((I.user(), I.text(I.EMPTY)), (I.user(),)) is None  # an empty text carries nothing


def test_judge_uses_the_designs_builder():
    j = Judge(NAMED["codex-0.77-chat"])
    assert j.accepted((I.user(), I.call(1), I.call(2), I.output(1), I.output(2)))[0] == "chat-missing-tool-response"
    assert Judge(NAMED["codex-0.78-chat"]).accepted((I.user(), I.call(1), I.call(2), I.output(1), I.output(2))) is None
    r = Repair(lambda h: normalize(h, "ours"), None, "response", "ours")
    assert r.given((I.reasoning(),)) == (I.reasoning(),)


def test_fuzz_json_document(tmp_path):
    code, out, err = run("fuzz", "--design", os.path.join(REPAIRS, "codex.toml"), "--calls", "3", "--no-text",
                         "--examples", "20", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["kind"] == "fuzz" and doc["holds"] is False
    f = doc["checks"]["accepted"]["failures"][0]
    assert f["rule"] == "chat-missing-tool-response" and f["provider_error"] == CHAT_MISSING
    assert f["before_shape"][0] == {"type": "message", "role": "user", "content": "user message"}
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.load(open(os.path.join(ROOT, "docs", "turnproof.schema.json"), encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)
