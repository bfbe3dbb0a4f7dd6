"""The turn loop (core/src/codex.rs as of rust-v0.77.0, with the knobs of a Design).

One Session is one process's view of a Codex session:

- ``submit`` (run_task): records the user message, then runs turns while a follow-up is needed.
- ``_run_turn`` (run_turn): builds the prompt from a normalized clone of history, sends it; the
  stub provider may answer 400 (InvalidRequest: the turn ends, nothing is retried). Stream
  failures are retried ``max_retries`` times, reusing the first attempt's prompt or rebuilding
  it, per design.
- ``_try_run_turn``: writes a turn_context line, reads the stream while racing the cancellation
  token. Calls, reasoning and (per design) text are recorded as they arrive; each call's tool
  starts as a task and goes to the back of ``in_flight``. Completed leaves the loop and ``_drain``
  records outputs in call order (FuturesOrdered), whatever order the tools finish in; a failed
  tool is logged and its call gets no output. A stream error returns at once (in_flight is
  dropped, its tools cancelled; a tool that had finished loses its result) unless the design
  drains first. An early close is what the design's parser makes of it (``early_close``): chat.rs
  completes, the Responses parser sends an error, and a bare close (``break Err(Stream)``: drain,
  then retry) happens only if the parser dies.
- ``interrupt`` (handle_task_abort): cancels the token, gives the task 100 ms to finish its drain,
  then cancels it (hard abort), then persists a turn_aborted event (v0.122, ``turn_aborted_marker``:
  after recording a ``<turn_aborted>`` user message in history and the rollout).
- ``compact`` (local compaction, Design.compaction): between turns (/compact), or, after-drain,
  before a new request that is not a retry (the test bench releases the request gate with
  ("Compact", k)). The summary request (history plus the compact prompt, raw or normalized, after k
  context-window errors that each dropped its oldest item: removal.py) is judged like every request;
  rejected, the compaction fails (mid-turn, the turn ends). Accepted, history becomes what the
  design's cut leaves (removal.cuts: the user messages and a summary, or a summary and a tail), and a
  ``compacted`` line with the replacement follows the memory replace
  (a crash in between resumes the whole history). A result whose call is gone is recorded or
  dropped (late_result). ``rollback`` (Op::ThreadRollback, between turns): history is cut before the
  n-th user turn from the end and a ``thread_rolled_back`` event follows. ``truncate_output``: a
  result's content is cut in history (the rollout keeps it whole).
- ``crash``: the process dies (memory, tasks and queued rollout lines are gone).
- ``resume``: history is rebuilt from the file's response_items and normalized, in memory.

Every step is reported on ``log`` with the model's action names and arguments (calls by number).
"""

from __future__ import annotations

import asyncio
import os
import re

from . import items as It
from .designs import Design
from .normalize import normalize, unanswered
from .provider import InvalidRequest, judge
from .removal import cuts, is_truncated, summary_requests, truncated
from .rollout import SUMMARY_PREFIX, Recorder, drop_last_user_turns, is_rollback_boundary, read
from .sched import FreeScheduler, ToolError
from .tools import ScriptedModel, Tool
from .wire import build

GRACE_SECONDS = 0.1  # tasks/mod.rs GRACEFULL_INTERRUPTION_TIMEOUT_MS


class StreamFailure(Exception):
    """A stream error or early close, after the retries (an Error event; the turn ends)."""


class TurnAborted(Exception):
    """The turn was interrupted: run_task ends silently."""


class Refused(Exception):
    """seed fix 2: the request would be rejected, so it is not sent."""


class CompactionFailed(Exception):
    """The summary request of a compaction before a request was rejected: the turn ends."""


def call_number(call_id: str) -> int:
    """The call's number in the model's vocabulary: call_N / toolu_N is N; tool-call-K (chat.rs's
    name for a call without an id, K its index in the response) is -1-K."""
    m = re.fullmatch(r"tool-call-(\d+)", call_id)
    if m:
        return -1 - int(m.group(1))
    m = re.search(r"(\d+)$", call_id)
    return int(m.group(1)) if m else -1


class EventLog(list):
    """(action, arg) steps, across the sessions of one run; ``listener`` sees each as it happens."""

    listener = None

    def emit(self, action: str, arg: object = None) -> None:
        self.append((action, arg))
        if self.listener is not None:
            self.listener(action, arg)


class Session:
    def __init__(self, design: Design, path: str, *, sched=None, server: ScriptedModel | None = None,
                 tools: dict | None = None, max_retries: int = 5, log: EventLog | None = None):
        self.d = design
        self.path = path
        self.sched = sched or FreeScheduler()
        self.server = server or ScriptedModel.for_design(design)
        self.tools = tools or {"shell": Tool("shell")}
        self.max_retries = max_retries
        self.log = log if log is not None else EventLog()
        self.history: list = []
        self.phase = "idle"
        self.in_flight: list = []  # [call_id, task] in call order
        self.drained = 0
        self.retries_left = max_retries
        self.token = asyncio.Event()
        self.turn_task: asyncio.Task | None = None
        self.abort_task: asyncio.Task | None = None
        self.tool_lock = asyncio.Lock()  # exclusive tools (shell) run one at a time
        self.recorder: Recorder | None = None
        self.dead = False
        self.errors: list = []  # Error events of ended turns (not persisted)
        self.rejections: list = []  # HttpError answers
        self.requests: list = []  # (normalized items, body, HttpError | None) for every request built
        self.skipped: list = []  # lines skipped on resume
        self.lost_results: list = []  # per request: ids of real results recorded but not sent
        # results-recorded: ids of tools that had finished when their futures were dropped (not by
        # a hard abort), since the last request; per request, the ids dropped before it
        self.dropped: list = []
        self.unrecorded: list = []
        self.refused_calls: list = []
        self.summary_requests: list = []  # indexes in ``requests`` of compactions' summary requests
        # free-running: called before each new request that is not a retry (the context window may be
        # full); returns the trim count of a compaction to run first, or None
        self.compact_before = None

    # ---- construction ----------------------------------------------------------------------------
    @classmethod
    def start(cls, design: Design, path: str, **kw) -> "Session":
        """A new session: the file gets its session_meta line (call inside the event loop)."""
        s = cls(design, path, **kw)
        s.recorder = Recorder(path, s.sched, design.fsync)
        s.recorder.record("session_meta", {"id": os.path.basename(path), "originator": "turnproof-reference",
                                           "cwd": os.getcwd(), "design": design.name})
        return s

    @classmethod
    def resume(cls, design: Design, path: str, **kw) -> "Session":
        """A restarted process picks the session up from its rollout file."""
        s = cls(design, path, **kw)
        loaded = read(path)
        s.skipped = loaded.skipped
        files = loaded.items
        if design.refuse_unanswered_resume and unanswered(files):
            s.refused_calls = unanswered(files)
            s.phase = "refused"
            s.log.emit("ResumeRefused")
            return s
        s.recorder = Recorder(path, s.sched, design.fsync)
        s.history = normalize(files, design.normalization)
        if design.persist_synthetic:  # record the fillers, so the file no longer has open calls
            on_file = {(it.get("call_id"), It.text_of(it)) for it in files if It.is_output(it)}
            for it in s.history:
                if It.is_made_up(it) and (it["call_id"], It.text_of(it)) not in on_file:
                    s.recorder.record("response_item", it)
        s.log.emit("Resume")
        return s

    # ---- helpers ---------------------------------------------------------------------------------
    def _record(self, item: dict) -> None:
        """Memory first, then the writer's queue (the caller does not wait for the disk)."""
        if self.dead:
            return
        self.history.append(item)
        self.recorder.record("response_item", item)

    def _emit(self, action: str, arg: object = None) -> None:
        if not self.dead:
            self.log.emit(action, arg)

    def _set_phase(self, phase: str) -> None:
        if not self.dead:
            self.phase = phase

    # ---- the user's side -------------------------------------------------------------------------
    def submit(self, text: str = "go on") -> asyncio.Task:
        """run_task: record the user message and start the turn."""
        if self.phase != "idle":
            raise RuntimeError(f"a turn is running (phase {self.phase})")
        self._record(It.user(text))
        self.token = asyncio.Event()
        self._set_phase("ready")
        self._emit("UserMessage")
        self.turn_task = asyncio.ensure_future(self._run_task())
        return self.turn_task

    def interrupt(self) -> None:
        """handle_task_abort: cancel the token; the abort handler takes it from there."""
        if self.phase not in ("stream", "drain"):
            raise RuntimeError(f"nothing to interrupt (phase {self.phase})")
        self.token.set()
        self._set_phase("cancel")
        self._emit("Interrupt")
        self.abort_task = asyncio.ensure_future(self._handle_task_abort())

    def compact(self, trimmed: int | None = 0, cut: str | None = None) -> bool:
        """/compact, or the context window filling up, between turns: True if history was replaced.
        ``trimmed``: how many context-window errors the summary request met first (``_compact``)."""
        if self.phase != "idle" or not self.d.compacts:
            raise RuntimeError(f"no compaction here (phase {self.phase}, compaction {self.d.compaction})")
        return self._compact(trimmed, cut)

    def compaction_cuts(self) -> list:
        """[(label, history after)]: what a compaction may leave now (removal.cuts)."""
        return cuts(self.history, self.d.compaction_keeps, It.user(SUMMARY_PREFIX + "the work so far"))

    def _compact(self, trimmed: int | None, cut: str | None = None) -> bool:
        """Local compaction (rust-v0.78.0 codex-rs/core/src/compact.rs:64-179; rust-v0.47.0
        codex-rs/core/src/codex/compact.rs:74-122). The summary request (compaction_request: history
        plus the prompt, raw or normalized) after ``trimmed`` context-window errors, each of which
        dropped its oldest item (compaction_trim), is judged like every request; accepted, history
        becomes the cut (compaction_cuts), and a ``compacted`` line with the replacement
        follows the memory replace (a crash in between resumes the whole history). The step's
        argument is (cut, trimmed, accepted), the model's CompactArg; ``cut`` names one of
        ``compaction_cuts`` (None: the first)."""
        options = self.compaction_cuts()
        chosen = next((h for label, h in options if cut in (None, label)), None)
        if chosen is None:
            raise ValueError(f"no cut {cut!r} here; cuts: {[label for label, _ in options]}")
        cut = next(label for label, h in options if h is chosen)
        if self.d.compaction_request == "none":
            trimmed = None
        else:
            options = summary_requests(self.history, self.d.compaction_trim)
            if not (isinstance(trimmed, int) and 0 <= trimmed < len(options)):
                raise ValueError(f"trimmed must be 0..{len(options) - 1}, not {trimmed!r}")
            prompt = options[trimmed]
            if self.d.compaction_request == "normalized":
                prompt = normalize(prompt, self.d.normalization)
            body = build(prompt, self.d.wire, self.d.chat_grouping)
            verdict = judge(self.d.wire, body)
            self.summary_requests.append(len(self.requests))
            self.requests.append((prompt, body, verdict))
            self.lost_results.append([])  # results-kept and results-recorded judge turn requests only
            self.unrecorded.append([])
            if verdict is not None:
                self.rejections.append(verdict)
                self.errors.append(verdict.message)
                self._emit("Compact", ("", trimmed, False))
                return False
        summary = SUMMARY_PREFIX + "the work so far"
        self.history = list(chosen)  # memory first, then the line (the crash window)
        self.recorder.record("compacted", {"message": summary, "replacement_history": list(chosen)})
        self._emit("Compact", (cut, trimmed, True))
        return True

    def turns(self) -> int:
        """User turns in history (what a rollback may drop)."""
        return sum(1 for it in self.history if is_rollback_boundary(it))

    def rollback(self, num_turns: int) -> None:
        """Op::ThreadRollback, refused while a turn is active (rust-v0.122.0
        codex-rs/core/src/session/handlers.rs:665-775)."""
        if self.phase != "idle":
            raise RuntimeError("Cannot rollback while a turn is in progress.")
        if not 1 <= num_turns <= self.turns():
            raise ValueError(f"num_turns must be 1..{self.turns()}, not {num_turns}")
        self.history = drop_last_user_turns(self.history, num_turns)
        self.recorder.record("event_msg", {"type": "thread_rolled_back", "num_turns": num_turns})
        self._emit("Rollback", num_turns)

    def truncatable(self) -> str | None:
        """The call id of the oldest real result whose content is whole, if none is truncated yet."""
        if any(is_truncated(it) for it in self.history):
            return None
        return next((it["call_id"] for it in self.history if It.is_output(it) and not It.is_made_up(it)
                     and not It.text_of(it).endswith(It.USER_ABORT_SUFFIX)), None)

    def truncate_output(self) -> str:
        """A result's content truncated in history (process_item, rust-v0.78.0
        codex-rs/core/src/context_manager/history.rs:227-265): content only, the item stays; the
        rollout keeps the whole content. Between turns, one result (pairing never reads content)."""
        cid = self.truncatable() if self.phase == "idle" and self.d.truncate_outputs else None
        if cid is None:
            raise RuntimeError("no result to truncate")
        i = next(i for i, it in enumerate(self.history) if It.is_output(it) and it["call_id"] == cid)
        self.history[i] = truncated(self.history[i])
        self._emit("TruncateOutput", call_number(cid))
        return cid

    def crash(self, torn: bool = False) -> int:
        """The process is killed: returns (and logs) how many queued model lines reached the disk."""
        k = self.recorder.kill(torn) if self.recorder else 0
        self.log.emit("Crash", k)
        self.dead = True
        self.phase = "down"
        for t in [self.turn_task, self.abort_task] + [task for _, task in self.in_flight]:
            if t is not None:
                t.cancel()
        return k

    def turn_task_done(self) -> bool:
        return all(t is None or t.done() for t in (self.turn_task, self.abort_task))

    async def wait_turn(self) -> None:
        """Until the current turn (and any abort) is over (free-running use)."""
        for t in (self.turn_task, self.abort_task):
            if t is not None:
                await asyncio.wait({t})
        if self.abort_task is not None:  # an interrupt may have started it while we waited
            await asyncio.wait({self.abort_task})

    async def close(self) -> None:
        if self.recorder is not None and not self.dead:
            await self.recorder.close()

    # ---- run_task / run_turn ---------------------------------------------------------------------
    async def _run_task(self) -> None:
        try:
            while await self._run_turn():
                pass
        except TurnAborted:
            return  # ends silently; handle_task_abort persists the event
        except InvalidRequest as e:
            self.errors.append(e.error.message)
        except (StreamFailure, Refused, CompactionFailed) as e:
            self.errors.append(str(e))
        if not self.token.is_set():
            self._end_turn()

    def _end_turn(self) -> None:
        self.in_flight, self.drained = [], 0
        self.retries_left = self.max_retries
        self._set_phase("idle")

    async def _run_turn(self) -> bool:
        """One model request with its retries; True if the tools' outputs need a follow-up."""
        self.retries_left = self.max_retries
        prompt = None
        while True:
            self._set_phase("ready")
            self.in_flight, self.drained = [], 0
            go = await self.sched.gate(("SendRequest",))
            if go is None and self.compact_before is not None and self.retries_left == self.max_retries \
                    and self.d.compaction == "after-drain":
                k = self.compact_before(self)
                go = None if k is None else ("Compact", k)
            # the context window is full before a new request (not a retry): compact first (rust-v0.78.0
            # codex-rs/core/src/codex.rs:2241-2249 pre-turn, :2328-2335 after the drain); the test
            # bench says when, by releasing the request gate with ("Compact", trimmed)
            while isinstance(go, tuple) and go[:1] == ("Compact",):
                if not (self.d.compaction == "after-drain" and self.retries_left == self.max_retries):
                    raise RuntimeError("no compaction before this request")
                if not self._compact(*go[1:]):
                    raise CompactionFailed(self.errors.pop())
                go = await self.sched.gate(("SendRequest",))
            if prompt is None or self.d.retry_prompt == "rebuild":
                prompt = normalize(self.history, self.d.normalization)  # on a clone: memory is unchanged
            body = build(prompt, self.d.wire, self.d.chat_grouping)
            verdict = judge(self.d.wire, body)
            self.requests.append((prompt, body, verdict))
            self.lost_results.append(self._lost(prompt))
            self.unrecorded.append(self.dropped)
            self.dropped = []
            if verdict is not None and self.d.validate_before_send:
                self._emit("RefuseRequest")
                raise Refused(f"request not sent: {verdict.message}")
            if verdict is not None:
                self.rejections.append(verdict)
                self._emit("SendRequest", "rejected")
                if self.d.retry_rejected:
                    continue
                raise InvalidRequest(verdict)
            stream = self.server.stream(body)
            self._set_phase("stream")
            self._emit("SendRequest", "accepted")
            try:
                return await self._try_run_turn(stream)
            except StreamFailure:
                if self.retries_left <= 0:
                    raise
                self.retries_left -= 1

    def _lost(self, prompt: list) -> list:
        """results-kept: real tool results in history (= recorded) that this prompt leaves out."""
        sent = {(it["call_id"], It.text_of(it)) for it in prompt if It.is_output(it)}
        cut = {it["call_id"] for it in prompt if is_truncated(it)}  # a truncated content is the same result
        return [it["call_id"] for it in self.history if It.is_output(it) and not It.is_made_up(it)
                and (it["call_id"], It.text_of(it)) not in sent and it["call_id"] not in cut]

    async def _next_event(self, stream):
        """The next stream event, or None once the token is cancelled."""
        nxt = asyncio.ensure_future(self.sched.stream_next(stream))
        stop = asyncio.ensure_future(self.token.wait())
        try:
            done, _ = await asyncio.wait({nxt, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (nxt, stop):
                if not f.done():
                    f.cancel()
        return nxt.result() if nxt in done else None

    async def _try_run_turn(self, stream) -> bool:
        self.recorder.record("turn_context", {"cwd": os.getcwd(), "model": "scripted", "design": self.d.name})
        held = None  # chat SSE aggregated text, emitted when the stream completes
        try:
            while True:
                ev = await self._next_event(stream)
                if ev is None:  # cancelled: `break Err(TurnAborted)`; the drain still runs
                    break
                kind = ev[0]
                if kind == "reasoning":
                    self._record(It.reasoning(ev[1] if len(ev) > 1 else "thinking"))
                    self._emit("StreamReasoning")
                elif kind == "text" and ev[1] == "":
                    # an empty message (raw chat parser, "content": "" beside calls): part of the
                    # calls' completion in the model, not a StreamText step; held the same way
                    held = ""
                elif kind == "text":
                    if self.d.text_lands == "as-streamed":
                        self._record(It.assistant(ev[1]))
                    else:
                        held = ev[1]
                    self._emit("StreamText")
                elif kind == "tool_call":
                    _, cid, name, args = ev
                    self._record(It.call(cid, name, args))
                    task = asyncio.ensure_future(self._run_tool(cid, name, args))
                    self.in_flight.append([cid, task])
                    self._emit("StreamToolCall", len(self.in_flight))
                elif kind == "completed" or (kind == "closed" and self.d.early_close == "completed"):
                    # on a close the chat parser completes (flush_and_complete)
                    self._emit("StreamCompleted" if kind == "completed" else "StreamClosed")
                    if held is not None and not self.d.drain_before_completed:
                        self._record(It.assistant(held))
                        held = None
                    self._set_phase("drain")
                    await self._drain()
                    if self.token.is_set():
                        raise TurnAborted()
                    if held is not None:
                        self._record(It.assistant(held))
                    return bool(self.in_flight)
                elif kind == "error" or (kind == "closed" and self.d.early_close == "error"):
                    # the Responses parser sends an error on a close before response.completed
                    name = "StreamError" if kind == "error" else "StreamClosed"
                    if self.d.drain_on_stream_error:
                        self._emit(name)
                        break
                    before = len(self.dropped)
                    self._lose_in_flight()  # `res?`: return at once; in_flight is dropped
                    lost = tuple(call_number(c) for c in self.dropped[before:])
                    self._emit(name, lost or None)  # the argument: finished tools whose results it dropped
                    raise StreamFailure(ev[1] if len(ev) > 1 else "stream closed before response.completed")
                elif kind == "closed":  # early_close == "closed": the channel ended, `break Err(Stream)`
                    self._emit("StreamClosed")
                    break
                else:
                    raise ValueError(f"unknown stream event {ev!r}")
            if not self.token.is_set():
                self._set_phase("drain")
            await self._drain()
            if self.token.is_set():
                raise TurnAborted()
            raise StreamFailure("stream closed before response.completed")
        finally:
            for _, task in self.in_flight[self.drained:]:
                task.cancel()  # dropping in_flight aborts the tools

    async def _drain(self) -> None:
        """drain_in_flight: outputs in the order the calls were pushed."""
        while self.drained < len(self.in_flight):
            cid, task = self.in_flight[self.drained]
            if not task.done():
                await asyncio.wait({task})
            await self.sched.gate(("drain", cid))
            if task.cancelled() or task.exception() is not None:
                if self.d.persist_synthetic:
                    self._record(It.output(cid, It.SYNTHETIC))
                self.drained += 1
                self._emit("DrainFailed", call_number(cid))
            else:
                # late_result drop: a result whose call was compacted away is not recorded
                gone = self.d.late_result == "drop" and not any(It.is_call(it) and it["call_id"] == cid
                                                                for it in self.history)
                if not gone:
                    self._record(It.output(cid, task.result()))
                self.drained += 1
                self._emit("DrainOutput", call_number(cid))

    def _lose_in_flight(self, hard_abort: bool = False) -> None:
        """Calls not yet drained get no output (a recorded synthetic one, per design). A tool that
        had finished loses its real output (results-recorded), unless the task was hard-aborted."""
        for cid, task in self.in_flight[self.drained:]:
            if not hard_abort and task.done() and not task.cancelled() and task.exception() is None:
                self.dropped.append(cid)
            task.cancel()
            if self.d.persist_synthetic:
                self._record(It.output(cid, It.SYNTHETIC))
        self.in_flight, self.drained = [], 0

    # ---- tools -----------------------------------------------------------------------------------
    async def _run_tool(self, cid: str, name: str, args: dict) -> str:
        tool = self.tools.get(name) or Tool(name)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        if tool.parallel_safe:
            return await self._race_tool(cid, tool, args, t0)
        async with self.tool_lock:
            return await self._race_tool(cid, tool, args, t0)

    async def _race_tool(self, cid: str, tool: Tool, args: dict, t0: float) -> str:
        work = asyncio.ensure_future(self.sched.tool_work(cid, tool, args))
        if tool.honours_cancel(args):
            seen = asyncio.ensure_future(self.sched.cancel_seen(cid, self.token))
        else:  # never notices the token: only the hard abort stops it
            seen = asyncio.get_running_loop().create_future()
        try:
            done, _ = await asyncio.wait({work, seen}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (work, seen):
                if not f.done():
                    f.cancel()
        n = call_number(cid)
        if work in done:
            try:
                out = work.result()
            except ToolError:
                self._emit("ToolFail", n)
                raise
            self._emit("ToolFinish", n)
            return out
        self._emit("ToolAbort", n)
        wall = asyncio.get_running_loop().time() - t0
        return f"Wall time: {wall:.1f} seconds\n{It.USER_ABORT_SUFFIX}"

    # ---- interrupt -------------------------------------------------------------------------------
    async def _handle_task_abort(self) -> None:
        task = self.turn_task
        if self.d.hard_abort_drain:
            late = await self.sched.grace_expired(task, GRACE_SECONDS)
        else:
            await asyncio.wait({task})
            late = False
        if late:  # the grace ran out mid-drain: abort the task
            task.cancel()
            await asyncio.wait({task})
            self._lose_in_flight(hard_abort=True)
            self._emit("HardAbort")
        await self.sched.gate(("TurnAborted",))
        if self.dead:
            return
        if self.d.turn_aborted_marker:  # v0.122: a user message says the turn was interrupted
            self._record(It.user(It.TURN_ABORTED_MARKER))
        self.recorder.record("event_msg", {"type": "turn_aborted", "reason": "interrupted"})
        self._end_turn()
        self._emit("TurnAborted")

    # ---- what an observer sees -------------------------------------------------------------------
    def observe(self) -> dict:
        pending = []
        for cid, task in self.in_flight[self.drained:]:
            if not task.done():
                st = "running"
            elif task.cancelled() or task.exception() is not None:
                st = "failed"
            else:
                st = "aborted" if task.result().endswith(It.USER_ABORT_SUFFIX) else "done"
            pending.append((call_number(cid), st))
        rec = self.recorder
        return {"phase": self.phase, "history": list(self.history), "pending": pending,
                "retries_left": self.retries_left,
                "records": list(rec.records) if rec else [], "written": rec.written if rec else 0}

