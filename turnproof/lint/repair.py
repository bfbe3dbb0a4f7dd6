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

Output is written as turnproof.fileio writes: a temporary file beside the target, fsynced, with
the target's owner, group and mode, renamed over it (a device or other non-regular target is
refused, a symbolic link followed); with --in-place the original is first kept as a backup
(a hard link, so complete or absent). On any error nothing is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from turnproof import fileio
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


def _write_rollout(path: str, max_line: int, progress, edits: list):
    def write(w) -> None:
        reader = RolloutReader(path, max_line, keep_lines=True, progress=progress)
        written = 0
        for ch in reader.chunks():
            written += _region(path, ch.lines, ch.items, w, edits)
        if not written:  # a rollout of blank lines is not a session: lint refuses it
            raise LintError(f"{path}: no line survives the repair (only torn lines); nothing to write")
    return write


def _lint_error(out_path: str, e: OSError) -> LintError:
    return LintError(f"{out_path}: cannot write: {e.strerror or e}")


def repair_to(path: str, out_path: str, max_line: int = DEFAULT_MAX_LINE, progress=None) -> list[Edit]:
    """Write the repaired rollout to ``out_path`` atomically (turnproof.fileio); return the edits made."""
    edits: list[Edit] = []
    try:
        fileio.atomic_write(out_path, _write_rollout(path, max_line, progress, edits), like=path)
    except fileio.UnsafePath as e:
        raise LintError(str(e)) from None
    except OSError as e:  # the reader's own errors are LintErrors already: this is the writing
        raise _lint_error(out_path, e) from None
    return edits


def replace_in_place(path: str, write, unchanged) -> str | None:
    """Rewrite ``path`` itself: stage the new bytes beside it, keep the original as a backup, rename.

    A symbolic link is followed (the file it points to is repaired, its backup beside it). Owner,
    group and mode are kept. A file with other hard links is refused (they would keep the old
    bytes), and so is one that changed while it was being repaired (a session still being
    written). ``unchanged(staged)`` True: nothing to do, nothing written. Returns the backup path.
    """
    try:
        real, st = fileio.resolve_output(path)
        if st is None:
            raise LintError(f"{path}: no such file")
        if st.st_nlink > 1 + (fileio.linked_backup(real) is not None):
            raise LintError(f"{path}: has {st.st_nlink} hard links, which would keep the unrepaired file; "
                            "write the repair elsewhere with -o")
        staged, real = fileio.stage(path, write)
        try:
            if unchanged(staged):
                fileio.discard(staged)
                return None
            now = os.stat(real)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
                raise LintError(f"{path}: changed while it was being repaired (is a session still writing it?); "
                                "nothing written")
            backup = fileio.atomic_backup(real)
            fileio.commit(staged, path)
        except BaseException:
            fileio.discard(staged)
            raise
        return backup
    except fileio.UnsafePath as e:
        raise LintError(str(e)) from None
    except OSError as e:
        raise _lint_error(path, e) from None


def repair_in_place(path: str, max_line: int = DEFAULT_MAX_LINE, progress=None) -> tuple[list[Edit], str | None]:
    """Repair ``path`` itself; the original is kept at the returned backup path (None: nothing to do)."""
    edits: list[Edit] = []
    backup = replace_in_place(path, _write_rollout(path, max_line, progress, edits),
                              lambda staged: not edits and _same_bytes(path, staged))
    return edits, backup


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
        if t in RESP_CALLS and it.get("call_id") in (None, ""):
            out.append(None)  # a call without call_id (a local_shell_call with only `id`): lint ignores it too
        elif t in RESP_CALLS:
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


def document_bytes(doc: object, path: str) -> bytes:
    """A repaired JSON document as indented JSON; NaN and Infinity, which no provider accepts, are refused."""
    try:
        return (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except ValueError:
        raise LintError(f"{path}: holds NaN or Infinity, which is not JSON and no provider accepts; "
                        "not repaired") from None


def write_document(out_path: str, data: bytes, like: str | None = None) -> None:
    """Write a document's bytes atomically (turnproof.fileio)."""
    try:
        fileio.write_bytes(out_path, data, like)
    except fileio.UnsafePath as e:
        raise LintError(str(e)) from None
    except OSError as e:
        raise _lint_error(out_path, e) from None
