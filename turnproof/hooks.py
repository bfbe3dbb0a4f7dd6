"""Hooks: a user's own functions in place of a design's knobs, run by the model as it explores.

A design file's ``[hooks]`` table names Python callables as ``"package.module:function"``, imported
from the design file's folder first, then from the path (PYTHONPATH):

    [hooks]
    repair = "myagent.history:fix_history"     # history -> history (where Codex normalizes)
    build_request = "myagent.wire:to_body"      # history -> the request body for the design's wire
    on_lost_output = "myagent.history:lost"     # (history, call_id, why) -> item(s) to record, or None
    shape = "responses"                         # the shape the functions see (default: the design's wire)
    timeout = 2.0                               # seconds per call (default 2)

The functions see and return real shapes (turnproof/shapes.py): OpenAI chat messages, Responses
input items, Anthropic messages, Gemini contents or Bedrock messages, as JSON-like dicts with real
call ids. ``Hook`` wraps one of them into the plain callable on item tuples that the model takes
(model.designs.Hooks), and checks every call: a hook that raises, returns something that is not a
body of its wire, returns different results for the same history (each new history is given twice),
or runs past its time limit stops the run with one line (HookError, a ValueError: exit 2) naming the
design file's line, the hook and the history it was given. Results are memoized per history, so the
explorer calls a hook once per distinct history.

A hook that names the model's own normalization (``turnproof.model.normalize:normalize_codex`` or
``:normalize_ours``) is the knob itself (designfile.py sets ``normalization``), so `prove` can
reason about it; any other hook is opaque to z3.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from turnproof.model import items as I
from turnproof.model.designs import Hooks
from turnproof.shapes import SHAPES, ShapeError, call_id, decode, encode

STEPS = ("repair", "build_request", "on_lost_output")
HOOK_KEYS = STEPS + ("shape", "timeout")
DEFAULT_TIMEOUT = 2.0
MAX_TIMEOUT = 600.0
WHYS = ("failed", "stream-error", "hard-abort", "resume")
# the model's own functions: naming one is choosing the knob, which `prove` can reason about
MODEL_REPAIRS = {"turnproof.model.normalize:normalize_codex": "codex",
                 "turnproof.model.normalize:normalize_ours": "ours"}


class HookError(ValueError):
    """A hook that cannot be used: ``str()`` is the one-line message."""


class _TimeUp(BaseException):
    """Raised inside a hook when its time is up (a BaseException: a hook's `except Exception` must
    not swallow it)."""


def load_callable(target: str, folder: str | None, where: str):
    """The callable ``"package.module:function"`` names; ``folder`` (the design file's) is searched first."""
    mod_name, sep, attr = target.partition(":")
    if not sep or not mod_name or not attr or not all(p.isidentifier() for p in mod_name.split(".")) \
            or not all(p.isidentifier() for p in attr.split(".")):
        raise HookError(f"{where}: {target!r} is not \"package.module:function\"")
    added = False
    if folder is not None:
        folder = os.path.abspath(folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
            added = True
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and mod_name.startswith(e.name) and (mod_name == e.name or mod_name[len(e.name)] == "."):
            raise HookError(f"{where}: cannot import {mod_name!r}: no module {e.name!r} in "
                            f"{folder or 'the current folder'} or on the path (PYTHONPATH)") from None
        raise HookError(f"{where}: importing {mod_name!r} failed: {_one_line(e)}{_at(e)}") from None
    except SyntaxError as e:
        raise HookError(f"{where}: importing {mod_name!r} failed: SyntaxError: {e.msg} "
                        f"({os.path.relpath(e.filename or '?')}:{e.lineno})") from None
    except Exception as e:  # noqa: BLE001 - any error of the user's module is reported, in one line
        raise HookError(f"{where}: importing {mod_name!r} failed: {_one_line(e)}{_at(e)}") from None
    finally:
        if added:
            sys.path.remove(folder)
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise HookError(f"{where}: {mod_name!r} ({os.path.relpath(getattr(mod, '__file__', '?') or '?')}) "
                            f"has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise HookError(f"{where}: {target!r} is a {type(obj).__name__}, not a function")
    return obj


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    text = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
    return text if len(text) <= 200 else text[:199] + "\u2026"


def _at(e: BaseException) -> str:
    """`` at file:line`` of the innermost frame outside turnproof (where the user's code failed)."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not os.path.abspath(f.filename).startswith(here) and "importlib" not in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {os.path.relpath(f.filename)}:{f.lineno}"


def _canonical(x: object) -> str:
    """A JSON text for comparing results (TypeError: not JSON-like)."""
    return json.dumps(x, sort_keys=True, ensure_ascii=False, allow_nan=False)


class Hook:
    """One user function, wrapped: called on real shapes, checked, memoized, timed."""

    def __init__(self, step: str, target: str, fn, shape: str, wire: str, grouping: str,
                 timeout: float = DEFAULT_TIMEOUT, where: str = ""):
        self.step, self.target, self.fn = step, target, fn
        self.shape, self.wire, self.grouping = shape, wire, grouping
        self.timeout, self.where = timeout, where
        self._memo: dict = {}
        self.calls = 0  # distinct inputs the function was given (each twice)

    def fail(self, problem: str, hist: tuple | None = None) -> HookError:
        on = f" (given the history {I.show_all(hist)})" if hist is not None else ""
        return HookError(f"{self.where}: {self.step} hook {self.target} {problem}{on}")

    def _run(self, args: tuple, hist: tuple):
        """Call the function on a private copy of ``args`` within the time limit."""
        args = copy.deepcopy(args)
        t0 = time.perf_counter()
        try:
            with _time_limit(self.timeout):
                out = self.fn(*args)
        except _TimeUp:
            raise self.fail(f"took longer than its time limit of {self.timeout:g} s", hist) from None
        except RecursionError:
            raise self.fail("raised RecursionError", hist) from None
        except Exception as e:  # noqa: BLE001 - the user's code: reported, not a turnproof bug
            raise self.fail(f"raised {_one_line(e)}{_at(e)}", hist) from None
        if time.perf_counter() - t0 > self.timeout:  # where no alarm could be set (not the main thread)
            raise self.fail(f"took longer than its time limit of {self.timeout:g} s", hist)
        return out

    def call(self, args: tuple, hist: tuple):
        """The function's result for ``args`` (the real-shaped form of ``hist``), given twice."""
        self.calls += 1
        first = self._run(args, hist)
        try:
            key1 = _canonical(first)
        except (TypeError, ValueError) as e:
            raise self.fail(f"returned something that is not JSON-like data ({_one_line(e)})", hist) from None
        second = self._run(args, hist)
        try:
            key2 = _canonical(second)
        except (TypeError, ValueError):
            key2 = None
        if key1 != key2:
            raise self.fail("is not deterministic: given the same history twice, it returned different "
                            "results", hist)
        return first

    def _decode(self, out: object, shape: str, hist: tuple, what: str) -> tuple:
        try:
            return decode(out, shape)
        except ShapeError as e:
            raise self.fail(f"returned {what} that is not a {shape} body: {e}", hist) from None

    # ---- the three steps, as the model calls them ----------------------------------------------
    def repair(self, hist: tuple) -> tuple:
        r = self._memo.get(hist)
        if r is None:
            out = self.call((encode(hist, self.shape, self.grouping),), hist)
            r = self._memo[hist] = self._decode(out, self.shape, hist, "a history")
        return r

    def build_request(self, hist: tuple) -> tuple:
        r = self._memo.get(hist)
        if r is None:
            out = self.call((encode(hist, self.shape, self.grouping),), hist)
            body = out.get("messages", out.get("input", out.get("contents"))) if isinstance(out, dict) else out
            sent = self._decode(body, self.wire, hist, "a request body")
            r = self._memo[hist] = (body, sent)
        return r

    def on_lost_output(self, hist: tuple, cid: object, why: str) -> tuple:
        key = (hist, cid, why)
        r = self._memo.get(key)
        if r is None:
            wid = I.wire_id(cid, self.shape)
            out = self.call((encode(hist, self.shape, self.grouping), wid, why), hist)
            if out is None:
                r = ()
            else:
                r = self._decode(out if isinstance(out, list) else [out], self.shape, hist, "an item")
            self._memo[key] = r
        return r


class _time_limit:
    """SIGALRM after ``seconds`` in the main thread (a hook cannot hang the search); elsewhere, or
    while another alarm is pending (pytest-timeout), the caller measures the time after the call."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
                and signal.getitimer(signal.ITIMER_REAL)[0] == 0):
            self.old = signal.signal(signal.SIGALRM, self._up)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    @staticmethod
    def _up(signum, frame):
        raise _TimeUp()

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
        return False


@dataclass(frozen=True)
class HookSpec:
    """What a design file's [hooks] table says (before anything is imported)."""

    targets: tuple  # ((step, "module:function", line), ...)
    shape: str | None = None
    timeout: float = DEFAULT_TIMEOUT


def make_hooks(spec: HookSpec, wire: str, grouping: str, folder: str | None, path: str) -> Hooks:
    """Import the functions ``spec`` names and wrap them for a design on ``wire``."""
    shape = spec.shape or wire
    wrapped: dict = {}
    names = []
    for step, target, line in spec.targets:
        where = f"{path}:{line}" if line else path
        fn = load_callable(target, folder, where)
        hook = Hook(step, target, fn, shape, wire, grouping, spec.timeout, where)
        wrapped[step] = getattr(hook, step)
        names.append((step, target))
    return Hooks(repair=wrapped.get("repair"), build_request=wrapped.get("build_request"),
                 on_lost_output=wrapped.get("on_lost_output"), names=tuple(names) + (("shape", shape),))


def check_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= MAX_TIMEOUT:
        raise ValueError(f"'timeout' must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, "
                         f"not {value!r}")
    return float(value)


def describe(hooks: Hooks | None) -> str:
    """``repair = m:f, shape = responses`` for reports ('' without hooks)."""
    if not hooks:
        return ""
    return ", ".join(f"{k} = {v}" for k, v in hooks.names)


__all__ = ["HookError", "Hook", "HookSpec", "make_hooks", "load_callable", "describe", "SHAPES", "STEPS",
           "HOOK_KEYS", "MODEL_REPAIRS", "call_id"]
