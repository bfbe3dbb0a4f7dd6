"""The hostile-input fuzz campaign (issue 14): mutated real files of every dialect lint reads and
mutated design files, thrown at lint, repair (-o and --in-place) and check, asserting for each run:

- no traceback, and only the documented exit codes (lint 0/1/2; repair 0/1/2; check 0/1/2);
- an error (exit 2) is one line on stderr;
- no input is changed (the file given to lint, to `repair -o`, to `check --design`); `repair
  --in-place` changes its file only when it says so, and then keeps the original, byte for byte,
  as the backup;
- an output path that is not a regular file (a FIFO, a link to /dev/null, a character device when
  run as root) is refused and left as it was;
- a repaired file lints clean for its provider, unless repair said what is still rejected, and
  repairing it again changes nothing;
- lint reads a mutated rollout chunk by chunk exactly as the whole history judges it (the bounded
  fast path gives the findings and builder verdicts of judging each compacted segment at once; on
  generated histories: tests/test_lint_chunks.py).

The budget CI runs is small (a few hundred runs, about a minute); ``TURNPROOF_FUZZ=50`` runs fifty
times as many (tests/fuzz_budget.py; the campaign issue 14 reported was some thousands).
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import shutil
import stat
import tempfile

from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz_budget import examples
from turnproof.cli import main
from turnproof.lint import LintError, sniff
from turnproof.lint.check import HistoryJudge, default_builders
from turnproof.lint.rollout import Chunk, RolloutReader

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "data", "real")
LINT = os.path.join(HERE, "data", "lint")
DESIGNS = os.path.join(os.path.dirname(HERE), "examples", "designs")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def budget(ci: int) -> settings:
    return settings(max_examples=examples(ci), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def _read(p: str) -> bytes:
    with open(p, "rb") as f:
        return f.read()


SEEDS = {os.path.basename(p): _read(p) for p in sorted(glob.glob(os.path.join(REAL, "*.json*"))
                                                        + glob.glob(os.path.join(LINT, "*.json*")))
         if os.path.getsize(p) < 400_000}
JSONL = sorted(k for k in SEEDS if k.endswith(".jsonl"))
JSON = sorted(k for k in SEEDS if k.endswith(".json"))
TOKENS = [b'"tool_use"', b'"tool_result"', b'"function_call"', b'"function_call_output"', b'"toolUse"',
          b'"toolResult"', b'"functionCall"', b'"functionResponse"', b'"assistant"', b'"user"', b'"tool"',
          b'"model"', b'"custom_tool_call"', b'"previous_response_id"', b'"isSidechain"', b'"compacted"',
          b'null', b'[]', b'{}', b'NaN', b'1e999', b'"\\ud800"', b'"call_1"', b'"toolu_1"', b'""']


@st.composite
def mutated(draw, names: list) -> tuple[str, bytes]:
    name = draw(st.sampled_from(names))
    data = SEEDS[name]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "token", "line", "cut", "flip", "dup"]))
        if op == "token":
            a, b = draw(st.sampled_from(TOKENS)), draw(st.sampled_from(TOKENS))
            k = data.find(a, draw(st.integers(0, max(0, len(data) - 1))))
            if k >= 0:
                data = data[:k] + b + data[k + len(a):]
        elif op in ("line", "dup"):
            lines = data.split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if op == "line":
                lines.insert(j, lines.pop(i))
            else:
                lines.insert(j, lines[i])
            data = b"\n".join(lines)
        elif op == "cut":
            data = data[:draw(st.integers(0, len(data)))]
        elif data:
            k = draw(st.integers(0, len(data) - 1))
            data = data[:k] + bytes([draw(st.integers(0, 255))]) + data[k + 1:]
    return name, data


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _no_traceback(code: int, err: str, codes=(0, 1, 2)) -> None:
    assert code in codes and "Traceback" not in err, (code, err[-2000:])
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


def _odd_targets(d: str) -> list:
    fifo = os.path.join(d, "fifo.out")
    os.mkfifo(fifo)
    link = os.path.join(d, "null.out")
    os.symlink(os.devnull, link)
    out = [fifo, link]
    if IS_ROOT:
        dev = os.path.join(d, "full.out")
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        out.append(dev)
    return out


def _kind(p: str) -> int:
    return stat.S_IFMT(os.lstat(p).st_mode)


def _judged(chunks) -> tuple:
    hj = HistoryJudge(default_builders() + ["turnproof-proposed"])
    hj.consume(chunks)
    key = lambda f: (f.rule, f.call_id, f.line, f.provider_error, f.wire)  # noqa: E731
    return sorted(map(key, hj.findings)), {b.design: sorted(map(key, b.findings)) for b in hj.builders}


def _fast_path_is_whole(src: str) -> None:
    """Chunk by chunk (bounded memory) = each compacted segment judged whole."""
    try:
        if sniff(src) != "codex-rollout":
            return
        chunks = list(RolloutReader(src).chunks())
    except LintError:
        return
    segments: list = []
    for ch in chunks:
        if ch.restart or not segments:
            segments.append(Chunk((), True))
        segments[-1] = Chunk(segments[-1].items + ch.items, True)
    assert _judged(chunks) == _judged(segments)


def _campaign(name: str, data: bytes) -> None:
    d = tempfile.mkdtemp(prefix="turnproof-hostile-")
    try:
        src = os.path.join(d, name)
        with open(src, "wb") as f:
            f.write(data)
        code, out, err = cli("lint", src)
        _no_traceback(code, err)
        assert _read(src) == data
        if code != 2:
            _fast_path_is_whole(src)
        # repair -o: a regular output
        rout = os.path.join(d, "out" + os.path.splitext(name)[1])
        rcode, rtext, rerr = cli("repair", src, "-o", rout)
        _no_traceback(rcode, rerr)
        assert _read(src) == data
        if code == 2:
            assert rcode == 2
        if rcode == 2 or (rcode == 1 and not os.path.exists(rout)):
            assert not os.path.exists(rout)
        else:
            lcode, lout, lerr = cli("lint", rout)
            still = "still rejected" in rtext or "still not sent" in rtext
            assert lcode in ((0, 1) if still else (0,)), (rtext, lout, lerr)
            again = os.path.join(d, "again" + os.path.splitext(name)[1])
            acode, _, _ = cli("repair", rout, "-o", again)
            assert acode == rcode and _read(again) == _read(rout)  # a fixed point
        # repair -o onto what is not a regular file: refused, left as it was
        for odd in _odd_targets(d):
            kind = _kind(odd)
            ocode, _, oerr = cli("repair", src, "-o", odd)
            _no_traceback(ocode, oerr)
            assert ocode != 0 and _kind(odd) == kind and _read(src) == data
        # --in-place on a copy: changed only when it says so, the original kept as the backup
        copy = os.path.join(d, "copy" + os.path.splitext(name)[1])
        shutil.copyfile(src, copy)
        icode, itext, ierr = cli("repair", copy, "--in-place")
        _no_traceback(icode, ierr)
        baks = [n for n in os.listdir(d) if n.startswith("copy") and ".bak" in n]
        if _read(copy) != data:
            assert icode in (0, 1) and "kept at" in itext and len(baks) == 1
            assert _read(os.path.join(d, baks[0])) == data
        else:
            assert not baks
        assert not [n for n in os.listdir(d) if ".turnproof-" in n]  # no temporary file left
    finally:
        shutil.rmtree(d)


@budget(120)
@given(mutated(JSONL))
def test_hostile_jsonl(case):
    """Codex rollouts (every version in the corpus), Claude Code sessions and subagent files."""
    _campaign(*case)


@budget(120)
@given(mutated(JSON))
def test_hostile_documents(case):
    """Request bodies of every wire (chat, Responses incl. stateful, Anthropic, Gemini, Bedrock), Gemini CLI."""
    _campaign(*case)


DESIGN_SEEDS = [_read(p) for p in sorted(glob.glob(os.path.join(DESIGNS, "*.toml")))]
TOML_TOKENS = [b"[knobs]", b"[", b"]", b"{", b"}", b'"', b"=", b"\n", b"true", b"1e999", b"nan", b"inf",
               b'base = "codex-0.77-chat"', b"wire = ", b"[[x]]", b"\\u0000", b"#"]


@st.composite
def designs(draw) -> bytes:
    data = draw(st.sampled_from(DESIGN_SEEDS))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["insert", "cut", "flip", "nest"]))
        k = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:k] + draw(st.sampled_from(TOML_TOKENS)) + data[k:]
        elif op == "cut":
            data = data[:k]
        elif op == "nest":
            data += b"\nx = " + b"[" * draw(st.integers(1, 3000))
        elif data:
            k = min(k, len(data) - 1)
            data = data[:k] + bytes([draw(st.integers(0, 255))]) + data[k + 1:]
    return data


@budget(60)
@given(designs())
def test_hostile_design_files(data):
    d = tempfile.mkdtemp(prefix="turnproof-hostile-")
    try:
        p = os.path.join(d, "fix.toml")
        with open(p, "wb") as f:
            f.write(data)
        code, out, err = cli("check", "--design", p, "--calls", "1", "--faults", "none", "--max-states", "20000")
        _no_traceback(code, err)
        assert _read(p) == data
    finally:
        shutil.rmtree(d)
