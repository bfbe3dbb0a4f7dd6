"""``python -m reference``: one process of a session, for tests that kill it and for
`turnproof reproduce` (which resumes in a fresh process).

  python -m reference run    --design NAME --file PATH [scenario options] [--pause-lines]
  python -m reference resume --design NAME --file PATH [--message TEXT]

Runs free (real asyncio scheduling, real timers, tools as tasks) and prints one JSON object per
line: {"event": [action, arg]} as each loop step happens, {"line": n} after the writer has put
the n-th line on disk, {"half": n} when half of it is (--split-writes) (with --pause-lines the process then waits for a line on stdin, so a
parent can SIGKILL it at an exact point), and finally {"result": {...}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from .designs import from_knobs, get
from .loop import EventLog, Session
from .removal import summary_requests
from .tools import ScriptedModel, Tool


def _out(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reference")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("run", "resume"):
        q = sub.add_parser(name)
        q.add_argument("--design", required=True)
        q.add_argument("--knobs", default=None, help="JSON knob values: the design is these, named --design")
        q.add_argument("--file", required=True)
        q.add_argument("--message", default=None)
        q.add_argument("--pause-lines", action="store_true")
        q.add_argument("--split-writes", action="store_true", help="write each line in two halves")
        q.add_argument("--trimmed", type=int, default=0,
                       help="a compaction's summary request first meets this many context-window errors (each "
                            "drops its oldest item, per design; at most until one item is left)")
    sub.choices["resume"].add_argument("--compact", action="store_true",
                                       help="/compact right after the resume, before the message")
    r = sub.choices["run"]
    r.add_argument("--calls", type=int, default=3)
    r.add_argument("--text", action="store_true", help="assistant text alongside the calls")
    r.add_argument("--reasoning", action="store_true")
    r.add_argument("--parallel", action="store_true", help="parallel-safe tools (default: shell, one at a time)")
    r.add_argument("--tool-delay", type=float, default=0.0)
    r.add_argument("--fail-call", type=int, default=0, help="this call's tool fails (1-based)")
    r.add_argument("--slow-call", type=int, default=0, help="this call's tool takes --slow seconds")
    r.add_argument("--slow", type=float, default=1.0)
    r.add_argument("--stubborn-call", type=int, default=0,
                   help="this call's tool ignores the cancellation for --slow seconds")
    r.add_argument("--interrupt-at", default="", help="interrupt right after this step is logged")
    r.add_argument("--close-early", action="store_true", help="the first response closes after its calls")
    r.add_argument("--turns", type=int, default=1, help="user turns to run")
    r.add_argument("--compact-at", type=int, default=0,
                   help="the context window is full before the session's N-th request: compact first (designs "
                        "that compact after the drain)")
    return p


def scenario(a, d) -> tuple[list, dict]:
    """The scripted responses and tools for ``run`` (design ``d``: whether an early close is
    retried depends on what its parser makes of it)."""
    first: list = []
    if a.reasoning:
        first.append(("reasoning", "Looking at the repository first."))
    cmds = [["ls"], ["git", "status"], ["cat", "README.md"], ["pytest", "-q"], ["make"], ["du", "-sh"]]
    for i in range(a.calls):
        cmd = cmds[i % len(cmds)]
        if i + 1 == a.fail_call:
            cmd = ["tool-error"]
        elif i + 1 == a.slow_call:
            cmd = ["sleep", str(a.slow)]
        elif i + 1 == a.stubborn_call:
            cmd = ["uninterruptible", str(a.slow)]
        first.append(("tool_call", "shell", {"command": cmd}))
    if a.text:
        first.append(("text", "I ran the commands."))
    # closing after finish_reason: on the chat wire the calls have been delivered by then
    first += [("finish",), ("closed",)] if a.close_early else [("completed",)]
    responses = [first]
    if a.close_early and d.early_close != "completed":  # the retry answers with the same calls, completed
        responses.append([e if e[0] != "text" else ("text", "I ran the commands again.")
                          for e in first if e[0] not in ("finish", "closed")] + [("completed",)])
    return responses, {"shell": Tool("shell", delay=a.tool_delay, parallel_safe=a.parallel)}


async def _main(a) -> int:
    d = from_knobs(a.design, json.loads(a.knobs)) if a.knobs else get(a.design)
    log = EventLog()
    log.listener = lambda action, arg: _out({"event": [action, arg]})
    if a.cmd == "run":
        responses, tools = scenario(a, d)
        s = Session.start(d, a.file, server=ScriptedModel.for_design(d, responses), tools=tools, log=log)
    else:
        s = Session.resume(d, a.file, server=ScriptedModel.for_design(d, []), log=log)
    if s.recorder is not None:
        def on_line(rec) -> None:
            _out({"line": rec.lines_written, "model_lines": rec.written})
            if a.pause_lines:
                sys.stdin.readline()  # blocks the whole process: the parent may kill it here
        s.recorder.on_line = on_line
        if a.split_writes:
            def on_half(rec) -> None:
                _out({"half": rec.lines_written + 1})
                if a.pause_lines:
                    sys.stdin.readline()
            s.recorder.on_half = on_half
    if a.cmd == "run" and a.interrupt_at:
        def listener(action, arg, _prev=log.listener):
            _prev(action, arg)
            if action == a.interrupt_at and s.phase in ("stream", "drain"):
                asyncio.get_running_loop().call_soon(s.interrupt)
        log.listener = listener
    def trimmed(sess) -> int:  # the errors stop once one item is left (compact.rs: `turn_input_len > 1`)
        return min(a.trimmed, len(summary_requests(sess.history, d.compaction_trim)) - 1)

    if a.cmd == "run" and a.compact_at > 0:
        def compact_before(sess) -> int | None:
            return trimmed(sess) if len(sess.requests) - len(sess.summary_requests) == a.compact_at - 1 else None
        s.compact_before = compact_before
    if a.cmd == "resume" and a.compact and s.phase == "idle" and d.compacts:
        s.compact(trimmed(s) if d.compaction_request != "none" else None)
    if s.phase != "refused":
        turns = a.turns if a.cmd == "run" else 1
        for t in range(turns):
            s.submit(a.message or ("Fix the failing build." if t == 0 else "continue"))
            await s.wait_turn()
        await s.close()
    _out({"result": {"phase": s.phase, "errors": s.errors, "skipped": s.skipped,
                     "refused_calls": s.refused_calls, "file": a.file,
                     "rejections": [{"message": r.message, "param": r.param} for r in s.rejections],
                     "requests": [{"body": body, "rejected": v.message if v else None,
                                   "param": v.param if v else None, "lost_results": lost,
                                   "unrecorded_results": unrec, "summary": k in s.summary_requests}
                                  for k, ((_, body, v), lost, unrec) in enumerate(zip(s.requests, s.lost_results,
                                                                                      s.unrecorded))],
                     "history": len(s.history), "pid": os.getpid()}})
    return 0


def main(argv: list | None = None) -> int:
    a = _parser().parse_args(argv)
    return asyncio.run(_main(a))


if __name__ == "__main__":
    sys.exit(main())
