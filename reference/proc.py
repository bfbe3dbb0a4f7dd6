"""Running one process of a session and killing it for real.

``run_process(argv, kill_after_line=k)`` starts ``python -m turnproof.reference ARGV`` with --pause-lines:
after each line its writer puts on disk, the child reports it and waits; once the k-th line is
on disk the parent sends SIGKILL (no cleanup, no flush: what is in the file is what a killed
Codex would leave). ``fork=True`` forks the already-imported parent instead of starting a new
interpreter (same kill, same file; much cheaper, for long test series and the benchmark).
Returns the events the child logged before it died, the lines reported, and its result if it
was not killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from . import __main__ as _child  # imported before any fork, so forked children start warm

# The folder that holds the top-level package (a source checkout or site-packages): the child
# imports this package under the same name, whatever the caller's working directory is.
_TOP = __package__.split(".")[0]
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules[_TOP].__file__)))


@dataclass
class ProcessRun:
    events: list = field(default_factory=list)  # (action, arg)
    lines: int = 0  # lines the child reported written
    model_lines: int = 0
    killed: bool = False
    torn: bool = False  # killed halfway through a line
    result: dict | None = None
    returncode: int | None = None
    pid: int = 0


def _drive(out, inp, pid: int, kill_after_line: int | None, run: ProcessRun,
           kill_after_model_line: int | None = None, tear_line: int | None = None) -> None:
    for raw in out:
        msg = json.loads(raw)
        if "half" in msg:
            if msg["half"] == tear_line and not run.killed:
                os.kill(pid, signal.SIGKILL)
                run.killed = run.torn = True
            elif not run.killed:
                inp.write("\n")
                inp.flush()
        elif "event" in msg:
            run.events.append(tuple(msg["event"]))
        elif "line" in msg:
            run.lines, run.model_lines = msg["line"], msg["model_lines"]
            due = (kill_after_line is not None and run.lines >= kill_after_line) or (
                kill_after_model_line is not None and run.model_lines >= kill_after_model_line)
            if due and not run.killed:
                os.kill(pid, signal.SIGKILL)
                run.killed = True
                continue
            if not run.killed:
                inp.write("\n")
                inp.flush()
        elif "result" in msg:
            run.result = msg["result"]


def run_process(argv: list, kill_after_line: int | None = None, fork: bool = False,
                kill_after_model_line: int | None = None, tear_line: int | None = None) -> ProcessRun:
    """``kill_after_model_line`` counts only response_item and turn_aborted lines;
    ``tear_line=n`` kills the process halfway through writing its n-th line."""
    argv = list(argv) + ["--pause-lines"] + (["--split-writes"] if tear_line else [])
    run = ProcessRun()
    if not fork:
        env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.Popen([sys.executable, "-m", __package__, *argv], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
        try:
            run.pid = p.pid
            _drive(p.stdout, p.stdin, p.pid, kill_after_line, run, kill_after_model_line, tear_line)
        except BrokenPipeError:
            pass
        finally:
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except BrokenPipeError:
                    pass
            run.returncode = p.wait()
        return run
    r_out, w_out = os.pipe()
    r_in, w_in = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a process of its own from here on
        code = 1
        try:
            os.close(r_out)
            os.close(w_in)
            os.dup2(w_out, 1)
            os.dup2(r_in, 0)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stdin = os.fdopen(0, "r")
            code = _child.main(argv)
            sys.stdout.flush()
        finally:
            os._exit(code)
    run.pid = pid
    os.close(w_out)
    os.close(r_in)
    with os.fdopen(r_out, "r") as out, os.fdopen(w_in, "w") as inp:
        try:
            _drive(out, inp, pid, kill_after_line, run, kill_after_model_line, tear_line)
        except BrokenPipeError:
            pass
    _, status = os.waitpid(pid, 0)
    run.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return run
