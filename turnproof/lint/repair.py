"""`turnproof repair`: turnproof-proposed's normalization, written back onto a rollout's lines.

The repair is model.normalize.normalize_ours_report, the normalization the model checks for the
turnproof-proposed design and proofs/ proves: results with no earlier call and second results for
a call are dropped, results recorded away from their call group move up to just after it, and a
call left without a result gets a synthetic one after its group's results. Every other line (user
and assistant messages, reasoning, events, turn contexts) is kept byte for byte, in its place.

The file is read chunk by chunk exactly as lint reads it (rollout.py), and normalizing a chunk
gives what normalizing the whole history gives at its items, so memory stays bounded: one chunk's
lines, plus one entry per call id. Torn lines are dropped (Codex skips them on load) and reported.
A synthetic result is a ``function_call_output`` (``custom_tool_call_output`` for a custom tool
call) whose output says so and whose payload carries ``"turnproof_synthetic": true``.

An OpenAI Responses ``input`` list (or a body holding one) is repaired by the same function: its
items are the model's items one for one, entries pairing ignores stay where they are, a synthetic
result says so in its output text (the API refuses unknown fields), and the document is written
back as indented JSON.

Output is written to a temporary file in the target's directory, fsynced, then renamed over the
target, so a reader sees the old file or the new one, never half of either; on any error the
temporary file is removed and nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass

from turnproof.model.items import CALL, OUTPUT, REASONING, SYNTHETIC, TEXT, USER
from turnproof.model.normalize import normalize_ours_report
from turnproof.model.provider import CALL_TYPES as RESP_CALLS, OUTPUT_TYPES as RESP_OUTPUTS

from .bodies import items_of, lint_document
from .findings import LintError
from .rollout import DEFAULT_MAX_LINE, Line, RolloutReader

SYNTHETIC_OUTPUT = ("aborted: no result was recorded for this call "
                    "(synthetic result added by `turnproof repair`)")
MARKER = "turnproof_synthetic"


@dataclass(frozen=True)
class Edit:
    """One change, in file terms: ``line`` in the input, ``after`` the input line it now follows."""

    op: str  # drop-orphan | drop-duplicate | move | synthesize | drop-torn
    call_id: str | None
    line: int | None
    after: int | None = None
    unit: str = "line"  # what ``line`` and ``after`` count: rollout lines, or Responses input items

    def describe(self) -> str:
        u = self.unit
        if self.op == "drop-orphan":
            return f"{u} {self.line}: dropped result for {self.call_id or '(no call_id)'}: no call before it"
        if self.op == "drop-duplicate":
            return f"{u} {self.line}: dropped second result for {self.call_id}"
        if self.op == "move":
            return f"{u} {self.line}: moved result for {self.call_id} up, after {u} {self.after}"
        if self.op == "synthesize":
            return f"added synthetic result for {self.call_id} after {u} {self.after}: no result was recorded"
        return f"{u} {self.line}: dropped torn line (cut short by a crash; Codex skips it)"

    def to_json(self) -> dict:
        key = "line" if self.unit == "line" else "index"
        return {"op": self.op, "call_id": self.call_id, key: self.line, "after": self.after}


def synthetic_line(cid: str, call: Line | None, after: Line | None) -> bytes:
    """The synthetic result line; its timestamp is the line it follows (the file stays in time order)."""
    out_type = "custom_tool_call_output" if call is not None and call.payload_type == "custom_tool_call" \
        else "function_call_output"
    ts = next((x.timestamp for x in (after, call) if x is not None and isinstance(x.timestamp, str)),
              "1970-01-01T00:00:00.000Z")
    doc = {"timestamp": ts, "type": "response_item",
           "payload": {"type": out_type, "call_id": cid, "output": SYNTHETIC_OUTPUT, MARKER: True}}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _region(path: str, lines: list, items: tuple, w, edits: list) -> int:
    """Write one chunk's lines with the chunk normalized; return how many are not blank."""
    new, changes = normalize_ours_report(items)
    moved = {c.tag for c in changes if c.op == "move"}
    dropped = {c.tag for c in changes if c.op in ("drop-orphan", "drop-duplicate")}
    for c in changes:
        if c.tag is not None and not isinstance(c.tag, int):
            raise LintError(f"{path}:{c.tag[0]}: the result for {c.call_id} inside this compacted line's "
                            "replacement_history would have to move or go: not repaired")
    by_tag = {ln.n: ln for ln in lines if ln.tags}
    for c in changes:
        if c.op in ("drop-orphan", "drop-duplicate"):
            edits.append(Edit(c.op, c.call_id, c.tag))
    k = 0
    written = 0
    last_call: dict = {}
    last_line = None
    last_ln = None
    for ln in lines:
        if ln.torn:
            edits.append(Edit("drop-torn", None, ln.n))
            continue
        if not ln.tags:
            w.write(ln.raw if ln.raw.endswith(b"\n") else ln.raw + b"\n")
            written += not ln.raw.isspace()
            continue
        if ln.tags[0] in moved or ln.tags[0] in dropped:
            continue  # written with its group, or dropped
        w.write(ln.raw if ln.raw.endswith(b"\n") else ln.raw + b"\n")
        written += 1
        for tag in ln.tags:
            it = new[k]
            if it[2] != tag:
                raise LintError(f"{path}:{ln.n}: internal error: repair lost track of the line order")
            if it[0] == CALL:
                last_call[it[1]] = ln
            k += 1
        last_line, last_ln = ln.n, ln
        while k < len(new) and (new[k][2] == SYNTHETIC or new[k][2] in moved):
            cid, tag = new[k][1], new[k][2]
            if tag == SYNTHETIC:
                w.write(synthetic_line(cid, last_call.get(cid), last_ln))
                edits.append(Edit("synthesize", cid, None, last_line))
            else:
                src = by_tag[tag]
                w.write(src.raw if src.raw.endswith(b"\n") else src.raw + b"\n")
                edits.append(Edit("move", cid, tag, last_line))
            k += 1
    if k != len(new):
        raise LintError(f"{path}: internal error: repair did not place every item")
    return written


def repair_to(path: str, out_path: str, max_line: int = DEFAULT_MAX_LINE, progress=None) -> list[Edit]:
    """Write the repaired rollout to ``out_path`` atomically; return the edits made."""
    reader = RolloutReader(path, max_line, keep_lines=True, progress=progress)
    edits: list[Edit] = []
    d = os.path.dirname(os.path.abspath(out_path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".turnproof-repair-", suffix=".tmp", dir=d)
    except OSError as e:
        raise LintError(f"{out_path}: cannot write: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as w:
            try:
                written = 0
                for ch in reader.chunks():
                    written += _region(path, ch.lines, ch.items, w, edits)
                if not written:  # a rollout of blank lines is not a session: lint refuses it
                    raise LintError(f"{path}: no line survives the repair (only torn lines); nothing to write")
                w.flush()
                os.fsync(w.fileno())
            except OSError as e:  # the reader's own errors are LintErrors already: this is the writing
                raise LintError(f"{out_path}: cannot write: {e.strerror or e}") from None
        try:
            shutil.copymode(path, tmp)
        except OSError:
            pass
        try:
            if os.path.isdir(out_path):
                raise IsADirectoryError(21, "is a directory")
            os.replace(tmp, out_path)
        except OSError as e:
            raise LintError(f"{out_path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(d)
    return edits


def _fsync_dir(d: str) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def backup_path(path: str) -> str:
    cand = path + ".bak"
    n = 1
    while os.path.exists(cand):
        cand = f"{path}.bak{n}"
        n += 1
    return cand


def repair_in_place(path: str, max_line: int = DEFAULT_MAX_LINE, progress=None) -> tuple[list[Edit], str | None]:
    """Repair ``path`` itself; the original is kept at the returned backup path (None: nothing to do)."""
    d = os.path.dirname(os.path.abspath(path))
    fd, staged = tempfile.mkstemp(prefix=".turnproof-staged-", suffix=".tmp", dir=d)
    os.close(fd)
    try:
        edits = repair_to(path, staged, max_line, progress)
        if not edits and _same_bytes(path, staged):
            return edits, None
        backup = backup_path(path)
        shutil.copy2(path, backup)
        with open(backup, "rb") as f:
            os.fsync(f.fileno())
        os.replace(staged, path)
        _fsync_dir(d)
        return edits, backup
    finally:
        if os.path.exists(staged):
            os.unlink(staged)


def _same_bytes(a: str, b: str) -> bool:
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


# ---- OpenAI Responses request bodies -------------------------------------------------------------
def _responses_items(lst: list) -> list:
    """Items for the model (tag = index in ``input``); None for entries pairing ignores."""
    out: list = []
    for i, it in enumerate(lst):
        t = it.get("type")
        if t in RESP_CALLS:
            out.append((CALL, it["call_id"], i))
        elif t in RESP_OUTPUTS:
            # no call_id: nothing can pair it, so it goes as an orphan (a private id nobody else has)
            out.append((OUTPUT, it["call_id"] if it.get("call_id") not in (None, "") else ("no-id", i), i))
        elif t == "reasoning":
            out.append((REASONING, None, i))
        elif t in (None, "message") and isinstance(it.get("role"), str):
            out.append((TEXT if it["role"] == "assistant" else USER, None, i))
        else:
            out.append(None)
    return out


def repair_responses(doc: object, path: str) -> tuple[object, list[Edit]]:
    """The same normalization on a Responses ``input`` list; returns the new document and the edits.

    ``line`` and ``after`` in the edits are indexes in ``input``. A synthetic result says so in its
    output text only: the API refuses fields it does not know.
    """
    lst, _ = items_of(doc, "openai-responses", path)
    lint_document(doc, "openai-responses", path)  # the same shape checks as lint: LintError if unreadable
    slots = _responses_items(lst)
    items = tuple(it for it in slots if it is not None)
    new, changes = normalize_ours_report(items)
    moved = {c.tag for c in changes if c.op == "move"}
    dropped = {c.tag for c in changes if c.op in ("drop-orphan", "drop-duplicate")}
    edits = [Edit(c.op, c.call_id if isinstance(c.call_id, str) else None, c.tag, None, "input item")
             for c in changes if c.op in ("drop-orphan", "drop-duplicate")]
    out: list = []
    k = 0
    for i, slot in enumerate(slots):
        if slot is None:
            out.append(lst[i])
            continue
        if i in moved or i in dropped:
            continue
        if new[k][2] != i:
            raise LintError(f"{path}: /input/{i}: internal error: repair lost track of the item order")
        out.append(lst[i])
        k += 1
        while k < len(new) and (new[k][2] == SYNTHETIC or new[k][2] in moved):
            cid, tag = new[k][1], new[k][2]
            if tag == SYNTHETIC:
                custom = any(x.get("call_id") == cid and x.get("type") == "custom_tool_call" for x in out)
                kind = "custom_tool_call_output" if custom else "function_call_output"
                out.append({"type": kind, "call_id": cid, "output": SYNTHETIC_OUTPUT})
                edits.append(Edit("synthesize", cid, None, i, "input item"))
            else:
                out.append(lst[tag])
                edits.append(Edit("move", cid, tag, i, "input item"))
            k += 1
    if isinstance(doc, dict):
        doc = dict(doc, input=out)
    else:
        doc = out
    return doc, edits


def write_document(out_path: str, doc: object) -> None:
    """Write a JSON document (indented) atomically: temporary file, fsync, rename."""
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    d = os.path.dirname(os.path.abspath(out_path))
    try:
        if os.path.isdir(out_path):
            raise IsADirectoryError(21, "is a directory")
        fd, tmp = tempfile.mkstemp(prefix=".turnproof-repair-", suffix=".tmp", dir=d)
        try:
            with os.fdopen(fd, "wb") as w:
                w.write(data)
                w.flush()
                os.fsync(w.fileno())
            os.replace(tmp, out_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise LintError(f"{out_path}: cannot write: {e.strerror or e}") from None
    _fsync_dir(d)
