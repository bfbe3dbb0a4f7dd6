"""`turnproof repair`: the repair plan (plan.py) written back onto a file, for every dialect lint reads.

What changes is decided by plan.plan on the file's history (see there): results move to their call
group (up when recorded late, down when recorded before their call), a call left without a result
gets a synthetic one after its group, an orphan no provider state could answer is dropped, a second
result is dropped only when it is a copy or a synthetic one, and two different results for one call
are refused (CannotRepair, exit 1) rather than one of them lost. Every other line or entry (user and
assistant messages, reasoning, events, turn contexts) is kept byte for byte, in its place.

Codex rollouts (this module): read chunk by chunk exactly as lint reads them (rollout.py), so memory
stays bounded: one chunk's lines, plus one entry per call id. Torn lines are dropped (Codex skips
them on load) and reported. A synthetic result is a ``function_call_output``
(``custom_tool_call_output`` for a custom tool call) whose output says so and whose payload carries
``"turnproof_synthetic": true``; it takes the timestamp of the line it follows.

Timestamps of moved lines: a rollout stays in time order for every reader that assumes it. A line
that moves takes the timestamp of the line it now follows, and keeps the time it was really
recorded in its payload, ``"turnproof_moved": {"line": N, "timestamp": "..."}`` (N: its line in
the file before the repair), as rescue.py marks the lines it moves. Nothing else in the line
changes; Codex ignores fields it does not know.

JSON documents (request bodies, the Gemini CLI session): repair_bodies.py; Claude Code session
JSONL: repair_claude.py.

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
from turnproof.model.items import CALL, SYNTHETIC

from .findings import LintError
from .plan import Conflict, plan
from .rollout import DEFAULT_MAX_LINE, Line, RolloutReader

SYNTHETIC_OUTPUT = ("aborted: no result was recorded for this call "
                    "(synthetic result added by `turnproof repair`)")
MARKER = "turnproof_synthetic"
MOVED = "turnproof_moved"


class CannotRepair(Exception):
    """Repair would have to drop a tool result (or make one up that the API refuses): exit 1, nothing written."""


@dataclass(frozen=True)
class Edit:
    """One change, in file terms: ``line`` where the item was, ``after`` what it now follows."""

    op: str  # drop-orphan | drop-duplicate | drop-synthetic | move | move-text | synthesize | drop-torn
    call_id: object
    line: object  # a line number, an input index, or a JSON pointer
    after: object = None
    unit: str = "line"  # what ``line`` and ``after`` count: "line", "input item", or "" (JSON pointers)
    direction: str | None = None  # move: up | down
    twin: object = None  # drop-duplicate / drop-synthetic: where the result kept is

    def _at(self, x: object) -> str:
        return f"{self.unit} {x}" if self.unit else str(x)

    def describe(self) -> str:
        cid = self.call_id if isinstance(self.call_id, str) else "(no call_id)"
        if self.op == "drop-orphan":
            return (f"{self._at(self.line)}: dropped result for {cid}: no call for it anywhere in the history, "
                    "so no provider could answer it")
        if self.op == "drop-duplicate":
            return f"{self._at(self.line)}: dropped second result for {cid}: the same as {self._at(self.twin)}"
        if self.op == "drop-synthetic":
            return (f"{self._at(self.line)}: dropped turnproof's synthetic result for {cid}: the real one at "
                    f"{self._at(self.twin)} takes its place")
        if self.op == "move":
            return f"{self._at(self.line)}: moved result for {cid} {self.direction or 'up'}, after {self._at(self.after)}"
        if self.op == "move-text":
            at = f"after {self._at(self.after)}" if self.after is not None else "to the start"
            return f"{self._at(self.line)}: moved assistant text {at}, before its call group"
        if self.op == "synthesize":
            return f"added synthetic result for {cid} after {self._at(self.after)}: no result was recorded"
        return f"{self._at(self.line)}: dropped torn line (cut short by a crash; Codex skips it)"

    def to_json(self) -> dict:
        key = {"line": "line", "input item": "index"}.get(self.unit, "pointer")
        d = {"op": self.op, "call_id": self.call_id if isinstance(self.call_id, str) else None, key: self.line,
             "after": self.after}
        if self.direction:
            d["direction"] = self.direction
        if self.twin is not None:
            d["kept"] = self.twin
        return d


def flat_emit(units: list, p) -> object:
    """Where each unit goes when every item lives in a unit of its own file order (lines, input items,
    chat messages). ``units``: (key, tags) in file order. Yields ("unit", key), ("moved", key, after,
    direction), ("text", key, after) for held text moved before its call group, and ("synth", call_id,
    after, call key), ``after`` being the last unit holding items (None: the start)."""
    order = p.order
    texts = getattr(p, "texts", ())
    home = {t: key for key, tags in units for t in tags if t in p.moved}
    gone: set = set()  # moved units already written (a unit holding several moved results goes once)
    k = 0
    last = None
    call_at: dict = {}

    def placed():  # what the plan puts here that lives elsewhere in the file
        nonlocal k
        while k < len(order) and (order[k][2] == SYNTHETIC or order[k][2] in p.moved):
            cid, t = order[k][1], order[k][2]
            if t == SYNTHETIC:
                yield ("synth", cid, last, call_at.get(cid))
            elif id(home[t]) not in gone:
                gone.add(id(home[t]))
                yield ("text", home[t], last) if t in texts else ("moved", home[t], last, p.moved[t])
            k += 1

    for key, tags in units:
        live = [t for t in tags if t not in p.kept]
        if not live:
            yield ("unit", key)
            continue
        if live[0] in p.moved or live[0] in p.dropped:
            continue  # written with its group, or dropped
        yield from placed()  # held text moved up before this unit
        yield ("unit", key)
        last = key
        for t in live:
            it = order[k]
            if it[2] != t:
                raise AssertionError(f"repair lost track of the order at {t!r}")
            if it[0] == CALL:
                call_at[it[1]] = key
            k += 1
        yield from placed()
    if k != len(order):
        raise AssertionError("repair did not place every item")


def conflict_error(path: str, c: Conflict, where) -> CannotRepair:
    return CannotRepair(f"{path}: call {c.call_id} has two different results ({where(c.kept)} and {where(c.other)}); "
                        "repair never drops a tool result, so it will not choose one: remove one by hand")


# ---- Codex rollouts ------------------------------------------------------------------------------
def synthetic_line(cid: str, call: Line | None, ts: object) -> bytes:
    """The synthetic result line; its timestamp is the line it follows (the file stays in time order)."""
    out_type = "custom_tool_call_output" if call is not None and call.payload_type == "custom_tool_call" \
        else "function_call_output"
    if not isinstance(ts, str):
        ts = call.timestamp if call is not None and isinstance(call.timestamp, str) else "1970-01-01T00:00:00.000Z"
    doc = {"timestamp": ts, "type": "response_item",
           "payload": {"type": out_type, "call_id": cid, "output": SYNTHETIC_OUTPUT, MARKER: True}}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _nl(raw: bytes) -> bytes:
    return raw if raw.endswith(b"\n") else raw + b"\n"


def moved_line(src: Line, ts: object) -> bytes:
    """A line that moves: marked in its payload with its line and the time it was recorded (as rescue.py
    marks it), and given the timestamp of the line it now follows, so the file stays in time order."""
    obj = json.loads(src.raw)
    p = obj["payload"] if isinstance(obj.get("payload"), dict) else obj  # early rollouts: the bare item
    p[MOVED] = {"line": src.n, "timestamp": obj.get("timestamp")}
    if isinstance(ts, str) and "timestamp" in obj:
        obj["timestamp"] = ts
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _payload(lines_by_n: dict, tag: object) -> dict:
    """The item a tag names: a line's payload (a bare item: the line), or a replacement_history entry."""
    n, k = (tag, None) if isinstance(tag, int) else tag
    obj = json.loads(lines_by_n[n].raw)
    p = obj.get("payload") if isinstance(obj.get("payload"), dict) else obj
    if k is not None:
        p = p["replacement_history"][k]
    return p


def _same_result(a: dict, b: dict) -> bool:
    strip = ("id", MARKER, MOVED)
    return {k: v for k, v in a.items() if k not in strip} == {k: v for k, v in b.items() if k not in strip}


def _chunk(path: str, lines: list, items: tuple, w, edits: list, grouping: str) -> int:
    """Write one chunk's lines repaired; return how many are not blank."""
    by_n = {ln.n: ln for ln in lines if ln.tags}
    cid_of = {it[2]: it[1] for it in items}

    def where(tag: object) -> str:
        return f"line {tag if isinstance(tag, int) else tag[0]}"

    try:
        p = plan(items, grouping=grouping,
                 same=lambda a, b: _same_result(_payload(by_n, a), _payload(by_n, b)),
                 made_up=lambda t: _payload(by_n, t).get(MARKER) is True)
    except Conflict as c:
        raise conflict_error(path, c, where) from None
    for t in list(p.moved) + list(p.dropped):
        if not isinstance(t, int):
            cid = cid_of.get(t)
            raise LintError(f"{path}:{t[0]}: the result for {cid} inside this compacted line's "
                            "replacement_history would have to move or go: not repaired")
    for t, d in p.dropped.items():
        edits.append(Edit(d.op, d.call_id, t, twin=d.twin if isinstance(d.twin, int) else None))
    for ln in lines:
        if ln.torn:
            edits.append(Edit("drop-torn", None, ln.n))
    written = 0
    ts = None  # the timestamp of the last line written
    for ev in flat_emit([(ln, ln.tags) for ln in lines if not ln.torn], p):
        if ev[0] == "unit":
            ln = ev[1]
            w.write(_nl(ln.raw))
            written += not ln.raw.isspace()
            if isinstance(ln.timestamp, str):
                ts = ln.timestamp
        elif ev[0] == "moved":
            _, src, after, direction = ev
            w.write(moved_line(src, ts))
            written += 1
            edits.append(Edit("move", cid_of.get(src.n), src.n, after.n, direction=direction))
        elif ev[0] == "text":
            _, src, after = ev
            w.write(moved_line(src, ts))
            written += 1
            edits.append(Edit("move-text", None, src.n, None if after is None else after.n, direction="up"))
        else:
            _, cid, after, call = ev
            w.write(synthetic_line(cid, call, ts))
            written += 1
            edits.append(Edit("synthesize", cid, None, after.n))
    return written


def _write_rollout(path: str, max_line: int, progress, edits: list, grouping: str = "run"):
    def write(w) -> None:
        reader = RolloutReader(path, max_line, keep_lines=True, progress=progress)
        written = 0
        for ch in reader.chunks():
            written += _chunk(path, ch.lines, ch.items, w, edits, grouping)
        if not written:  # a rollout of blank lines is not a session: lint refuses it
            raise LintError(f"{path}: no line survives the repair (only torn lines); nothing to write")
    return write


def _lint_error(out_path: str, e: OSError) -> LintError:
    return LintError(f"{out_path}: cannot write: {e.strerror or e}")


def repair_to(path: str, out_path: str, max_line: int = DEFAULT_MAX_LINE, progress=None,
              grouping: str = "run") -> list[Edit]:
    """Write the repaired rollout to ``out_path`` atomically (turnproof.fileio); return the edits made."""
    edits: list[Edit] = []
    try:
        fileio.atomic_write(out_path, _write_rollout(path, max_line, progress, edits, grouping), like=path)
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


def repair_in_place(path: str, max_line: int = DEFAULT_MAX_LINE, progress=None,
                    grouping: str = "run") -> tuple[list[Edit], str | None]:
    """Repair ``path`` itself; the original is kept at the returned backup path (None: nothing to do)."""
    edits: list[Edit] = []
    backup = replace_in_place(path, _write_rollout(path, max_line, progress, edits, grouping),
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
