"""A whole session under the controlled scheduler, stepped by name: the test bench.

``Sim`` plays the environment around the loop: the user, the model server's stream, the tools'
work, the machine (crash and restart) and the writer's progress. Each step is named with the
turn loop's action names; ``enabled()`` lists the steps the running code can take now (the
stream and the tools may do anything; bounds are the caller's business), and ``do(action, arg)``
takes one and runs the event loop until everything is parked again. The loop's own log then
says what happened. ``write()`` lets the writer put one more line on disk (not a loop step).

Call ids are numbered through the whole run, as the server would (survives crashes). Stream
events are given at item level, i.e. after the chat wire's SSE reader (sse.py), which the
free-running paths exercise.
"""

from __future__ import annotations

import asyncio

from .designs import Design
from .loop import EventLog, Session, call_number
from .removal import summary_requests
from .sched import ControlledScheduler, settle
from .tools import ScriptedModel, Tool

ENV_STREAM = ("StreamReasoning", "StreamText", "StreamToolCall", "StreamCompleted", "StreamError", "StreamClosed")


class Sim:
    def __init__(self, design: Design, path: str, *, max_retries: int = 1, parallel_safe: bool = True):
        self.d = design
        self.path = path
        self.max_retries = max_retries
        self.log = EventLog()
        self.next_id = 1
        self.prefix = "toolu" if design.wire == "anthropic" else "call"
        self.tools = {"shell": Tool("shell", parallel_safe=parallel_safe)}
        self.session: Session | None = None
        self.sched: ControlledScheduler | None = None
        self.down = False
        self.texts = 0
        self._texts_in_response = False  # a StreamText came in the response being streamed

    def _new(self, factory) -> Session:
        self.sched = ControlledScheduler()
        return factory(self.d, self.path, sched=self.sched, server=ScriptedModel.for_design(self.d),
                       tools=self.tools, max_retries=self.max_retries, log=self.log)

    async def start(self) -> None:
        self.session = self._new(Session.start)
        await settle()

    @property
    def phase(self) -> str:
        return "down" if self.down else self.session.phase

    def _parked(self) -> list:
        return self.sched.enabled() if self.sched else []

    def enabled(self) -> list:
        """(action, arg) the code can take now; SendRequest/Resume args are decided by the code."""
        if self.down:
            return [("Resume", None)]
        s = self.session
        out: list = []
        if s.phase == "refused":
            return out
        if s.phase == "idle" and s.turn_task_done():
            out.append(("UserMessage", None))
            out += self._removals()
        for key in self._parked():
            a = key[0]
            if a == "SendRequest":
                out.append(("SendRequest", None))
                if self.d.compaction == "after-drain" and s.retries_left == s.max_retries:
                    out += self._compactions()
            elif a == "stream":
                out += [("StreamReasoning", None), ("StreamText", None), ("StreamToolCall", len(s.in_flight) + 1),
                        ("StreamCompleted", None), ("StreamError", None), ("StreamClosed", None)]
            elif a == "tool":
                out += [("ToolFinish", call_number(key[1])), ("ToolFail", call_number(key[1]))]
            elif a == "ToolAbort":
                out.append(("ToolAbort", call_number(key[1])))
            elif a == "drain":
                task = dict((c, t) for c, t in s.in_flight)[key[1]]
                failed = task.cancelled() or task.exception() is not None
                out.append(("DrainFailed" if failed else "DrainOutput", call_number(key[1])))
            elif a in ("HardAbort", "TurnAborted"):
                out.append((a, None))
        if s.phase in ("stream", "drain"):
            out.append(("Interrupt", None))
        out.append(("Crash", s.recorder.written if s.recorder else 0))
        return out

    def _compactions(self) -> list:
        """("Compact", (cut, k)): a compaction that leaves ``cut`` (Session.compaction_cuts), its
        summary request met k context-window errors first (k = None: no summary request); whether
        the provider accepts it is the code's to say."""
        d, s = self.d, self.session
        if not d.compacts:
            return []
        trims = [None] if d.compaction_request == "none" else range(len(summary_requests(s.history, d.compaction_trim)))
        return [("Compact", (label, k)) for k in trims for label, _ in s.compaction_cuts()]

    def _removals(self) -> list:
        """Between turns: compaction, rollback of n turns, a result's content truncated."""
        s, out = self.session, self._compactions()
        if self.d.rollback:
            out += [("Rollback", n) for n in range(1, s.turns() + 1)]
        if self.d.truncate_outputs and s.truncatable() is not None:
            out.append(("TruncateOutput", call_number(s.truncatable())))
        return out

    def can_write(self) -> bool:
        return ("write",) in self._parked()

    async def write(self) -> None:
        self.sched.release(("write",))
        await settle()

    async def do(self, action: str, arg: object = None, torn: bool = False) -> None:
        s, sched = self.session, self.sched
        if action == "UserMessage":
            s.submit(f"user turn {len(self.log)}")
        elif action in ("SendRequest", "RefuseRequest"):
            self._texts_in_response = False
            sched.release(("SendRequest",))
        elif action in ENV_STREAM:
            if self._empty_text_first(action):
                # the raw chat parser hands over an empty message (of "content": "") before it
                # completes: part of the same step in the model
                sched.release(("stream",), ("text", ""))
                await settle()
            self._texts_in_response |= action == "StreamText"
            sched.release(("stream",), self._stream_event(action))
        elif action in ("ToolFinish", "ToolFail"):
            sched.release(("tool", self._cid(arg)), "finish" if action == "ToolFinish" else "fail")
        elif action == "ToolAbort":
            sched.release(("ToolAbort", self._cid(arg)))
        elif action in ("DrainOutput", "DrainFailed"):
            sched.release(("drain", self._cid(arg)))
        elif action in ("HardAbort", "TurnAborted"):
            sched.release((action,))
        elif action == "Interrupt":
            s.interrupt()
        elif action == "Compact":  # (cut, trimmed) or the model's CompactArg (a rejected one names no cut)
            cut, k = (arg[0] or None), arg[1]
            if s.phase == "ready":  # before the next request: the turn task compacts
                sched.release(("SendRequest",), ("Compact", k, cut))
            else:
                s.compact(k, cut)
        elif action == "Rollback":
            s.rollback(arg)
        elif action == "TruncateOutput":
            if call_number(s.truncatable() or "") != arg:
                raise ValueError(f"cannot truncate the result of call {arg}")
            s.truncate_output()
        elif action == "Crash":
            if arg is not None:
                while s.recorder.written < arg:  # the writer got this far before the machine died
                    await self.write()
            s.crash(torn)
            self.down = True
        elif action in ("Resume", "ResumeRefused"):
            self.down = False
            self.session = self._new(Session.resume)
        else:
            raise ValueError(f"unknown action {action!r}")
        await settle()

    def _empty_text_first(self, action: str) -> bool:
        s = self.session
        completes = action == "StreamCompleted" or (action == "StreamClosed" and self.d.early_close == "completed")
        return (self.d.empty_content_with_calls and completes and bool(s.in_flight)
                and not self._texts_in_response)

    def _cid(self, n: int) -> str:
        if n < 0:  # chat.rs's tool-call-{index} for a call that came without an id
            return f"tool-call-{-1 - n}"
        return f"{self.prefix}_{n}"

    def _stream_event(self, action: str) -> tuple:
        if action == "StreamToolCall":
            if self.d.call_ids == "index":
                cid = self._cid(-1 - len(self.session.in_flight))
            else:
                cid = self._cid(self.next_id)
                self.next_id += 1
            return ("tool_call", cid, "shell", {"command": ["echo", cid]})
        if action == "StreamText":  # every text differs (the chat builder skips a repeated one)
            self.texts += 1
            return ("text", f"Running the checks ({self.texts}).")
        return {"StreamReasoning": ("reasoning", "planning the change"),
                "StreamCompleted": ("completed",), "StreamError": ("error", "stream disconnected"),
                "StreamClosed": ("closed",)}[action]

    async def finish(self) -> None:
        """End of the run: let the writer catch up (unless the machine is down) and stop tasks."""
        if not self.down and self.session.recorder is not None:
            while self.can_write():
                await self.write()
        for t in asyncio.all_tasks():
            if t is not asyncio.current_task():
                t.cancel()
        await settle()
        if not self.down and self.session.recorder is not None and not self.session.recorder.f.closed:
            self.session.recorder.f.close()
