"""The properties, with their stable IDs, and how each is judged on the turn-loop model.

Kinds, as in stateright: ``always`` (safety: judged on each step of the kinds it names, a request
sent, so the explorer's breadth-first search finds the shortest path to a violation), ``can``
(after each step of the kinds it names, a goal step stays reachable without further faults;
judged on the state graph), ``eventually`` (liveness: judged on the state graph), and
``sometimes`` (reachability: proves a verdict is not vacuous).

Each ``Property`` carries its judge: the predicate on a step (``always``, ``sometimes``), the
steps it is judged after and the goal step (``can``), or the states that fulfil it
(``eventually``). The explorer (explorer.py) loops over the properties and names none of them.
An ID is never reused for a different statement: a changed meaning gets a new ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import items as I
from .removal import split_pairs
from .turnloop import (ACTIONS, DRAIN, DRAINED, FAULT_ACTIONS, FILE, HISTORY, IN_FLIGHT, PHASE, QUEUE, REFUSED,
                       UNRECORDED, TurnLoop, is_turn_over)


@dataclass(frozen=True)
class Property:
    id: str  # stable: never reused for a different statement
    kind: str  # always | can | eventually | sometimes
    statement: str
    # always, sometimes: the steps it is judged on; can: the steps whose target state it is judged from
    on: frozenset[str] = frozenset()
    # always: (model, s, action, arg, t) -> what is wrong with the step, or None;
    # sometimes: (model, s, action, arg, t) -> whether the step reaches it
    judge: Callable[..., object] | None = None
    # always: the verdict depends only on the request the step sends (so it is judged once per request)
    per_request: bool = False
    # can: the step that must stay reachable, as (action, arg)
    goal: tuple[str, object] | None = None
    # eventually: the states that fulfil it (it must stay reachable, and no cycle may avoid it)
    end: Callable[[tuple], bool] | None = None
    # can, eventually: the violation's explanation
    failure: str = ""


# ---- judgments on one request (pure; also used by lint and by the reference conformance tests) ----
def unanswered_or_duplicated(items: tuple) -> list[tuple]:
    """calls-answered: [(call_id, number_of_results)] for every call without exactly one result."""
    calls: dict = {}  # call id -> calls with that id (a Counter, in one pass: judged on every request)
    outs: dict = {}
    for it in items:
        if it[0] == I.CALL:
            calls[it[1]] = calls.get(it[1], 0) + 1
        elif it[0] == I.OUTPUT:
            outs[it[1]] = outs.get(it[1], 0) + 1
    return [(cid, outs.get(cid, 0)) for cid, n in calls.items() if outs.get(cid, 0) != n]


def orphan_results(items: tuple) -> list:
    """no-orphan-results: ids of results with no call earlier in the request."""
    seen: set = set()
    bad = []
    for it in items:
        if it[0] == I.CALL:
            seen.add(it[1])
        elif it[0] == I.OUTPUT and it[1] not in seen:
            bad.append(it[1])
    return bad


def dropped_results(kept: tuple, items: tuple) -> list:
    """results-kept: real results of ``kept`` missing (or replaced) in the request ``items``,
    unless their call is gone too (a removal took the pair)."""
    present: set = set()
    calls: set = set()
    for it in items:  # one pass (judged on every request that has results to keep)
        if it[0] == I.OUTPUT:
            present.add(it if it[2] != I.TRUNCATED else I.result_key(it))
        elif it[0] == I.CALL:
            calls.add(it[1])
    lost = [it for it in kept if I.is_real_output(it) and I.result_key(it) not in present]
    if lost and _removes_any(kept):
        lost = [it for it in lost if it[1] in calls]
    return [it[1] for it in lost]


def _removes_any(lines: tuple) -> bool:
    """The rollout holds a removal (a compacted or thread_rolled_back line)."""
    return any(it[0] in (I.COMPACTED, I.ROLLED_BACK) for it in lines)



# ---- the judges on the model -------------------------------------------------------------------
def _ids(m: TurnLoop, cids) -> str:
    return ", ".join(I.wire_id(c, m.d.wire) for c in cids)


def _calls_answered(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> str | None:
    r = m.request_at(s, action, arg)
    bad = unanswered_or_duplicated(r.items) if r else ()
    return "; ".join(f"call {I.wire_id(c, m.d.wire)} has {n} results" for c, n in bad) if bad else None


def _no_orphan_results(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> str | None:
    r = m.request_at(s, action, arg)
    orph = orphan_results(r.items) if r else ()
    return "results with no earlier call: " + _ids(m, orph) if orph else None


def _wire_valid(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> object:
    r = m.request_at(s, action, arg)
    return r.rejections[0] if r and r.rejections else None


def _removal_keeps_pairs(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> str | None:
    split = split_pairs(s[HISTORY], t[HISTORY])
    if split:
        return "a call and its result split: one kept, one removed: " + _ids(m, split)
    if m.d.late_result == "append":  # a call removed while its result is still to come
        infl, k = s[IN_FLIGHT], s[DRAINED]
        gone = [c for c in (m.cid(s, i) for i in range(k, len(infl))) if I.call(c) in s[HISTORY]
                and I.call(c) not in t[HISTORY]]
        if gone:
            return "a call removed while its tool runs: its result will land without it: " + _ids(m, gone)
    return None


def _results_kept(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> str | None:
    # the rollout's lines are the file's, then the queue's: each sequence's real results are read
    # along its own trie path (joining the two into one sequence cost more than the judgement)
    file, queue = s[FILE], s[QUEUE]
    real = m.real_results(file) + m.real_results(queue)
    if not real:  # nothing to keep (most states before the first result)
        return None
    r = m.request(s)
    items = r.items
    if all(it in items for it in real):  # each there as it is (the common case; a truncated copy is not)
        return None
    lost = dropped_results(real, items)  # the same as on all of kept, unless kept holds a removal
    if lost:
        kept = tuple(file) + tuple(queue)
        if _removes_any(kept):
            lost = dropped_results(kept, items)
    return "results recorded for the rollout but not in this request: " + _ids(m, lost) if lost else None


def _results_recorded(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> str | None:
    if not s[UNRECORDED]:
        return None
    return ("tools finished but their results were never recorded (the futures were dropped): "
            + _ids(m, s[UNRECORDED]))


def _full_batch_sent(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> bool:
    items = m.request(s).items
    n = m.p.calls
    return sum(1 for it in items if it[0] == I.CALL) == n and sum(1 for it in items if it[0] == I.OUTPUT) == n


def _interrupt_during_drain(m: TurnLoop, s: tuple, action: str, arg: object, t: tuple) -> bool:
    return s[PHASE] == DRAIN and s[DRAINED] < len(s[IN_FLIGHT])


SENT = frozenset(("SendRequest",))
SENT_OR_SUMMARY = frozenset(("SendRequest", "Compact"))  # a compaction may send a summary request
REMOVAL = frozenset(("Compact", "Rollback", "TruncateOutput"))
ACCEPTED = ("SendRequest", "accepted")
NO_ACCEPTED = "no accepted request is reachable from here without further faults"

PROPERTIES: dict[str, Property] = {p.id: p for p in (
    Property("calls-answered", "always",
             "In every request sent, each tool call has exactly one result.",
             on=SENT_OR_SUMMARY, judge=_calls_answered, per_request=True),
    Property("no-orphan-results", "always",
             "In every request sent, each result answers a call earlier in it.",
             on=SENT_OR_SUMMARY, judge=_no_orphan_results, per_request=True),
    Property("wire-valid", "always",
             "Every request sent is accepted by the configured provider's rules.",
             on=SENT_OR_SUMMARY, judge=_wire_valid, per_request=True),
    Property("results-kept", "always",
             "A tool result that reached the rollout file (or its write queue) is never replaced or "
             "dropped later: every later request carries it unchanged, unless a removal (compaction, "
             "rollback) took it together with its call (a truncated content is the same result).",
             on=SENT, judge=_results_kept),
    Property("results-recorded", "always",
             "When a tool has finished (done, or failed with an error output) while the process is "
             "alive, its real output is recorded in history before the next request is sent, never "
             "left to a synthetic one. Excused: a crash (the process and its memory are gone), and a "
             "hard abort: after the user's interrupt the task is killed from outside once the 100 ms "
             "grace runs out, as a crash kills the process; it needs the drain itself to stall (every "
             "pending tool answers \"aborted by user\" at once) and is the same code in every "
             "version (rust-v0.77.0 and rust-v0.122.0 codex-rs/core/src/tasks/mod.rs), so it is not "
             "what a5783f90c fixed. A tool future that fails without an output (FunctionCallError::"
             "Fatal, a panic) has no real output to record.",
             on=SENT, judge=_results_recorded),
    Property("resumable", "can",
             "After any crash or interrupt, the session can again send an accepted request "
             "(without relying on further faults).",
             on=frozenset(("Resume", "ResumeRefused", "TurnAborted")), goal=ACCEPTED, failure=NO_ACCEPTED),
    Property("can-proceed", "can",
             "After any user message, the session can send an accepted request (without relying "
             "on further faults): a session that refuses or fails every request is stuck even "
             "when nothing crashed.",
             on=frozenset(("UserMessage",)), goal=ACCEPTED, failure=NO_ACCEPTED),
    Property("turn-ends", "eventually",
             "From every reachable state a turn can end and hand control back (without relying on "
             "faults), and no cycle exists, such as retrying the same rejected request forever.",
             end=is_turn_over, failure="no end of turn is reachable from here without faults"),
    Property("removal-keeps-pairs", "always",
             "A step that shrinks history (compaction, rollback, truncation) removes a call and its "
             "result together or neither, and never removes a call whose tool is still running while "
             "its result would be recorded when it lands.",
             on=REMOVAL, judge=_removal_keeps_pairs),
)}
SAFETY = tuple(p for p, v in PROPERTIES.items() if v.kind == "always")

# Reachability checks: a run that never reaches one proves nothing about the behaviour it names.
REACHABILITY: dict[str, Property] = {p.id: p for p in (
    Property("full-batch-sent", "sometimes", "A request with N calls and N results is sent.",
             on=SENT, judge=_full_batch_sent, per_request=True),
    Property("crash-then-resume", "sometimes", "A crash happens and the session is resumed from the file.",
             on=frozenset(("Resume",)), judge=lambda m, s, action, arg, t: True),
    Property("interrupt-during-drain", "sometimes", "An interrupt lands while tool outputs are being drained.",
             on=frozenset(("Interrupt",)), judge=_interrupt_during_drain),
)}
SOMETIMES: dict[str, str] = {p.id: p.statement for p in REACHABILITY.values()}

_MISSING = object()


class TurnLoopSpec:
    """Binds the properties to the TurnLoop model for the explorer (the ``Spec`` of explorer.py)."""

    properties = tuple(PROPERTIES.values()) + tuple(REACHABILITY.values())
    actions = tuple(ACTIONS)

    def __init__(self, model: TurnLoop):
        self.m = model

    def judge(self, p: Property, s: tuple, action: str, arg: object, t: tuple) -> object:
        """``p``'s judge on one step, once per request for a per-request property. (results-kept
        also reads the rollout, which differs at almost every step: a verdict kept per request and
        rollout was found again for one step in seven, and cost more memory than the states.)"""
        assert p.judge is not None
        if not p.per_request:
            return p.judge(self.m, s, action, arg, t)
        r = self.m.request_at(s, action, arg)
        if r is None:
            return None
        verdicts = r.verdicts  # kept on the request: p.id -> verdict
        found = verdicts.get(p.id, _MISSING)
        if found is _MISSING:
            found = verdicts[p.id] = p.judge(self.m, s, action, arg, t)
        return found

    def check_edge(self, s: tuple, action: str, arg: object, t: tuple) -> list[tuple[str, object]]:
        """The ``always`` verdicts on one step: [(property id, what is wrong)]."""
        return [(p.id, d) for p in PROPERTIES.values() if p.kind == "always" and action in p.on
                and (d := self.judge(p, s, action, arg, t)) is not None]

    @staticmethod
    def is_fault(action: str) -> bool:
        return action in FAULT_ACTIONS

    @staticmethod
    def is_end(s: tuple) -> bool:
        return is_turn_over(s)

    @staticmethod
    def is_bad_end(action: str, arg: object, t: tuple) -> bool:
        """Steps that show a session failing: a rejected or refused request, a refused resume."""
        return (action == "SendRequest" and arg == "rejected") or action in ("RefuseRequest", "ResumeRefused") \
            or t[PHASE] == REFUSED
