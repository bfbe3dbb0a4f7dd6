"""Joining the reference loop and the model: abstraction, replay and comparison.

- ``abstract``: a rollout payload becomes a model item (kind, call number, tag); an output's tag
  (where it came from) is read from its text, as a reader of a real file would.
- ``Replayer``: walks the model (no reductions: every interleaving) along a reference event log;
  every event must be one of the model's successors with the same action and argument.
- ``observed`` / ``expected``: the abstract state on both sides: phase, history, what was
  recorded for the rollout since the process started, what is on disk, the undrained tools and
  the retries left. The disk must be the model's file plus the first ``written`` queued lines
  (the model's writer is lazy; the reference's really runs).
- ``compare_enabled``: in every state, the steps the reference offers next are the model's
  successors (inside the bounds): nothing missing, nothing extra.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, replace

from turnproof.model import items as I
from turnproof.model.designs import get as model_get, with_knobs
from turnproof.model.turnloop import FAULT_ACTIONS, CompactArg, Params, State, TurnLoop
from turnproof.reference import items as RI
from turnproof.reference.designs import get as ref_get
from turnproof.reference.loop import call_number
from turnproof.reference.removal import COMPACT_PROMPT, TRUNCATED_MARK
from turnproof.reference.rollout import SUMMARY_PREFIX, model_lines

RUNTIME_PHASES = ("ready", "stream", "drain")


def designs(name: str):
    """(model Design, reference Design) for NAME, NAME@wire, or NAME+knob=value+knob=value."""
    name, *changes = name.split("+")
    knobs = {}
    for c in changes:
        k, v = c.split("=")
        knobs[k] = {"true": True, "false": False}.get(v, v)
    base, _, wire = name.partition("@")
    md = model_get(base)
    if wire:
        md = replace(with_knobs(md, md.name, wire=wire), name=name)
    rd = ref_get(name)
    if knobs:
        md, rd = with_knobs(md, md.name, **knobs), replace(rd, **knobs)
    return md, rd


def origin(text: str) -> str:
    if text.endswith(TRUNCATED_MARK):
        return I.TRUNCATED
    if text == RI.ABORTED:
        return I.CODEX_ABORTED
    if text == RI.SYNTHETIC:
        return I.SYNTHETIC
    if text.endswith(RI.USER_ABORT_SUFFIX):
        return I.USER_ABORT
    return I.OK


def abstract(payload: dict) -> tuple:
    if payload.get("type") == "turn_aborted":
        return ("turn_aborted", None, None)
    if RI.is_call(payload):
        return I.call(call_number(payload["call_id"]))
    if RI.is_output(payload):
        return I.output(call_number(payload["call_id"]), origin(RI.text_of(payload)))
    if payload.get("type") == "reasoning":
        return I.reasoning()
    if payload.get("type") == "message":
        if payload.get("role") == "user":
            text = RI.text_of(payload)
            if text.startswith(RI.TURN_ABORTED_OPEN):
                return I.user(I.TURN_ABORTED_MARKER)
            if text.startswith(SUMMARY_PREFIX):
                return I.user(I.SUMMARY)
            return I.user(I.COMPACT_PROMPT) if text == COMPACT_PROMPT else I.user()
        return I.text(I.EMPTY) if RI.text_of(payload) == "" else I.text()
    raise ValueError(f"not a history item: {payload}")


def abstract_line(kind: str, payload: dict) -> tuple:
    """A rollout line as the model's file entry: an item, a turn_aborted event, a compacted line with
    its replacement, a thread_rolled_back line with its number of turns."""
    if kind == "compacted":
        return (I.COMPACTED, None, tuple(abstract(p) for p in payload["replacement_history"]))
    if payload.get("type") == "thread_rolled_back":
        return (I.ROLLED_BACK, None, payload["num_turns"])
    return abstract(payload)


def abstract_lines(lines: list) -> tuple:
    return tuple(abstract_line(k, p) for k, p in lines)


def file_items(path: str) -> tuple:
    return abstract_lines(model_lines(path))


def make_model(name: str, calls: int = 3, text: bool = True, faults=None, max_faults: int = 2,
               turns: int = 2, rounds: int = 2) -> TurnLoop:
    md, _ = designs(name)
    kw = {} if faults is None else {"faults": frozenset(faults)}
    return TurnLoop(md, Params(calls=calls, turns=turns, retries=1, max_faults=max_faults, text=text,
                               reduce=False, rounds=rounds, **kw))


class Mismatch(AssertionError):
    pass


class Replayer:
    def __init__(self, model: TurnLoop):
        self.m = model
        self.s = model.init_states()[0]
        self.path: list = []

    def step(self, action: str, arg: object) -> tuple:
        if isinstance(arg, list):  # from a child process's JSON event line
            arg = tuple(arg)
        succ = self.m.successors(self.s)
        for a, b, t in succ:
            if a == action and b == arg:
                self.path.append((action, arg))
                self.s = t
                return t
        raise Mismatch(f"after {self.path}: the model cannot take {action}({arg}); it can take "
                       f"{sorted({(a, b) for a, b, _ in succ}, key=str)}")


def expected(s: tuple, index_ids: bool = False) -> dict:
    v = State(*s)
    pending = [(-1 - i if index_ids else v.base_id + i, v.in_flight[i]) for i in range(v.drained, len(v.in_flight))]
    return {"phase": v.phase, "history": tuple(v.history), "records": tuple(v.queue), "pending": pending,
            "retries_left": v.retries_left if v.phase in RUNTIME_PHASES else None,
            "unrecorded": tuple(v.unrecorded)}


def observed(sim) -> dict:
    if sim.down:
        return {"phase": "down", "history": (), "records": (), "pending": [], "retries_left": None,
                "unrecorded": ()}
    o = sim.session.observe()
    return {"phase": o["phase"], "history": tuple(abstract(p) for p in o["history"]),
            "records": abstract_lines(o["records"]), "pending": o["pending"],
            "retries_left": o["retries_left"] if o["phase"] in RUNTIME_PHASES else None,
            "unrecorded": tuple(call_number(c) for c in sim.session.dropped)}


def compare(sim, s: tuple, where: str = "") -> None:
    """The reference's observable state must be the model's; the disk must be file + queue[:w]."""
    exp, obs = expected(s, sim.d.call_ids == "index"), observed(sim)
    for k in exp:
        if exp[k] != obs[k]:
            raise Mismatch(f"{where}: {k} differs\n  model:     {_show(exp[k])}\n  reference: {_show(obs[k])}")
    disk = file_items(sim.path)
    w = 0 if sim.down else sim.session.observe()["written"]
    want = tuple(State(*s).file) + tuple(State(*s).queue[:w])
    if disk != want:
        raise Mismatch(f"{where}: rollout file differs (written {w})\n  model:     {I.show_all(want)}\n"
                       f"  reference: {I.show_all(disk)}")


def _step_kind(action: str, arg: object) -> tuple:
    """Steps as both sides can name them before they happen: a request's verdict and a resume's
    outcome are decided by the code, and a crash's k by the writer's progress."""
    if action in ("SendRequest", "RefuseRequest"):
        return ("SendRequest", None)
    if action in ("Resume", "ResumeRefused"):
        return ("Resume", None)
    if action == "Crash":
        return ("Crash", None)
    if action in ("StreamError", "StreamClosed"):  # which finished results it drops is the code's
        return (action, None)
    if action == "Compact":  # the summary request's verdict is the code's; the trim count is the step's
        return (action, arg[1] if isinstance(arg, tuple) else arg)
    return (action, arg)


def compare_enabled(sim, model: TurnLoop, s: tuple, bounds: "Bounds", where: str) -> None:
    """What may happen next is the same on both sides (inside the bounds): the reference offers
    every step the model has, and nothing else."""
    ref = {_step_kind(a, b) for a, b in sim.enabled() if bounds.allows(a, sim.phase)}
    mod = {_step_kind(a, b) for a, b, _ in model.successors(s) if bounds.allows(a, State(*s).phase)}
    if ref != mod:
        raise Mismatch(f"{where}: enabled steps differ\n  model only:     {sorted(mod - ref, key=str)}\n"
                       f"  reference only: {sorted(ref - mod, key=str)}")
    # a compaction's cuts: the step kind leaves them out (a rejected summary request names none), so
    # where the model has an accepted one, the cuts on offer must be the same on both sides
    cuts = {b.cut for a, b, _ in model.successors(s) if a == "Compact" and b.accepted}
    if cuts and bounds.allows("Compact", State(*s).phase):
        offered = {b[0] for a, b in sim.enabled() if a == "Compact"}
        if offered != cuts:
            raise Mismatch(f"{where}: compaction cuts differ\n  model:     {sorted(cuts)}\n  reference: {sorted(offered)}")


def _show(v):
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return I.show_all(tuple(x for x in v if x[0] != "turn_aborted")) + (
            " +turn_aborted" if any(x[0] == "turn_aborted" for x in v) else "")
    return v


# ---- driving a model path into the reference -------------------------------------------------------
async def drive(sim, model: TurnLoop, path: list, start_state: tuple | None = None,
                check_enabled: bool = False) -> list:
    """Take each step of a model path [(action, arg, state_after)] (path[0] is the start) on the
    reference: it must log exactly that step, build the same request with the same verdict, and
    end in the same abstract state (and, with ``check_enabled`` on a model without reductions,
    offer the same next steps). Returns the reference's provider errors, in order."""
    prev = path[0][2] if start_state is None else start_state
    errors = []
    bounds = Bounds(model, sim.d.text_lands) if check_enabled else None
    for n, (action, arg, t) in enumerate(path[1:], start=1):
        before = len(sim.log)
        nreq = len(sim.session.requests) if not sim.down else 0
        await sim.do(action, arg)
        got = list(sim.log[before:])
        where = f"step {n} {action}({arg})"
        if got != [(action, arg)]:
            raise Mismatch(f"{where}: the reference logged {got}")
        if sends_request(model, action, arg):
            check_request(model, prev, sim.session.requests[nreq], where, action, arg)
            verdict = sim.session.requests[nreq][2]
            if verdict is not None:
                errors.append(verdict.message)
        compare(sim, t, where)
        if bounds is not None:
            bounds.after(action, arg)
            compare_enabled(sim, model, t, bounds, where)
        prev = t
    return errors


# ---- reference-driven runs (trace validation) ------------------------------------------------------
class Bounds:
    """The model's bounds, kept by the test so that schedules stay inside what the model covers:
    calls only in the session's first turn, in its first ``rounds`` responses (a follow-up after
    a drain is the next round; a retry stays in its round), the first round with up to ``calls``
    calls, reasoning and text, later rounds with one call; at most one reasoning and one text per
    response, held text ends the stream, each fault kind at most once and at most ``max_faults``
    in all (an early close counts as what the parser makes of it), user turns as in the model."""

    def __init__(self, model: TurnLoop, text_lands: str):
        p = model.p
        self.p, self.text_lands, self.close = p, text_lands, model.d.early_close
        self.turns_left, self.turn_no, self.calls_ok = p.turns, 0, False
        self.rounds_left, self.follow_up = 0, False
        self.used: set = set()
        self._new_response()

    def _new_response(self) -> None:
        self.reasoned, self.text, self.ncalls = False, 0, 0

    def fault_ok(self, kind: str) -> bool:
        return kind in self.p.faults and kind not in self.used and len(self.used) < self.p.max_faults

    def allows(self, action: str, phase: str) -> bool:
        if action == "UserMessage":
            return self.turns_left > 0
        if action.startswith("Stream"):
            first = self.rounds_left == self.p.rounds
            if not self.calls_ok:
                return action == "StreamCompleted"
            if action == "StreamError":
                return self.fault_ok("stream-error")
            if action == "StreamClosed":
                return self.fault_ok("stream-closed") and (self.close != "error" or "stream-error" not in self.used)
            if action == "StreamCompleted":
                return True
            if self.text == 2:
                return False
            if action == "StreamReasoning":
                return first and not self.reasoned and self.ncalls == 0 and self.text == 0
            if action == "StreamText":
                return first and self.text == 0 and self.p.text
            return self.ncalls < (self.p.calls if first else 1)
        if action == "ToolFail":
            return self.fault_ok("tool-failure")
        if action == "Interrupt":
            return self.fault_ok("interrupt") and (phase == "drain" or (phase == "stream" and self.calls_ok))
        if action == "Crash":
            return self.fault_ok("crash")
        if action == "Compact":
            return self.fault_ok("compaction")
        if action == "Rollback":
            return self.fault_ok("rollback")
        return True

    def after(self, action: str, arg: object) -> None:
        if action == "UserMessage":
            self.turns_left -= 1
            self.calls_ok = self.turn_no == 0
            self.rounds_left = self.p.rounds if self.calls_ok else 0
            self.turn_no += 1
            self.follow_up = False
            self._new_response()
        elif action == "SendRequest":
            if self.follow_up:  # the follow-up after a drain is the next round, while one is left
                self.rounds_left = max(0, self.rounds_left - 1)
                self.calls_ok = self.rounds_left > 0
                self.follow_up = False
            self._new_response()
        elif action == "StreamReasoning":
            self.reasoned = True
        elif action == "StreamText":
            self.text = 1 if self.text_lands == "as-streamed" else 2
        elif action == "StreamToolCall":
            self.ncalls += 1
        elif action == "StreamCompleted" or (action == "StreamClosed" and self.close == "completed"):
            self.calls_ok = False
            self.follow_up = self.ncalls > 0
        elif action in ("TurnAborted", "Resume", "Rollback"):
            self.turns_left = max(1, self.turns_left)
        rejected = (action == "SendRequest" and arg == "rejected") or (action == "Compact" and not arg[2])
        if action in ("TurnAborted", "Crash", "RefuseRequest") or rejected:
            self.calls_ok, self.rounds_left, self.follow_up = False, 0, False
        closed = {"completed": None, "error": "stream-error", "closed": "stream-closed"}[self.close]
        fault = {"StreamError": "stream-error", "StreamClosed": closed, "ToolFail": "tool-failure",
                 "Interrupt": "interrupt", "Crash": "crash", "Compact": "compaction", "Rollback": "rollback"}.get(action)
        if fault:
            self.used.add(fault)

_ROLLOUTS = itertools.count()


async def replay(name: str, model: TurnLoop, path: list, tmp_path, check_enabled: bool = False) -> tuple:
    """Drive the reference loop of design ``name`` along the model's ``path`` (a fresh rollout file
    under ``tmp_path``); returns the finished Sim and the mismatches found."""
    from turnproof.reference.sim import Sim

    _, rd = designs(name)
    sim = Sim(rd, str(tmp_path / f"rollout-{next(_ROLLOUTS)}.jsonl"), max_retries=model.p.retries)
    await sim.start()
    try:
        errors = await drive(sim, model, path, check_enabled=check_enabled)
    finally:
        await sim.finish()
    return sim, errors


async def run_schedule(name: str, path: str, choose, *, calls: int = 3, max_steps: int = 80,
                       text: bool = True) -> list:
    """Let ``choose`` pick each step among those the reference can take inside the bounds (plus
    writer progress and torn crashes); replay every logged step on the model and compare states
    after each. Returns the steps taken (action, arg)."""
    from turnproof.reference.sim import Sim

    model = make_model(name, calls=calls, text=text)
    _, rd = designs(name)
    sim = Sim(rd, path, max_retries=model.p.retries)
    await sim.start()
    rep = Replayer(model)
    bounds = Bounds(model, rd.text_lands)
    sends: list = []
    taken: list = []  # the choices, replayable with scripted(taken)
    try:
        compare(sim, rep.s, "start")
        for n in range(max_steps):
            choices = [(a, b, False) for a, b in sim.enabled() if bounds.allows(a, sim.phase)]
            if any(a == "Crash" for a, _, _ in choices) and sim.session.recorder.pending():
                choices.append(("Crash", sim.session.recorder.written, True))  # a torn last line
            if not sim.down and sim.can_write():
                choices.append(("write", None, False))
            if not choices or all(c[0] in ("write", "Crash") for c in choices):
                break
            action, arg, torn = choose(choices)
            taken.append((action, arg, torn))
            before = len(sim.log)
            nreq = len(sim.session.requests) if not sim.down else 0
            if action == "write":
                await sim.write()
            else:
                await sim.do(action, arg, torn=torn)
            for ev in sim.log[before:]:
                prev = rep.s
                rep.step(*ev)
                bounds.after(*ev)
                if sends_request(model, *ev):
                    arg = CompactArg(*ev[1]) if ev[0] == "Compact" else ev[1]
                    check_request(model, prev, sim.session.requests[nreq], f"step {n + 1} {ev}", ev[0], arg)
                    nreq += 1
                    sends.append((prev, ev[0], arg, rep.s))
            where = f"step {n + 1} {action}({arg}){' torn' if torn else ''} after {rep.path[:-1]}"
            compare(sim, rep.s, where)
            compare_enabled(sim, model, rep.s, bounds, where)
            if action in ("Resume",) and sim.session.skipped:
                assert any(r == "torn last line" for _, r in sim.session.skipped), sim.session.skipped
    except Mismatch as e:
        raise Mismatch(f"{e}\nreplay: run_schedule({name!r}, PATH, scripted({taken!r}), calls={calls}, "
                       f"text={text})") from None
    finally:
        await sim.finish()
    return Run(rep.path, model, sends, sim)


def scripted(choices: list):
    """A chooser that repeats a recorded schedule (from a Mismatch message)."""
    todo = list(choices)
    return lambda offered: todo.pop(0)


@dataclass
class Run:
    steps: list  # (action, arg) as logged by the reference and taken by the model
    model: TurnLoop
    sends: list  # (state before, action, arg, state after) of every SendRequest / RefuseRequest
    sim: object


def sends_request(model: TurnLoop, action: str, arg: object) -> bool:
    """The step sends a request: SendRequest, RefuseRequest (built, not sent), a compaction's summary request."""
    if action == "Compact":
        return isinstance(arg, tuple) and arg[1] is not None
    return action in ("SendRequest", "RefuseRequest")


def check_request(model: TurnLoop, prev: tuple, request: tuple, where: str, action: str = "SendRequest",
                  arg: object = None) -> None:
    """The reference built the model's request (normalized items) and got the model's verdict."""
    items, _body, verdict = request
    if action == "Compact" and not isinstance(arg, CompactArg):
        arg = CompactArg(*arg)
    want = model.request_at(prev, action, arg)
    got = tuple(abstract(p) for p in items)
    if got != want.items:
        raise Mismatch(f"{where}: request items differ\n  model:     {I.show_all(want.items)}\n"
                       f"  reference: {I.show_all(got)}")
    want_text = want.rejections[0].text if want.rejections else None
    got_text = verdict.message if verdict else None
    if want_text != got_text:
        raise Mismatch(f"{where}: provider verdict differs\n  model:     {want_text}\n  reference: {got_text}")


FAULT_STEPS = FAULT_ACTIONS  # the model's fault steps


def weighted(pick_fault, pick):
    """A chooser that takes a fault about one time in ``1/p`` (else faults crowd out the rest):
    ``pick_fault()`` says whether to, ``pick(list)`` picks an element."""
    def choose(choices):
        faults = [c for c in choices if c[0] in FAULT_STEPS]
        rest = [c for c in choices if c[0] not in FAULT_STEPS]
        return pick(faults if faults and (not rest or pick_fault()) else rest)
    return choose


def seeded(seed: object, fault_rate: float = 0.15, busy: bool = False):
    """Random choices from a seed; ``busy``: responses stream every call they may carry before
    completing, so faults land while tools are in flight."""
    rng = random.Random(str(seed))
    choose = weighted(lambda: rng.random() < fault_rate, rng.choice)
    if not busy:
        return choose

    def busy_choose(choices):
        if any(c[0] == "StreamToolCall" for c in choices):
            choices = [c for c in choices if c[0] != "StreamCompleted"]
        return choose(choices)
    return busy_choose


def pick(rng, succ: list, fault_rate: float = 0.15) -> tuple:
    """A random successor: a fault about one step in seven when there is a choice, then the action,
    then its argument (else Crash(k), one successor per k, crowds out everything else)."""
    calm = [x for x in succ if x[0] not in FAULT_STEPS]
    pool = succ if not calm or rng.random() < fault_rate else calm
    action = rng.choice(sorted({a for a, _, _ in pool}))
    return rng.choice([x for x in pool if x[0] == action])


def random_path(model: TurnLoop, rng: random.Random, fault_rate: float = 0.15, length: int = 40) -> list:
    """A random path of ``model`` from its first initial state, at most ``length`` steps, as
    [(action, arg, state)] with (None, None, initial state) first."""
    s = model.init_states()[0]
    path = [(None, None, s)]
    for _ in range(length):
        succ = model.successors(s)
        if not succ:
            break
        a, b, s = pick(rng, succ, fault_rate)
        path.append((a, b, s))
    return path


def walk(name: str, path: str, seed: int, fault_rate: float = 0.15) -> list:
    """A random path of the model (no reductions), driven into the reference; returns the
    reference's log."""
    model = make_model(name)
    steps = random_path(model, random.Random(seed), fault_rate)

    from turnproof.reference.sim import Sim

    async def go():
        _, rd = designs(name)
        sim = Sim(rd, path, max_retries=1)
        await sim.start()
        try:
            await drive(sim, model, steps, check_enabled=True)
        finally:
            await sim.finish()
        return list(sim.log)
    return asyncio.run(go())


# ---- one design's schedule on another -------------------------------------------------------------
ENV_KEEP_ARG = ("StreamToolCall", "ToolFinish", "ToolFail", "ToolAbort", "DrainOutput", "DrainFailed", "Rollback",
                "TruncateOutput")
INTERNAL = ("DrainOutput", "DrainFailed", "SendRequest", "RefuseRequest", "TurnAborted", "HardAbort",
            "ToolFinish", "Resume", "ResumeRefused")


def follow(steps: list):
    """A chooser that replays another design's schedule: each step of ``steps`` is taken when the
    reference offers it (SendRequest and Resume whatever their outcome, Crash once the writer got as
    far); while it is not offered, the loop's own progress steps go first; a step that cannot
    happen on this design is dropped. After the schedule, the session runs to rest without faults."""
    todo = list(steps)

    def choose(choices):
        while todo:
            a, b = todo[0]
            if a == "Crash":
                crash = [c for c in choices if c[0] == "Crash" and not c[2]]
                if crash and crash[0][1] < b and ("write", None, False) in choices:
                    return ("write", None, False)
                if crash:
                    todo.pop(0)
                    return crash[0]
            if a == "Compact":  # the same cut and trim count where this design has them, else the first
                offered = [c for c in choices if c[0] == a]
                best = ([c for c in offered if c[1] == tuple(b[:2])] or [c for c in offered if c[1][1] == b[1]]
                        or offered)
                if best:
                    todo.pop(0)
                    return best[0]
            for c in choices:
                if c[0] == a and not c[2] and (c[1] == b or a not in ENV_KEEP_ARG):
                    todo.pop(0)
                    return c
            progress = [c for c in choices if c[0] in INTERNAL]
            if progress:
                return progress[0]
            todo.pop(0)
        calm = [c for c in choices if c[0] not in FAULT_STEPS and c[0] != "write"]
        done = [c for c in calm if c[0] == "StreamCompleted"]  # at rest: no more calls (rounds)
        return (done or calm or choices)[0]
    return choose
