"""Hooks: a user's own functions in place of knobs (turnproof/hooks.py, turnproof/shapes.py).

The hook path is shown equivalent to the built-in one (a Python port of Codex's normalize.rs as a
repair hook gives exactly the verdicts, state counts and shortest counterexamples of the knob
normalization = "codex", and the port of turnproof-proposed's those of "ours"), and every kind of
bad hook is one line and exit 2.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import sys
import textwrap

import pytest

from turnproof.api import turnproof_check
from turnproof.cli import main
from turnproof.designfile import DesignFileError, load_design_file
from turnproof.model import items as I
from turnproof.model import turnloop
from turnproof.model.designs import NAMED, with_knobs
from turnproof.model.normalize import normalize_codex, normalize_ours
from turnproof.model.wire import build_request
from turnproof.shapes import SHAPES, ShapeError, decode, encode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPAIRS = os.path.join(ROOT, "examples", "repairs")
_n = itertools.count()


def unique() -> str:
    """A module name no other test uses (imported modules stay in sys.modules)."""
    return f"hookmod_{os.getpid()}_{next(_n)}"


def design(tmp_path, body: str, module_src: str | None = None, name: str | None = None) -> str:
    """A design file in tmp_path; ``{mod}`` in ``body`` is the module written from ``module_src``."""
    mod = unique()
    if module_src is not None:
        (tmp_path / f"{mod}.py").write_text(textwrap.dedent(module_src))
    path = tmp_path / f"{name or mod}.toml"
    path.write_text(textwrap.dedent(body).replace("{mod}", mod))
    return str(path)


def port(tmp_path, base: str, module: str, fn: str, knobs: str = "") -> str:
    """A design file: ``base`` with a repair hook from examples/repairs, on Responses items."""
    for f in os.listdir(REPAIRS):
        if f.endswith(".py"):
            shutil.copy(os.path.join(REPAIRS, f), tmp_path / f)
    mod = unique()
    shutil.copy(os.path.join(REPAIRS, f"{module}.py"), tmp_path / f"{mod}.py")
    path = tmp_path / f"{mod}.toml"
    path.write_text(f'base = "{base}"\n[knobs]\n{knobs}\n[hooks]\nrepair = "{mod}:{fn}"\nshape = "responses"\n')
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def builtin_check(monkeypatch, design, **kw):
    """The built-in ``design`` checked as one with hooks is: without the third reduction (model/
    turnloop.py), which a hook's access to result texts rules out; tests/test_model_check.py shows
    the reduction changes no verdict or shortest length."""
    with monkeypatch.context() as mp:
        mp.setattr(turnloop, "cancel_reduction_applies", lambda design, params: False)
        return turnproof_check(design, **kw)


def same_check(a, b) -> None:
    assert a.result.states == b.result.states
    assert a.result.edges == b.result.edges
    assert a.verdicts == b.verdicts
    assert {p: a.path_length(p) for p in a.verdicts} == {p: b.path_length(p) for p in b.verdicts}
    assert a.result.sometimes == b.result.sometimes
    for p in a.violated:  # the same counterexample, step by step
        assert [(x, y) for x, y, _ in a.counterexample(p).path] == [(x, y) for x, y, _ in b.counterexample(p).path]


# ---- the hook path is the built-in path ------------------------------------------------------------
# default bounds (calls 3) on chat; the Responses designs at calls 2 (over 200,000 states at 3, twice)
@pytest.mark.parametrize("base,calls", [("codex-0.77-chat", 3), ("codex-0.78-chat", 3),
                                        pytest.param("codex-0.77-responses", 2, marks=pytest.mark.slow),
                                        pytest.param("codex-0.122-responses", 2, marks=pytest.mark.slow)])
def test_codex_port_as_a_repair_hook_equals_normalization_codex(tmp_path, monkeypatch, base, calls):
    hooked = turnproof_check(port(tmp_path, base, "codex_normalize", "normalize"), calls=calls)
    assert hooked.design.hooks and hooked.design.hooks.repair
    same_check(hooked, builtin_check(monkeypatch, base, calls=calls))


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
def test_proposed_port_as_a_repair_hook_equals_normalization_ours(tmp_path, monkeypatch, wire):
    hooked = turnproof_check(port(tmp_path, "turnproof-proposed", "turnproof_proposed", "repair",
                                  f'wire = "{wire}"'))
    same_check(hooked, builtin_check(monkeypatch, "turnproof-proposed", wire=wire))
    assert hooked.holds


def test_equivalence_holds_without_the_reductions_too(tmp_path):
    f = port(tmp_path, "codex-0.78-chat", "codex_normalize", "normalize")
    same_check(turnproof_check(f, calls=2, reduce=False), turnproof_check("codex-0.78-chat", calls=2, reduce=False))


def _random_history(rng: random.Random) -> tuple:
    out = []
    for _ in range(rng.randint(0, 10)):
        cid = rng.randint(1, 4)
        out.append(rng.choice([I.user(), I.text(), I.reasoning(), I.text(I.EMPTY), I.call(cid),
                               I.output(cid, rng.choice(I.ORIGINS))]))
    return tuple(out)


def test_the_ports_equal_the_model_functions_on_random_histories():
    sys.path.insert(0, REPAIRS)
    try:
        import codex_normalize
        import turnproof_proposed
    finally:
        sys.path.remove(REPAIRS)
    rng = random.Random(7)
    for _ in range(3000):
        h = _random_history(rng)
        r = encode(h, "responses")
        assert decode(codex_normalize.normalize(r), "responses") == normalize_codex(h)
        assert decode(turnproof_proposed.repair(r), "responses") == normalize_ours(h)


def test_shapes_round_trip_exactly_on_responses_and_keep_the_body_on_every_wire():
    rng = random.Random(3)
    for _ in range(1500):
        h = _random_history(rng)
        assert decode(encode(h, "responses"), "responses") == h
        for wire, grouping in itertools.product(SHAPES, ("per-call", "consecutive", "response")):
            back = decode(encode(h, wire, grouping), wire)
            assert build_request(back, wire, grouping) == build_request(h, wire, grouping)


def test_a_hooks_own_texts_are_written_tags_and_not_real_results():
    h = decode([{"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "cancelled"},
                {"type": "function_call_output", "call_id": "x", "output": "result of x"}], "responses")
    assert h[1] == I.output(1, I.written("cancelled")) and not I.is_real_output(h[1])
    assert h[2] == I.output("x", I.OK)
    assert encode(h, "responses")[1]["output"] == "cancelled"


@pytest.mark.parametrize("shape,body,where", [
    ("responses", [{"type": "function_call_output", "output": "x"}], "[0]: a function_call_output with no 'call_id'"),
    ("responses", [{"type": "tool_result"}], "[0]: unknown item type 'tool_result'"),
    ("responses", "[]", "expected a list, not str '[]'"),
    ("chat", [{"role": "assistant", "tool_calls": [{"type": "function"}]}], "[0].tool_calls[0]: no 'id'"),
    ("chat", [{"role": "tool", "content": "x"}], "[0]: a 'tool' message with no 'tool_call_id'"),
    ("chat", [{"role": "robot"}], "[0]: unknown role 'robot'"),
    ("anthropic", [{"role": "user", "content": [{"type": "tool_use", "id": "toolu_1"}]}],
     "[0].content[0]: a tool_use block in a user message"),
    ("anthropic", [{"role": "assistant", "content": [{"type": "tool_use", "id": 7}]}],
     "[0].content[0].id: the call id must be a non-empty string, not 7"),
    ("gemini", [{"role": "model", "parts": [{"functionCall": {"name": "shell"}}]}], "[0].parts[0].functionCall: no 'id'"),
    ("bedrock", [{"role": "user", "content": [{"toolResult": {}}]}], "[0].content[0].toolResult: no 'toolUseId'"),
])
def test_wrong_shapes_name_the_element(shape, body, where):
    with pytest.raises(ShapeError) as e:
        decode(body, shape)
    assert str(e.value).startswith(where)


# ---- bad hooks: one line, exit 2 -------------------------------------------------------------------
CHECK = ("--calls", "1", "--faults", "none", "--no-text")
BAD = {
    "exception": ("def repair(h):\n    return h[99]\n", "raised IndexError: list index out of range at "),
    "wrong shape": ("def repair(h):\n    return [{'type': 'function_call_output', 'output': 'x'}]\n",
                    "returned a history that is not a responses body: [0]: a function_call_output with no 'call_id'"),
    "not a list": ("def repair(h):\n    return None\n",
                   "returned a history that is not a responses body: expected a list, not NoneType None"),
    "not JSON": ("def repair(h):\n    return [object()]\n", "returned something that is not JSON-like data"),
    "nondeterministic": ("import itertools\nn = itertools.count()\n"
                         "def repair(h):\n    return h + [{'type': 'message', 'role': 'user', 'content': str(next(n))}]\n",
                         "is not deterministic: given the same history twice, it returned different results"),
    "slow": ("import time\ndef repair(h):\n    time.sleep(30)\n    return h\n",
             "took longer than its time limit of 0.2 s"),
    "infinite loop": ("def repair(h):\n    while True:\n        pass\n", "took longer than its time limit of 0.2 s"),
    "swallows the alarm": ("def repair(h):\n    while True:\n        try:\n            pass\n        except Exception:\n"
                           "            pass\n", "took longer than its time limit of 0.2 s"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_hook_is_one_line_and_exit_2(tmp_path, capsys, kind):
    src, expected = BAD[kind]
    f = design(tmp_path, 'base = "codex-0.122-responses"\n[hooks]\nrepair = "{mod}:repair"\ntimeout = 0.2\n', src)
    code, out, err = run(capsys, "check", "--design", f, *CHECK)
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"turnproof check: error: {f}:3: repair hook ")
    assert expected in err
    assert "(given the history [U])" in err


@pytest.mark.parametrize("src,target,expected", [
    (None, "{mod}:repair", "cannot import '{mod}': no module '{mod}' in "),
    ("import not_a_module_anywhere_xyz\n", "{mod}:repair",
     "importing '{mod}' failed: ModuleNotFoundError: No module named 'not_a_module_anywhere_xyz' at "),
    ("raise RuntimeError('broken at import')\n", "{mod}:repair",
     "importing '{mod}' failed: RuntimeError: broken at import at "),
    ("def repair(h:\n", "{mod}:repair", "importing '{mod}' failed: SyntaxError: "),
    ("x = 1\n", "{mod}:repair", "has no 'repair'"),
    ("repair = 3\n", "{mod}:repair", "'{mod}:repair' is a int, not a function"),
    ("", "{mod}", "is not \"package.module:function\""),
])
def test_an_import_error_is_one_line_and_exit_2(tmp_path, capsys, src, target, expected):
    f = design(tmp_path, f'base = "codex-0.122-responses"\n[hooks]\nrepair = "{target}"\n', src)
    mod = os.path.basename(f)[:-5]
    code, out, err = run(capsys, "check", "--design", f, *CHECK)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"turnproof check: error: {f}:3: ")
    assert expected.replace("{mod}", mod) in err


@pytest.mark.parametrize("table,expected", [
    ('[hooks]\nrepaire = "m:f"\n', "unknown hook 'repaire'; allowed: repair, build_request, on_lost_output, shape, timeout"),
    ('[hooks]\nrepair = 3\n', "hook 'repair' must be a string \"package.module:function\", not int"),
    ('[hooks]\nrepair = "m:f"\nshape = "xml"\n', "bad value 'xml' for 'shape'; allowed values: chat, responses"),
    ('[hooks]\nrepair = "m:f"\ntimeout = 0\n', "'timeout' must be a number of seconds above 0 and at most 600"),
    ('[hooks]\nrepair = "m:f"\ntimeout = "1"\n', "'timeout' must be a number of seconds"),
    ('[hooks]\nshape = "chat"\n', "[hooks] names no hook; give one of repair, build_request, on_lost_output"),
    ('hooks = 3\n', "'hooks' must be a table ([hooks])"),
    ('[knobs]\nnormalization = "ours"\n[hooks]\nrepair = "m:f"\n',
     "the repair hook takes the place of the 'normalization' knob: set one of them"),
    ('[knobs]\npersist_synthetic = true\n[hooks]\non_lost_output = "m:f"\n',
     "the on_lost_output hook takes the place of the 'persist_synthetic' knob: set one of them"),
])
def test_bad_hook_tables_are_one_line(tmp_path, table, expected):
    f = tmp_path / "d.toml"
    f.write_text('base = "codex-0.122-responses"\n' + table)
    with pytest.raises(DesignFileError) as e:
        load_design_file(str(f))
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_a_design_with_hooks_cannot_take_a_named_designs_name(tmp_path):
    f = design(tmp_path, 'base = "codex-0.77-chat"\nname = "codex-0.77-chat"\n[hooks]\nrepair = "{mod}:r"\n',
               "def r(h):\n    return h\n")
    with pytest.raises(DesignFileError, match="a design with hooks needs a name of its own"):
        load_design_file(f)


def test_wire_cannot_be_changed_under_hooks(tmp_path, capsys):
    f = design(tmp_path, 'base = "codex-0.77-chat"\n[hooks]\nrepair = "{mod}:r"\n', "def r(h):\n    return h\n")
    code, out, err = run(capsys, "check", "--design", f, "--wire", "anthropic", *CHECK)
    assert code == 2 and "the design's hooks are written for the chat wire" in err


# ---- what the model does with each hook ------------------------------------------------------------
def test_the_model_s_own_repair_named_as_a_hook_is_the_knob(tmp_path):
    f = tmp_path / "own.toml"
    f.write_text('base = "codex-0.77-chat"\n[hooks]\nrepair = "turnproof.model.normalize:normalize_ours"\n')
    d = load_design_file(str(f))
    assert d.hooks is None and d.normalization == "ours"


@pytest.mark.slow
def test_the_identity_repair_on_every_wire_gives_the_normalization_none_verdicts(tmp_path):
    for wire in ("chat", "anthropic", "gemini", "bedrock"):
        f = design(tmp_path, f'base = "codex-0.122-responses"\n[knobs]\nwire = "{wire}"\n'
                             '[hooks]\nrepair = "{mod}:same"\n', "def same(h):\n    return h\n")
        a = turnproof_check(f, calls=2)
        b = turnproof_check(with_knobs(NAMED["codex-0.122-responses"], "n", wire=wire, normalization="none"), calls=2)
        assert a.verdicts == b.verdicts, wire
        assert {p: a.path_length(p) for p in a.verdicts} == {p: b.path_length(p) for p in b.verdicts}, wire


def test_build_request_hook_judges_what_it_sends(tmp_path, monkeypatch):
    """A per-call chat builder written as a hook, on the v0.78 design, is v0.77's builder: #8479 again."""
    src = """
    def per_call(history):
        body = [{"role": "system", "content": "You are a coding agent."}]
        for it in history:
            t = it.get("type")
            if t == "function_call":
                body.append({"role": "assistant", "content": None,
                             "tool_calls": [{"id": it["call_id"], "type": "function",
                                             "function": {"name": "shell", "arguments": "{}"}}]})
            elif t == "function_call_output":
                body.append({"role": "tool", "tool_call_id": it["call_id"], "content": it["output"]})
            elif t == "message":
                body.append({"role": it["role"], "content": it["content"]})
        return {"messages": body}
    """
    f = design(tmp_path, 'base = "codex-0.78-chat"\n[hooks]\nbuild_request = "{mod}:per_call"\nshape = "responses"\n',
               src)
    same_check(turnproof_check(f, calls=2), builtin_check(monkeypatch, "codex-0.77-chat", calls=2))


def test_a_build_request_hook_that_drops_results_breaks_results_kept(tmp_path):
    src = """
    def drop(history):
        return [it for it in history if it.get("type") != "function_call_output"]
    """
    f = design(tmp_path, 'base = "codex-0.122-responses"\n[hooks]\nbuild_request = "{mod}:drop"\n', src)
    c = turnproof_check(f, calls=1, faults="none", text=False)
    assert "results-kept" in c.violated and "wire-valid" in c.violated


def test_on_lost_output_is_called_where_outputs_are_lost(tmp_path):
    src = """
    SEEN = set()
    def lost(history, call_id, why):
        SEEN.add(why)
        return {"type": "function_call_output", "call_id": call_id, "output": f"lost ({why})"}
    """
    f = design(tmp_path, 'base = "codex-0.77-responses"\n[hooks]\non_lost_output = "{mod}:lost"\n', src)
    c = turnproof_check(f, calls=2)
    mod = sys.modules[os.path.basename(f)[:-5]]
    assert mod.SEEN == {"failed", "stream-error", "hard-abort", "resume"}
    # the recorded outputs are the hook's own text: made up, so results-kept is as without the hook
    assert c.verdicts == turnproof_check("codex-0.77-responses", calls=2).verdicts


def test_on_lost_output_synthetic_text_is_persist_synthetic(tmp_path):
    """turnproof-proposed's persisted synthetic results, as a hook, keep every property."""
    src = """
    def lost(history, call_id, why):
        if why == "resume":
            return None  # the repair answers them, as persist_synthetic's normalization does
        return [{"type": "function_call_output", "call_id": call_id,
                 "output": "aborted (synthetic: no result was recorded)"}]
    """
    f = design(tmp_path, 'base = "codex-0.122-responses"\n[knobs]\nchat_grouping = "response"\nnormalization = "ours"\n'
                         'wire = "chat"\n[hooks]\non_lost_output = "{mod}:lost"\nshape = "responses"\n', src)
    assert turnproof_check(f, calls=2).holds


# ---- prove: hooks are opaque to z3 -----------------------------------------------------------------
def test_prove_answers_unknown_for_a_hook(tmp_path, capsys):
    f = port(tmp_path, "codex-0.77-chat", "codex_normalize", "normalize")
    code, out, err = run(capsys, "prove", "--design", f)
    assert code == 3
    mod = os.path.basename(f)[:-5]
    assert "UNKNOWN" in out and "opaque to z3" in out and f"repair = {mod}:normalize" in out
    code, out, err = run(capsys, "prove", "--design", f, "--json")
    assert code == 3 and '"verdict": "unknown"' in out and "opaque to z3" in out


def test_api_takes_a_design_file_with_hooks(tmp_path):
    f = port(tmp_path, "turnproof-proposed", "turnproof_proposed", "repair")
    c = turnproof_check(f, calls=2)
    assert c.holds, c.summary()
    assert "repair hook" in c.summary()
    assert "Hooks (code in place of knobs): `repair = " in c.markdown()
    assert c.to_dict()["hooks"]["shape"] == "responses"


def test_reproduce_refuses_hooks(tmp_path, capsys):
    f = port(tmp_path, "codex-0.77-chat", "codex_normalize", "normalize")
    code, out, err = run(capsys, "reproduce", "8479", "--design", f, "--dir", str(tmp_path / "out"))
    assert code == 2 and "runs no hooks" in err


def test_lint_refuses_a_design_with_hooks(tmp_path, capsys):
    f = port(tmp_path, "codex-0.77-chat", "codex_normalize", "normalize")
    body = tmp_path / "r.json"
    body.write_text('{"messages": [{"role": "user", "content": "hi"}]}')
    code, out, err = run(capsys, "lint", str(body), "--design", f)
    assert code == 2 and "a design with hooks cannot judge a session file here" in err


def test_a_provider_on_another_wire_cannot_move_a_design_with_hooks(tmp_path, capsys):
    f = port(tmp_path, "codex-0.77-chat", "codex_normalize", "normalize")
    code, out, err = run(capsys, "check", "--design", f, "--provider", "anthropic", *CHECK)
    assert code == 2 and "provider anthropic does not serve the chat wire" in err
    code, out, err = run(capsys, "check", "--design", f, "--provider", "mistral", *CHECK)
    assert code in (0, 1), err  # mistral serves chat: judged by its rules, hooks as written


def test_json_documents_of_designs_with_hooks_validate(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    import json

    schema = json.load(open(os.path.join(ROOT, "docs", "turnproof.schema.json"), encoding="utf-8"))
    f = port(tmp_path, "codex-0.77-chat", "codex_normalize", "normalize")
    for argv in (["check", "--design", f, *CHECK, "--json"], ["prove", "--design", f, "--json"]):
        code, out, err = run(capsys, *argv)
        doc = json.loads(out)
        jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["verdict"] == "unknown" and "opaque to z3" in doc["reason"]
