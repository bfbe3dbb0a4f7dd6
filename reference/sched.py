"""Who decides what happens next: the real asyncio scheduler, or a test.

The loop's code marks the places where one step of the turn loop begins: the request about to be
sent, the drain about to take the head of in_flight, a tool noticing the cancellation, the 100 ms
grace running out, the abort being persisted, the writer about to write a line, the stream
delivering its next event, a tool's work ending. ``FreeScheduler`` lets each go at once (tools
really run, the grace is a real timer). ``ControlledScheduler`` parks each one until the test
releases it by name, so a test can force any interleaving (tool completion order, where an
interrupt or a crash lands, how far the writer got) and replay it exactly. ``settle`` runs the
event loop until every task is parked again.
"""

from __future__ import annotations

import asyncio


class ToolError(Exception):
    """A tool's future failed (drain_in_flight logs it; the call gets no output)."""


class FreeScheduler:
    controlled = False

    async def gate(self, key: tuple):
        return None

    async def tool_work(self, call_id: str, tool, args: dict) -> str:
        return await tool.run(args)

    async def cancel_seen(self, call_id: str, token: asyncio.Event) -> None:
        await token.wait()

    async def stream_next(self, stream):
        return await stream.scripted_next()

    async def grace_expired(self, task: asyncio.Task, seconds: float) -> bool:
        """Wait for ``task`` at most ``seconds``; True if it is still running then."""
        done, _ = await asyncio.wait({task}, timeout=seconds)
        return not done


class ControlledScheduler:
    """Every step waits until the test releases it: ``enabled()`` lists what may go next."""

    controlled = True

    def __init__(self) -> None:
        self.parked: dict = {}  # key -> future the parked task waits on

    async def gate(self, key: tuple):
        fut = asyncio.get_running_loop().create_future()
        if key in self.parked:
            raise RuntimeError(f"two tasks parked at {key}")
        self.parked[key] = fut
        try:
            return await fut
        finally:
            if self.parked.get(key) is fut:
                del self.parked[key]

    async def tool_work(self, call_id: str, tool, args: dict) -> str:
        outcome = await self.gate(("tool", call_id))
        if outcome == "fail":
            raise ToolError(f"{tool.name} failed")
        return tool.output(args)

    async def cancel_seen(self, call_id: str, token: asyncio.Event) -> None:
        await token.wait()
        await self.gate(("ToolAbort", call_id))

    async def stream_next(self, stream):
        return await self.gate(("stream",))

    async def grace_expired(self, task: asyncio.Task, seconds: float) -> bool:
        expiry = asyncio.ensure_future(self.gate(("HardAbort",)))
        try:
            done, _ = await asyncio.wait({task, expiry}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not expiry.done():
                expiry.cancel()
        if task in done:
            await asyncio.wait({expiry})  # withdrawn before anyone can take it
            return False
        return True

    # ---- the test's side -------------------------------------------------------------------------
    def enabled(self) -> list:
        return list(self.parked)

    def release(self, key: tuple, value: object = None) -> None:
        fut = self.parked.pop(key, None)
        if fut is None:
            raise LookupError(f"nothing is waiting at {key}; waiting: {list(self.parked)}")
        fut.set_result(value)


async def settle(limit: int = 100_000) -> None:
    """Run the event loop until no callback is ready: every task is parked or finished.

    Uses the selector loop's ready queue (asyncio has no public "idle" test); only the
    controlled runs call this, on loops they create themselves.
    """
    loop = asyncio.get_running_loop()
    ready = loop._ready  # noqa: SLF001
    for _ in range(limit):
        await asyncio.sleep(0)
        if not ready:
            return
    raise RuntimeError("the event loop did not settle")
