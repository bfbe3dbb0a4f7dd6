"""The conformance checks have teeth: small deliberate bugs in the reference (and the reference
running a design with one knob flipped) must each be caught by the same runs the conformance
tests make: hypothesis-like seeded schedules (reference -> model) and random model walks
(model -> reference). A mutant that survives means the oracle got weaker.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

import conformance_util as cu
from turnproof.reference import loop as L
from turnproof.reference import rollout as R
from turnproof.reference.designs import NAMED as REF_NAMED

DETECT_RUNS = 120


def caught(names: list, tmp_path) -> bool:
    for i in range(DETECT_RUNS):
        for name in names:
            try:
                if i % 2:
                    cu.walk(name, str(tmp_path / f"w{i}-{name}.jsonl"), i, fault_rate=0.5)
                else:
                    asyncio.run(cu.run_schedule(name, str(tmp_path / f"s{i}-{name}.jsonl"), cu.seeded((name, i, "m"))))
            except (AssertionError, LookupError, RuntimeError, KeyError):
                return True
    return False


# ---- code mutants -------------------------------------------------------------------------------
async def _drain_completion_order(self):
    while self.drained < len(self.in_flight):
        rest = self.in_flight[self.drained:]
        done = [p for p in rest if p[1].done()]
        if not done:
            await asyncio.wait({t for _, t in rest}, return_when=asyncio.FIRST_COMPLETED)
            continue
        i = self.in_flight.index(done[0])
        self.in_flight[self.drained], self.in_flight[i] = self.in_flight[i], self.in_flight[self.drained]
        await _ORIG_DRAIN_ONE(self)


async def _drain_one(self):
    cid, task = self.in_flight[self.drained]
    await self.sched.gate(("drain", cid))
    if task.cancelled() or task.exception() is not None:
        self.drained += 1
        self._emit("DrainFailed", L.call_number(cid))
    else:
        self._record(L.It.output(cid, task.result()))
        self.drained += 1
        self._emit("DrainOutput", L.call_number(cid))

_ORIG_DRAIN_ONE = _drain_one


def _fillers_at_end(history, mode):
    out = L.__dict__["_real_normalize"](history, mode)
    fillers = [it for it in out if L.It.is_made_up(it)]
    return [it for it in out if not L.It.is_made_up(it)] + fillers


def _lose_keeps_tools(self):
    self.in_flight, self.drained = [], 0


def _crash_claims_all(self, torn=False):
    k = len(self.recorder.records) if self.recorder else 0
    self.recorder.kill(torn)
    self.log.emit("Crash", k)
    self.dead = True
    self.phase = "down"
    for t in [self.turn_task, self.abort_task] + [task for _, task in self.in_flight]:
        if t is not None:
            t.cancel()
    return k


def _record_drops_events(self, kind, payload, _orig=R.Recorder.record):
    if kind != "event_msg":
        _orig(self, kind, payload)


MUTANTS = {
    "drain-in-completion-order": (L.Session, "_drain", _drain_completion_order, ["codex-0.77-chat"]),
    "codex-fillers-at-end": (L, "normalize", _fillers_at_end, ["codex-0.78-chat", "seed-fix-1"]),
    "tools-survive-a-hard-abort": (L.Session, "_lose_in_flight", _lose_keeps_tools, ["codex-0.77-chat"]),
    "crash-claims-every-queued-line": (L.Session, "crash", _crash_claims_all, ["codex-0.77-chat"]),
    "turn-aborted-not-persisted": (R.Recorder, "record", _record_drops_events, ["codex-0.78-chat"]),
    "provider-accepts-everything": (L, "judge", lambda wire, body: None, ["codex-0.77-chat"]),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_code_mutant_is_caught(mutant, tmp_path, monkeypatch):
    owner, attr, fn, names = MUTANTS[mutant]
    monkeypatch.setitem(L.__dict__, "_real_normalize", L.normalize)
    monkeypatch.setattr(owner, attr, fn)
    assert caught(names, tmp_path), f"mutant {mutant} survived"


# ---- the reference running another design than the model ------------------------------------------
FLIPS = [("codex-0.77-chat", "chat_grouping", "consecutive"), ("codex-0.77-responses", "text_lands", "at-completed"),
         ("codex-0.77-chat", "drain_on_stream_error", True), ("codex-0.77-responses", "retry_prompt", "rebuild"),
         ("codex-0.77-chat", "drain_before_completed", True), ("codex-0.77-chat", "validate_before_send", True),
         ("codex-0.77-chat", "refuse_unanswered_resume", True), ("codex-0.78-chat", "normalization", "ours"),
         ("turnproof-proposed", "persist_synthetic", False), ("codex-0.77-chat", "hard_abort_drain", False)]


@pytest.mark.parametrize("design,knob,value", FLIPS)
def test_reference_with_a_flipped_knob_is_caught(design, knob, value, tmp_path, monkeypatch):
    flipped = replace(REF_NAMED[design], **{knob: value})
    monkeypatch.setattr(cu, "ref_get", lambda name: flipped)
    assert caught([design], tmp_path), f"{design} with {knob}={value} passed as {design}"


def test_the_unmutated_reference_passes_the_same_runs(tmp_path):
    assert not caught(["codex-0.77-chat", "codex-0.78-chat", "turnproof-proposed"], tmp_path)
