"""`turnproof lint` and `turnproof repair`: unpaired tool calls and results in real files.

- rollout.py: Codex rollout JSONL as history items, in chunks, bounded memory;
- claude.py: Claude Code session JSONL as Anthropic Messages requests, each block with its line;
- bodies.py: request bodies of every wire, the Gemini CLI session, dialect detection, strict JSON;
- check.py: the pairing properties, provider rules and Codex request builders on a history;
- repair.py: turnproof-proposed's normalization written back onto a rollout's lines (or a
  Responses input list);
- rescue.py: a rollout laid out for the Codex release that resumes it (its request builder), and
  the verdict lint prints: can that release resume it as it is, and what rescues it;
- findings.py: findings, builder verdicts, per-file reports, LintError.

``lint_path`` is the entry point for one file; ``expand`` turns arguments into files.
"""

from __future__ import annotations

import json
import os
import re
import shlex

from turnproof.fileio import UnsafePath, is_regular, open_input, spooled
from turnproof.model.designs import NAMED
from turnproof.model.provider import PROVIDERS_BY_NAME

from . import claude
from .bodies import DIALECTS, UNKNOWN, detect, judge_document, lint_document, load_document, load_document_strict
from .check import HistoryJudge, default_builders
from .findings import TORN, BuilderVerdict, FileReport, Finding, LintError
from .rollout import DEFAULT_MAX_LINE, ITEM_TYPES, ROLLOUT_TYPES, RolloutReader

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
                # only regular files: a FIFO or a device named x.jsonl is no session (and would hang)
                found += [os.path.join(root, f) for f in sorted(files)
                          if f.endswith(EXTENSIONS) and is_regular(os.path.join(root, f))]
            out += found
        else:
            out.append(p)
    return out


def _head_objects(path: str, limit: int = 20) -> tuple[list, bytes]:
    """The first JSON lines of a file that parse (up to ``limit``), and its first 64 KiB."""
    try:
        with open_input(path) as f:
            head = f.read(1 << 16)
    except UnsafePath as e:
        raise LintError(str(e)) from None
    except OSError as e:
        raise LintError(f"{path}: cannot read: {e.strerror or e}") from None
    objs = []
    lines = head.split(b"\n")
    if len(head) == 1 << 16:
        lines = lines[:-1]  # the last one may be cut by the read
    for ln in lines:
        if ln.strip():
            try:
                objs.append(json.loads(ln))
            except ValueError:
                continue
            if len(objs) >= limit:
                break
    return objs, head


def _codex_line(o: object) -> bool:
    if not isinstance(o, dict):
        return False
    t = o.get("type")
    if t in ROLLOUT_TYPES and isinstance(o.get("payload"), dict):
        return True
    return isinstance(t, str) and t in ITEM_TYPES and "payload" not in o and "message" not in o  # early: bare items


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def sniff(path: str) -> str | None:
    """The JSONL session dialect by content (codex-rollout, claude-code), None for one JSON document;
    a LintError ("not a session format I know") for JSON lines no dialect fits."""
    objs, head = _head_objects(path)
    first = next((ln for ln in head.split(b"\n") if ln.strip()), b"")
    if not path.endswith(".jsonl") and first.lstrip()[:1] in (b"{", b"[") and not _parses(first):
        # one JSON document spread over lines (indented, as repair writes it): an inner line such as
        # `{}` parses on its own, but the first line of a JSONL file is a whole value
        return None
    if not any(isinstance(o, dict) for o in objs):
        # nothing readable to tell by: the rollout reader names the line (binary, bad UTF-8, torn, blank)
        return "codex-rollout" if path.endswith(".jsonl") or b"\n{" in head.strip() else None
    if any(_codex_line(o) for o in objs):
        return "codex-rollout"
    if any(claude.looks_like(o) for o in objs):
        return "claude-code"
    stripped = head.lstrip()
    if stripped[:1] == b"[" or (len(objs) <= 1 and not path.endswith(".jsonl")):
        return None  # one JSON document (bodies, a Gemini CLI session)
    if objs and all(isinstance(o, dict) and not set(o) - {"id", "timestamp", "instructions", "git"} for o in objs[:1]):
        return "codex-rollout"  # an early rollout's session record, with nothing else yet
    if stripped[:1] == b"{" and len(objs) <= 1:
        return None
    raise LintError(f"{path}: {UNKNOWN} (JSON lines that are neither a Codex rollout nor a Claude Code "
                    f"session); name the dialect with --dialect ({', '.join(DIALECTS)})")


def lint_path(path: str, dialect: str | None = None, designs: tuple = (), max_line: int = DEFAULT_MAX_LINE,
              progress=None, provider: str | None = None) -> FileReport:
    """Lint one file. ``designs`` are builders whose rejections count as findings (rollouts): named
    designs by name, or Designs;
    ``provider`` overrides the provider the session is judged for.

    A pipe or FIFO is read once into a temporary file (it is read twice otherwise); devices,
    sockets and directories are refused, and nothing blocks on opening.
    """
    real = path
    try:
        if os.path.isdir(path):
            return FileReport(path, dialect, error=f"{path}: is a directory")
        with spooled(path) as real:
            rep = _lint_file(real, dialect, designs, max_line, progress, provider)
    except UnsafePath as e:
        rep = FileReport(path, dialect, error=str(e))
    except OSError as e:
        rep = FileReport(path, dialect, error=f"{path}: cannot read: {e.strerror or e}")
    if real != path:  # messages name what the user gave, not the temporary copy
        rep.path = path
        if rep.error:
            rep.error = rep.error.replace(real, path)
    return rep


def _lint_file(path: str, dialect: str | None, designs: tuple, max_line: int, progress,
               provider: str | None) -> FileReport:
    try:
        if dialect is None:
            dialect = sniff(path)
        if dialect == "codex-rollout":
            return _lint_rollout(path, designs, max_line, progress, provider)
        if dialect == "claude-code":
            found, info, used, why = claude.findings(path, max_line, provider)
            return FileReport(path, dialect, found, provider=used, provider_why=why, info=info)
        doc, strict = load_document_strict(path, max_line)
        found = dialect or detect(doc)
        if found is None:
            raise LintError(f"{path}: {UNKNOWN}; name the dialect with --dialect ({', '.join(DIALECTS)})")
        if found == "claude-code":
            raise LintError(f"{path}: a Claude Code session is JSON lines, not one JSON document")
        j = judge_document(doc, found, path, provider)
        return FileReport(path, found, strict + j.findings, provider=j.provider, provider_why=j.why, info=j.info)
    except LintError as e:
        return FileReport(path, dialect, error=str(e))
    except OSError as e:  # e.g. the file vanished between two reads
        return FileReport(path, dialect, error=f"{path}: cannot read: {e.strerror or e}")


# ---- Codex rollouts: which release and wire wrote it ------------------------------------------
def session_meta(path: str) -> dict:
    """The first session_meta payload (model_provider, cli_version, originator), or {}."""
    objs, _ = _head_objects(path, limit=50)
    for o in objs:
        if isinstance(o, dict) and o.get("type") == "session_meta" and isinstance(o.get("payload"), dict):
            return o["payload"]
    return {}


def _version(v: object) -> tuple | None:
    m = re.match(r"^(\d+)\.(\d+)", v) if isinstance(v, str) else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def codex_setup(meta: dict, provider: str | None) -> tuple[str, str, str, str]:
    """(builder design, wire, provider, why) for a rollout.

    The rollout does not record the wire. Codex sends provider "openai" (and Azure) on the Responses
    wire; a provider configured by the user used ``wire_api = "chat"`` unless set otherwise, until the
    chat wire was removed. The release decides the chat builder: per-call grouping before 0.78,
    consecutive from 0.78 (PR #8556).
    """
    mp = meta.get("model_provider")
    ver = _version(meta.get("cli_version"))
    vs = meta.get("cli_version") or "unknown version"
    name = (mp or "openai").lower() if isinstance(mp, str) or mp is None else "openai"
    if provider in ("mistral", "gpt-oss") or (provider is None and name not in ("openai", "azure")):
        wire = "chat"
    elif provider == "deepseek" and name != "openai":
        wire = "chat"
    else:
        wire = "responses"
    if provider is None:
        provider = next((p for key, p in (("azure", "azure-openai"), ("deepseek", "deepseek"), ("mistral", "mistral"))
                         if key in name), "openai")
        if wire not in PROVIDERS_BY_NAME[provider].wires:
            provider = "openai"
        why = f"session_meta: model_provider {mp!r}, cli_version {vs}, {wire} wire"
        if wire == "chat" and provider == "openai":
            why += " (judged by OpenAI's chat rules, as an OpenAI-compatible server)"
    else:
        why = f"--provider (session_meta: model_provider {mp!r}, cli_version {vs})"
    if wire == "chat":
        builder = "codex-0.77-chat" if ver is not None and ver < (0, 78) else "codex-0.78-chat"
    else:
        builder = "codex-0.122-responses" if ver is None or ver >= (0, 122) else "codex-0.77-responses"
    return builder, wire, provider, why


ADVICE = {
    "codex-0.77-chat": "rejected by codex 0.77's chat builder (one assistant message per parallel call, "
                       "openai/codex #8479): `turnproof repair` puts each result right after its call, which it "
                       "sends",
    "codex-0.78-chat": "rejected by codex 0.78's chat builder (held text or a split partial result between a call "
                       "and its results): `turnproof repair` moves the text before the calls and the results "
                       "after them, which it sends",
    "codex-0.77-responses": "rejected by codex 0.77's Responses builder: `turnproof repair` the rollout",
    "codex-0.122-responses": "rejected by codex 0.122's Responses builder: `turnproof repair` the rollout",
}
UPGRADE_077 = "; or upgrade to >= 0.78 (its builder accepts this file) or use the Responses wire"
NO_ORDER = "no order of the history is sent by it (see below): use the Responses wire (wire_api = \"responses\")"


def _advice(in_use: str, rejected: dict, resume: dict) -> str:
    """The next step for a rollout the builder in use rejects, checked rather than guessed: repair only if
    the rescue's layout is accepted by that builder (rescue.py verifies it), upgrading to 0.78 only if
    0.78's builder accepts the file."""
    if resume.get("rescue") is None:
        return f"rejected by {resume['release']}: {NO_ORDER}"
    if in_use == "codex-0.77-chat" and not rejected.get("codex-0.78-chat", True):
        return ADVICE[in_use] + UPGRADE_077
    return ADVICE[in_use]


def _lint_rollout(path: str, designs: tuple, max_line: int, progress, provider: str | None = None) -> FileReport:
    """One reading, in two passes: every chunk is judged exactly as the whole history would be."""
    meta = session_meta(path)
    in_use, wire, used, why = codex_setup(meta, provider)
    builders: list = default_builders()
    builders += [d for d in (in_use,) + tuple(designs) if d not in builders]  # names, or Designs (design files)
    names = {d if isinstance(d, str) else d.name for d in designs}
    reader = RolloutReader(path, max_line, progress=progress)
    hj = HistoryJudge(builders, used)
    hj.consume(reader.chunks())
    props = [f for f in hj.findings if f.wire is None]
    rep = FileReport(path, "codex-rollout", props, hj.builders, provider=used, provider_why=why,
                     info=[f for f in hj.findings if f.wire is not None])
    rep.findings += [Finding(TORN, None, n, message="line cut short (a crash tore the write); Codex skips it "
                             "on load, so what it held is lost") for n in reader.torn]
    rep.findings += reader.strict
    rep.resume = resume_verdict(path, in_use, used, why, next(bv for bv in hj.builders if bv.design == in_use),
                                max_line)
    for bv in hj.builders:
        if bv.design == in_use or bv.design in names:
            rep.findings += bv.findings
            if bv.findings and bv.design == in_use:
                rep.advice.append(_advice(in_use, {b.design: bool(b.findings) for b in hj.builders}, rep.resume))
        elif bv.findings:
            rep.info += bv.findings
    return rep


def resume_verdict(path: str, in_use: str, provider: str | None, why: str, bv, max_line: int) -> dict:
    """The release that resumes the rollout, whether it can as the file is, and what rescues it (rescue.py)."""
    from .rescue import Reader, RescueImpossible, check_rollout, describe_design, dry_run

    reader = Reader(NAMED[in_use], provider, why)
    ok = bv.accepted
    if ok and provider == "mistral":
        # a resume adds the user's message, which Mistral refuses right after tool results; no other
        # provider's rules can turn an accepted history into a rejected one by appending a user message
        ok = check_rollout(path, reader, max_line).ok
    out = {"design": in_use, "release": describe_design(NAMED[in_use]), "resumable": ok}
    if ok:
        out["text"] = f"resumed by {out['release']}: can be resumed as it is"
        return out
    try:
        dry_run(path, reader, max_line)
    except RescueImpossible as e:
        out["rescue"] = None
        out["upgrade"] = e.upgrade
        out["reason"] = e.reason
        then = (f"upgrade to {e.upgrade and describe_design(NAMED[e.upgrade])}" if e.upgrade
                else "no Codex release sends it to this provider")
        out["text"] = (f"resumed by {out['release']}: cannot be resumed as it is, and no order of its history "
                       f"is sent by it ({e.reason}); {then}")
        return out
    except LintError as e:
        out["rescue"] = None
        out["text"] = f"resumed by {out['release']}: cannot be resumed as it is; not rescued: {e}"
        return out
    out["rescue"] = f"turnproof repair {shlex.quote(path)} --in-place"
    out["text"] = f"resumed by {out['release']}: cannot be resumed as it is; rescue it: {out['rescue']}"
    return out
