"""`turnproof lint` and `turnproof repair`: unpaired tool calls and results in real files.

- rollout.py: Codex rollout JSONL as history items, in chunks, bounded memory;
- bodies.py: request bodies and message lists of the four provider dialects;
- check.py: the pairing properties, provider rules and Codex request builders on a history;
- repair.py: turnproof-proposed's normalization written back onto a rollout's lines (or a
  Responses input list);
- findings.py: findings, builder verdicts, per-file reports, LintError.

``lint_path`` is the entry point for one file; ``expand`` turns arguments into files.
"""

from __future__ import annotations

import os

from .bodies import DIALECTS, detect, lint_document, load_document
from .check import HistoryJudge, default_builders
from .findings import TORN, BuilderVerdict, FileReport, Finding, LintError
from .rollout import DEFAULT_MAX_LINE, Rewind, RolloutReader

__all__ = ["DIALECTS", "FileReport", "Finding", "BuilderVerdict", "LintError", "lint_path", "expand",
           "sniff", "DEFAULT_MAX_LINE", "default_builders"]

EXTENSIONS = (".jsonl", ".json")


def expand(paths: list[str]) -> list[str]:
    """Files named, and the .jsonl / .json files under directories named (sorted, recursively)."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs.sort()
                found += [os.path.join(root, f) for f in sorted(files) if f.endswith(EXTENSIONS)]
            out += found
        else:
            out.append(p)
    return out


def sniff(path: str) -> str | None:
    """codex-rollout when the file is JSONL of rollout lines; otherwise None (a JSON document)."""
    if path.endswith(".jsonl"):
        return "codex-rollout"
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as e:
        raise LintError(f"{path}: cannot read: {e.strerror or e}") from None
    first = head.split(b"\n", 1)[0].strip()
    if first.startswith((b'{"timestamp"', b'{"type"', b'{"payload"')) and (b'"payload"' in first or len(first) == len(head)):
        return "codex-rollout"
    return None


def lint_path(path: str, dialect: str | None = None, designs: tuple = (), max_line: int = DEFAULT_MAX_LINE,
              progress=None) -> FileReport:
    """Lint one file. ``designs`` are builders whose rejections count as findings (rollouts)."""
    try:
        if os.path.isdir(path):
            raise LintError(f"{path}: is a directory")
        if dialect is None:
            dialect = sniff(path)
        if dialect == "codex-rollout":
            return _lint_rollout(path, designs, max_line, progress)
        doc = load_document(path, max_line)
        found = dialect or detect(doc)
        if found is None:
            raise LintError(f"{path}: cannot tell the dialect; name it with --dialect ({', '.join(DIALECTS)})")
        return FileReport(path, found, lint_document(doc, found, path))
    except LintError as e:
        return FileReport(path, dialect, error=str(e))
    except OSError as e:  # e.g. the file vanished between two reads
        return FileReport(path, dialect, error=f"{path}: cannot read: {e.strerror or e}")


class _TooManyRewinds(Exception):
    pass


def _rewinds_bounded(reader: RolloutReader, chunks, size: int):
    """Pass chunks on, unless guessed cuts keep being taken back.

    Ids that recur round after round (Codex numbers calls ``tool-call-N`` when a provider omits
    ids) would make every round rewind over a growing chunk; past a budget of bytes read again,
    reading twice is cheaper.
    """
    budget = size // 4 + (16 << 20)
    for ch in chunks:
        if isinstance(ch, Rewind) and reader.reread > budget:
            raise _TooManyRewinds
        yield ch


def _lint_rollout(path: str, designs: tuple, max_line: int, progress) -> FileReport:
    builders = default_builders()
    builders += [d for d in designs if d not in builders]
    reader = RolloutReader(path, max_line, progress=progress)
    hj = HistoryJudge(builders)
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # the reader names the problem
    try:
        hj.consume(_rewinds_bounded(reader, reader.chunks(two_pass=False), size))
    except _TooManyRewinds:
        reader = RolloutReader(path, max_line, progress=progress)
        hj = HistoryJudge(builders)
        hj.consume(reader.chunks(two_pass=True))
    rep = FileReport(path, "codex-rollout", hj.findings, hj.builders)
    rep.findings += [Finding(TORN, None, n, message="line cut short (a crash tore the write); Codex skips it "
                             "on load, so what it held is lost") for n in reader.torn]
    for bv in hj.builders:
        if bv.design in designs:
            rep.findings += bv.findings
    return rep
