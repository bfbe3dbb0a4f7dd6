"""Tools and the scripted model stream (no network).

A tool runs as its own asyncio task (tools/parallel.rs): its work races the turn's cancellation
token; cancelled first, it answers "Wall time: X seconds\naborted by user". Tools that are not
parallel-safe (shell) hold an exclusive lock, so "parallel" shell calls run one at a time.

The scripted model answers each accepted request with the next scripted response, a list of
stream events: ("reasoning", text), ("text", text), ("tool_call", call_id, name, args),
("completed",), ("error", message), ("closed",), and on the chat wire ("finish",), the
finish_reason chunk on its own. The chat wire sends them as SSE chunks, read back the way chat.rs
reads them (sse.py). Call ids are numbered through the session as a provider would (call_1,
call_2, ...; toolu_N on the anthropic wire).
"""

from __future__ import annotations

import asyncio
import json

from .sched import ToolError
from .sse import ChatReader, render


class Tool:
    """A shell-like tool. Commands are simulated: ``sleep S`` takes S seconds, ``tool-error``
    makes the tool's future fail (as a sandbox error would), ``uninterruptible S`` takes S
    seconds and does not notice the cancellation (a process slow to die); anything else answers
    at once."""

    def __init__(self, name: str = "shell", delay: float = 0.0, parallel_safe: bool = False):
        self.name = name
        self.delay = delay
        self.parallel_safe = parallel_safe

    def output(self, args: dict) -> str:
        cmd = args.get("command")
        shown = " ".join(cmd) if isinstance(cmd, list) else json.dumps(args)
        return f"Exit code: 0\nWall time: {self.delay:.1f} seconds\nOutput:\n$ {shown}\nok"

    def honours_cancel(self, args: dict) -> bool:
        cmd = args.get("command")
        return not (isinstance(cmd, list) and cmd[:1] == ["uninterruptible"])

    async def run(self, args: dict) -> str:
        cmd = args.get("command") if isinstance(args.get("command"), list) else []
        delay = float(cmd[1]) if len(cmd) == 2 and cmd[0] in ("sleep", "uninterruptible") else self.delay
        await asyncio.sleep(delay)
        if cmd[:1] == ["tool-error"]:
            raise ToolError(f"{self.name}: sandbox error running {' '.join(cmd)}")
        return self.output(args)


class ScriptedStream:
    """Item-level events, one per read (the Responses and Messages streams are item-level)."""

    def __init__(self, events: list):
        self.events = list(events)

    async def scripted_next(self):
        await asyncio.sleep(0)  # a network read: other tasks run in between
        return self.events.pop(0) if self.events else ("closed",)


class ChatSseStream:
    """The chat wire: chunks as the server sends them, read back into items by ChatReader."""

    def __init__(self, chunks: list, raw: bool = False):
        self.chunks = list(chunks)
        self.reader = ChatReader(raw)
        self.ready: list = []

    async def scripted_next(self):
        while not self.ready:
            await asyncio.sleep(0)  # a network read
            if not self.chunks:  # no [DONE]: the stream closed early
                self.ready = self.reader.close()
                break
            self.ready = self.reader.feed(self.chunks.pop(0))
        return self.ready.pop(0)


class ScriptedModel:
    """The model server: scripted responses, one per accepted request; then empty completions."""

    def __init__(self, responses: list | None = None, id_prefix: str = "call", wire: str = "responses",
                 with_ids: bool = True, empty_content: bool = False):
        self.responses = list(responses or [])
        self.prefix = id_prefix
        self.wire = wire
        # servers that omit call ids exist: chat.rs then names them tool-call-{index}, restarting
        # every response (on the other wires the server's ids restart the same way)
        self.with_ids = with_ids
        self.empty_content = empty_content  # chat: "content": "" beside the calls, read in raw mode
        self.next_id = 1
        self.requests: list = []  # bodies of accepted requests

    @classmethod
    def for_design(cls, design, responses: list | None = None) -> ScriptedModel:
        """The server a design's knobs describe (ids or none; empty content beside calls)."""
        return cls(responses, "toolu" if design.wire == "anthropic" else "call", design.wire,
                   with_ids=design.call_ids != "index", empty_content=design.empty_content_with_calls)

    def stream(self, body: dict) -> ScriptedStream:
        self.requests.append(body)
        script = self.responses.pop(0) if self.responses else [("completed",)]
        # on the chat wire calls reach the client only with finish_reason: a stream that fails
        # first delivers none, so they do not use up ids (ids count the calls the client saw)
        delivered = self.wire != "chat" or any(ev[0] in ("completed", "finish") for ev in script)
        events = []
        index = 0
        for k, ev in enumerate(script):
            if ev[0] == "tool_call" and len(ev) == 3 and not self.with_ids and self.wire != "chat":
                ev = ("tool_call", f"tool-call-{index}", ev[1], ev[2])
                index += 1
            elif ev[0] == "tool_call" and len(ev) == 3:  # ("tool_call", name, args): give it an id
                if delivered:
                    ev = ("tool_call", f"{self.prefix}_{self.next_id}", ev[1], ev[2])
                    self.next_id += 1
                else:
                    ev = ("tool_call", f"{self.prefix}_lost_{k}", ev[1], ev[2])
            events.append(ev)
        if self.wire == "chat":
            return ChatSseStream(render(events, self.with_ids, self.empty_content), raw=self.empty_content)
        return ScriptedStream([ev for ev in events if ev[0] != "finish"])  # a chat-only chunk


def shell_calls(n: int, commands: list | None = None) -> list:
    """n parallel shell-like calls (ids filled in by ScriptedModel)."""
    cmds = commands or [["ls"], ["git", "status"], ["cat", "README.md"], ["pytest", "-q"]]
    return [("tool_call", "shell", {"command": cmds[i % len(cmds)]}) for i in range(n)]
