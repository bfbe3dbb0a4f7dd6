"""Joining the reference loop and the model: abstraction, replay and comparison.

- ``abstract``: a rollout payload becomes a model item (kind, call number, tag); an output's tag
  (where it came from) is read from its text, as a reader of a real file would.
- ``Replayer``: walks the model (no reductions: every interleaving) along a reference event log;
  every event must be one of the model's successors with the same action and argument.
- ``observed`` / ``expected``: the abstract state on both sides: phase, history, what was
  recorded for the rollout since the process started, what is on disk, the undrained tools and
  the retries left. The disk must be the model's FILE plus the first ``written`` queued lines
  (the model's writer is lazy; the reference's really runs).
"""

from __future__ import annotations

from dataclasses import replace

from model import items as I
from model.designs import get as model_get, with_knobs
from model.turnloop import (BASE, DRAINED, FILE, HIST, INFL, PH, QUEUE, RETRY, Params, TurnLoop)
from reference import items as RI
from reference.designs import get as ref_get
from reference.loop import call_number
from reference.rollout import model_lines

RUNTIME_PHASES = ("ready", "stream", "drain")


def designs(name: str):
    """(model Design, reference Design) for a name, or NAME@wire."""
    base, _, wire = name.partition("@")
    md = model_get(base)
    if wire:
        md = replace(with_knobs(md, md.name, wire=wire), name=name)
    return md, ref_get(name)


def origin(text: str) -> str:
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
        return I.user() if payload.get("role") == "user" else I.text()
    raise ValueError(f"not a history item: {payload}")


def abstract_lines(lines: list) -> tuple:
    return tuple(abstract(p) for _, p in lines)


def file_items(path: str) -> tuple:
    return abstract_lines(model_lines(path))


def make_model(name: str, calls: int = 3, text: bool = True, faults=None, max_faults: int = 2,
               turns: int = 2) -> TurnLoop:
    md, _ = designs(name)
    kw = {} if faults is None else {"faults": frozenset(faults)}
    return TurnLoop(md, Params(calls=calls, turns=turns, retries=1, max_faults=max_faults, text=text,
                               reduce=False, **kw))


class Mismatch(AssertionError):
    pass


class Replayer:
    def __init__(self, model: TurnLoop):
        self.m = model
        self.s = model.init_states()[0]
        self.path: list = []

    def step(self, action: str, arg: object) -> tuple:
        succ = self.m.successors(self.s)
        for a, b, t in succ:
            if a == action and b == arg:
                self.path.append((action, arg))
                self.s = t
                return t
        raise Mismatch(f"after {self.path}: the model cannot take {action}({arg}); it can take "
                       f"{sorted({(a, b) for a, b, _ in succ}, key=str)}")


def expected(s: tuple) -> dict:
    infl = s[INFL]
    pending = [(s[BASE] + i, infl[i]) for i in range(s[DRAINED], len(infl))]
    return {"phase": s[PH], "history": tuple(s[HIST]), "records": tuple(s[QUEUE]), "pending": pending,
            "retries_left": s[RETRY] if s[PH] in RUNTIME_PHASES else None}


def observed(sim) -> dict:
    if sim.down:
        return {"phase": "down", "history": (), "records": (), "pending": [], "retries_left": None}
    o = sim.session.observe()
    return {"phase": o["phase"], "history": tuple(abstract(p) for p in o["history"]),
            "records": abstract_lines(o["records"]), "pending": o["pending"],
            "retries_left": o["retries_left"] if o["phase"] in RUNTIME_PHASES else None}


def compare(sim, s: tuple, where: str = "") -> None:
    """The reference's observable state must be the model's; the disk must be FILE + QUEUE[:w]."""
    exp, obs = expected(s), observed(sim)
    for k in exp:
        if exp[k] != obs[k]:
            raise Mismatch(f"{where}: {k} differs\n  model:     {_show(exp[k])}\n  reference: {_show(obs[k])}")
    disk = file_items(sim.path)
    w = 0 if sim.down else sim.session.observe()["written"]
    want = tuple(s[FILE]) + tuple(s[QUEUE][:w])
    if disk != want:
        raise Mismatch(f"{where}: rollout file differs (written {w})\n  model:     {I.show_all(want)}\n"
                       f"  reference: {I.show_all(disk)}")


def _show(v):
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return I.show_all(tuple(x for x in v if x[0] != "turn_aborted")) + (
            " +turn_aborted" if any(x[0] == "turn_aborted" for x in v) else "")
    return v


# ---- driving a model path into the reference -------------------------------------------------------
async def drive(sim, model: TurnLoop, path: list, start_state: tuple | None = None) -> list:
    """Take each step of a model path [(action, arg, state_after)] (path[0] is the start) on the
    reference: it must log exactly that step, build the same request with the same verdict, and
    end in the same abstract state. Returns the reference's provider errors, in order."""
    prev = path[0][2] if start_state is None else start_state
    errors = []
    for n, (action, arg, t) in enumerate(path[1:], start=1):
        before = len(sim.log)
        nreq = len(sim.session.requests) if not sim.down else 0
        await sim.do(action, arg)
        got = list(sim.log[before:])
        where = f"step {n} {action}({arg})"
        if got != [(action, arg)]:
            raise Mismatch(f"{where}: the reference logged {got}")
        if action in ("SendRequest", "RefuseRequest"):
            items, body, verdict = sim.session.requests[nreq]
            want = model.request(prev)
            if tuple(abstract(p) for p in items) != want.items:
                raise Mismatch(f"{where}: request items differ\n  model:     {I.show_all(want.items)}\n"
                               f"  reference: {I.show_all(tuple(abstract(p) for p in items))}")
            want_text = want.rejections[0].text if want.rejections else None
            got_text = verdict.message if verdict else None
            if want_text != got_text:
                raise Mismatch(f"{where}: provider verdict differs\n  model:     {want_text}\n  reference: {got_text}")
            if verdict is not None:
                errors.append(got_text)
        compare(sim, t, where)
        prev = t
    return errors
