"""Issue 14's reading points: no false "clean" for non-rollout JSONL, strict JSON findings, one error per
unreadable file (never aborting a run), valid UTF-8 JSON output, linear output, and lint's chunked
judgement equal to the whole history's on histories with results before their calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.test_lint_helpers import rollout_text
from turnproof.lint import lint_path
from turnproof.lint.check import HistoryJudge, default_builders
from turnproof.lint.rollout import Chunk, RolloutReader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_non_rollout_jsonl_is_not_clean(tmp_path, cli):
    for name, text in (("chat.jsonl", '{"role": "user", "content": "x"}\n{"role": "assistant", "content": "y"}\n'),
                       ("foo.jsonl", '{"foo": 1}\n{"foo": 2}\n')):
        p = tmp_path / name
        p.write_text(text)
        code, out, err = cli("lint", p)
        assert code == 2 and "not a session format I know" in err and err.count("\n") == 1, err


def test_nan_and_duplicate_keys_are_findings(tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"model": "gpt-4o", "temperature": NaN, "messages": [{"role": "user", "role": "user", "content": "x"}]}')
    rep = lint_path(str(p))
    assert {f.rule for f in rep.findings} == {"non-standard-json", "duplicate-key"}
    r = tmp_path / "r.jsonl"
    r.write_text(rollout_text("U C1 O1").replace('"call_id":"call_1"', '"call_id":"call_1","call_id":"call_1"', 1))
    assert "duplicate-key" in {f.rule for f in lint_path(str(r)).findings} or lint_path(str(r)).error is None


def test_surrogates_and_huge_ints_are_one_error_each_and_the_run_goes_on(tmp_path, cli):
    (tmp_path / "a.json").write_text('{"input": [{"type": "function_call", "call_id": "\\ud800", "name": "x"}]}')
    (tmp_path / "b.json").write_text('{"input": [], "n": ' + "9" * 5000 + "}")
    (tmp_path / "c.json").write_text('{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
    code, out, err = cli("lint", tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and "a.json" in lines[0] and "b.json" in lines[1]
    assert "c.json: openai-chat: clean" in out
    code, out, _ = cli("lint", "--json", tmp_path)
    out.encode("utf-8")  # valid UTF-8
    assert len(json.loads(out)["files"]) == 3


def test_output_is_linear_in_problem_calls(tmp_path, cli):
    n = 4000
    msgs = [{"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}", "type": "function",
                                                                   "function": {"name": "f", "arguments": "{}"}}
                                                                  for i in range(n)]}]
    msgs += [{"role": "tool", "tool_call_id": f"c{i}", "content": "r"} for i in range(0, n, 2)]
    p = tmp_path / "big.json"
    p.write_text(json.dumps({"model": "gpt-4o", "messages": msgs}))
    code, out, _ = cli("lint", p, "--max-findings", "100000")
    assert code == 1 and len(out) < 400 * n  # one short line per problem call, no id list repeated per call


def _half_answered_chat(path, n: int) -> None:
    msgs = [{"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}", "type": "function",
                                                                   "function": {"name": "f", "arguments": "{}"}}
                                                                  for i in range(n)]}]
    msgs += [{"role": "tool", "tool_call_id": f"c{i}", "content": "r"} for i in range(0, n, 2)]
    path.write_text(json.dumps({"model": "gpt-4o", "messages": msgs}))


def _half_answered_rollout(path, n: int) -> None:
    spec = "U " + " ".join(f"C{i}" for i in range(n)) + " " + " ".join(f"O{i}" for i in range(0, n, 2))
    path.write_text(rollout_text(spec))


@pytest.mark.parametrize("make,small,big", [(_half_answered_chat, 2000, 8000), (_half_answered_rollout, 500, 2000)])
def test_json_output_is_linear_in_problem_calls(cli, tmp_path, make, small, big):
    """One rejection names every missing call; its text is written once per file (provider_errors),
    each finding names it by index: four times the problems, about four times the output (the text
    repeated per finding made it sixteen)."""
    sizes = []
    for n in (small, big):
        p = tmp_path / f"f{n}"
        make(p, n)
        code, out, _ = cli("lint", p, "--json")
        assert code == 1
        f = json.loads(out)["files"][0]
        assert len(f["findings"]) >= n // 2
        texts = f["provider_errors"]
        assert len(texts) == len(set(texts)) and any(f"c{n - 1}" in t or f"call_{n - 1}" in t for t in texts)
        sizes.append(len(out))
    assert sizes[1] < 4.6 * sizes[0], sizes


def test_lint_imports_no_solver_or_graph_library():
    code = ("import sys\nfrom turnproof.cli import main\nmain(['lint', sys.argv[1]])\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('z3', 'networkx') or m.endswith('explorer')]\n"
            "print(bad)")
    r = subprocess.run([sys.executable, "-c", code, os.path.join(ROOT, "tests", "data", "lint", "chat-fixed.json")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout + r.stderr


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_subcommand(flag):
    code = ("import sys\nfrom turnproof.cli import main\ntry:\n    main([sys.argv[1]])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('z3', 'networkx') or m.startswith('turnproof.cmd_')]\n"
            "print(bad)")
    r = subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout + r.stderr


@st.composite
def early_results(draw) -> str:
    """Results before their call, repeated results, calls that never get one."""
    toks, nxt = [], 1
    for _ in range(draw(st.integers(1, 5))):
        toks += draw(st.lists(st.sampled_from(["U", "T", "R"]), max_size=2))
        k = draw(st.integers(0, 3))
        ids = list(range(nxt, nxt + k))
        nxt += k
        if ids and draw(st.booleans()):
            toks.append(f"O{draw(st.sampled_from(ids))}")  # a result before its call
        toks += [f"C{i}" for i in ids]
        toks += [f"O{i}" for i in draw(st.lists(st.sampled_from(ids), max_size=k + 1))] if ids else []
    return " ".join(toks)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(early_results())
def test_lint_equals_the_whole_history_judgement(spec):
    builders = default_builders()
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "r.jsonl")
        with open(p, "w") as f:
            f.write(rollout_text(spec))
        try:
            chunks = list(RolloutReader(p).chunks())
        except ValueError:
            return  # a call id reused while open: an input error, the same for both
        whole = Chunk(tuple(it for ch in chunks for it in ch.items), True)
        hj = HistoryJudge(builders)
        hj.consume([whole])
        key = lambda f: tuple("" if x is None else str(x) for x in (f.rule, f.call_id, f.line, f.provider_error,
                                                                     f.wire, f.design))
        rep = lint_path(p)
        assert rep.error is None
        got = {key(f) for f in rep.findings + rep.info if f.rule != "torn-line" and f.design in (None, *builders)}
        want = {key(f) for f in hj.findings} | {key(f) for b in hj.builders for f in b.findings}
        assert got == want
