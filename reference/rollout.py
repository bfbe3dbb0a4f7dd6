"""The rollout file: a writer task behind a queue, and the reader used on resume.

Writing (core/src/rollout/recorder.rs): the loop puts each record on an asyncio.Queue and goes on
(it waits only for the enqueue); one writer task appends each line to the JSONL file and flushes
it, and fsyncs it when the design asks. Memory is therefore ahead of the disk: a crash loses the
queued lines, and can leave a torn last line.

Line format: ``{"timestamp": "...Z", "type": T, "payload": P}`` with T in session_meta,
turn_context, response_item, event_msg. Only response_items and the turn_aborted event matter to
the pairing question, with the compacted and thread_rolled_back lines that shrink history;
``records`` / ``written`` count those ("model lines").

Reading: every line that is not a JSON object of that shape is skipped and reported (a torn last
line is the usual case); response_items are replayed in order; a ``compacted`` line replaces the
history so far (with its replacement_history, or else with the user messages and the summary); a
``thread_rolled_back`` event drops the last n user turns.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def line(kind: str, payload: dict) -> str:
    return json.dumps({"timestamp": _now(), "type": kind, "payload": payload}, separators=(",", ":"))


def is_model_line(kind: str, payload: dict) -> bool:
    return kind in ("response_item", "compacted") or (
        kind == "event_msg" and payload.get("type") in ("turn_aborted", "thread_rolled_back"))


SUMMARY_PREFIX = "[summary] "  # the reference's summary message (a user message, as Codex records it)


def is_turn_start(it: dict) -> bool:
    """A user message that starts a user turn: not a summary, not the <turn_aborted> marker."""
    if not (it.get("type") == "message" and it.get("role") == "user"):
        return False
    c = it.get("content")
    text = "".join(b.get("text", "") for b in c if isinstance(b, dict)) if isinstance(c, list) else str(c or "")
    return not (text.startswith(SUMMARY_PREFIX) or text.startswith("<turn_aborted>"))


def is_rollback_boundary(it: dict) -> bool:
    """Where a rollback counts a user turn: a turn start, or a compaction's summary (a plain user
    message: rust-v0.122.0 codex-rs/core/src/context_manager/history.rs:703-710)."""
    if is_turn_start(it):
        return True
    if not (it.get("type") == "message" and it.get("role") == "user"):
        return False
    c = it.get("content")
    text = "".join(b.get("text", "") for b in c if isinstance(b, dict)) if isinstance(c, list) else str(c or "")
    return text.startswith(SUMMARY_PREFIX)


def drop_last_user_turns(items: list, n: int) -> list:
    """drop_last_n_user_turns: cut before the n-th user turn from the end (rust-v0.122.0
    codex-rs/core/src/context_manager/history.rs:240-263)."""
    starts = [i for i, it in enumerate(items) if is_rollback_boundary(it)]
    return items[:starts[-n]] if 0 < n <= len(starts) else items


class Recorder:
    """Queue plus writer task. ``records``: model lines queued since this process started."""

    def __init__(self, path: str, sched, fsync: bool = False):
        self.path = path
        self.sched = sched
        self.fsync = fsync
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=256)
        self.records: list = []  # (kind, payload) of model lines, in queue order
        self.written = 0  # model lines written since this process started
        self.lines_written = 0  # all lines
        self.dead = False
        # a torn line left by a crash is closed first, so the next line does not join it
        needs_newline = False
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                needs_newline = f.read(1) != b"\n"
        self.f = open(path, "a", encoding="utf-8")
        if needs_newline:
            self.f.write("\n")
            self.f.flush()
        self.task = asyncio.ensure_future(self._writer())
        self.on_line = None  # hook called after each written line (the SIGKILL tests pause there)
        self.on_half = None  # if set: each line is written in two halves, this is called between

    def record(self, kind: str, payload: dict) -> None:
        if self.dead:
            return
        model = is_model_line(kind, payload)
        if model:
            self.records.append((kind, payload))
        self.queue.put_nowait((line(kind, payload), model))

    async def _writer(self) -> None:
        while True:
            text, model = await self.queue.get()
            await self.sched.gate(("write",))
            if self.dead:
                return
            if self.on_half is not None:  # two writes per line: a kill in between tears it
                half = len(text) // 2
                self.f.write(text[:half])
                self.f.flush()
                self.on_half(self)
                self.f.write(text[half:] + "\n")
            else:
                self.f.write(text + "\n")
            self.f.flush()
            if self.fsync:
                os.fsync(self.f.fileno())
            self.lines_written += 1
            if model:
                self.written += 1
            self.queue.task_done()
            if self.on_line is not None:
                self.on_line(self)

    def pending(self) -> list:
        """Lines queued but not written (for a simulated torn write)."""
        return [t for t, _ in self.queue._queue]  # noqa: SLF001

    async def flush(self) -> None:
        await self.queue.join()

    def kill(self, torn: bool = False) -> int:
        """The process dies now: nothing more reaches the file. Returns model lines written."""
        if torn and not self.dead:
            nxt = self.pending()
            if nxt:  # the write(2) of the next line was cut short
                self.f.write(nxt[0][: max(1, len(nxt[0]) // 2)])
                self.f.flush()
        self.dead = True
        self.task.cancel()
        self.f.close()
        return self.written

    async def close(self) -> None:
        await self.flush()
        self.dead = True
        self.task.cancel()
        self.f.close()


def new_session_file(directory: str, session_id: str | None = None) -> str:
    """~/.codex/sessions/YYYY/MM/DD/rollout-<local time>-<uuid>.jsonl, under ``directory``."""
    now = datetime.now()
    sid = session_id or str(uuid.uuid4())
    d = os.path.join(directory, now.strftime("%Y"), now.strftime("%m"), now.strftime("%d"))
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"rollout-{now.strftime('%Y-%m-%dT%H-%M-%S')}-{sid}.jsonl")


@dataclass
class Loaded:
    items: list  # response_item payloads, in file order
    lines: list = field(default_factory=list)  # (type, payload) of every good line
    skipped: list = field(default_factory=list)  # (line number, reason)
    meta: dict | None = None


def read(path: str) -> Loaded:
    out = Loaded(items=[])
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    rows = raw.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    for n, text in enumerate(rows, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            last = n == len(rows) and not raw.endswith("\n")
            out.skipped.append((n, "torn last line" if last else "not valid JSON"))
            continue
        if not (isinstance(obj, dict) and isinstance(obj.get("type"), str) and isinstance(obj.get("payload"), dict)):
            out.skipped.append((n, "not a rollout line"))
            continue
        kind, payload = obj["type"], obj["payload"]
        out.lines.append((kind, payload))
        if kind == "session_meta" and out.meta is None:
            out.meta = payload
        elif kind == "response_item":
            out.items.append(payload)
        elif kind == "compacted":  # history is replaced from here on
            rh = payload.get("replacement_history")
            if isinstance(rh, list):
                out.items = [p for p in rh if isinstance(p, dict)]
            else:  # older files: the user messages so far, then the summary
                users = [p for p in out.items if p.get("type") == "message" and p.get("role") == "user"]
                out.items = users + [{"type": "message", "role": "user",
                                      "content": [{"type": "input_text", "text": str(payload.get("message", ""))}]}]
        elif kind == "event_msg" and payload.get("type") == "thread_rolled_back":  # replayed on resume
            n = payload.get("num_turns")
            if isinstance(n, int) and not isinstance(n, bool):
                out.items = drop_last_user_turns(out.items, n)
    return out


def model_lines(path: str) -> list:
    """(type, payload) of the response_item and turn_aborted lines of a file, in order."""
    return [(k, p) for k, p in read(path).lines if is_model_line(k, p)]
