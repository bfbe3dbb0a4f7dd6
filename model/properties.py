"""The properties, with their stable IDs, and how each is judged on the turn-loop model.

Kinds, as in stateright: ``always`` (safety: judged on every request sent, so the explorer's
breadth-first search finds the shortest path to a violation), ``can`` (from given states a good
step stays reachable without further faults; judged on the state graph), ``eventually``
(liveness: judged on the state graph), and ``sometimes`` (reachability: proves a verdict is not
vacuous).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from . import items as I
from .turnloop import ACTIONS, DRAIN, DRAINED, FAULT_ACTIONS, FILE, IN_FLIGHT, PHASE, QUEUE, REFUSED, TurnLoop, is_turn_over


@dataclass(frozen=True)
class Property:
    id: str
    kind: str  # always | can | eventually | sometimes
    statement: str


PROPERTIES: dict[str, Property] = {p.id: p for p in (
    Property("calls-answered", "always",
             "In every request sent, each tool call has exactly one result."),
    Property("no-orphan-results", "always",
             "In every request sent, each result answers a call earlier in it."),
    Property("wire-valid", "always",
             "Every request sent is accepted by the configured provider's rules."),
    Property("results-kept", "always",
             "A tool result that reached the rollout file (or its write queue) is never replaced or "
             "dropped later: every later request carries it unchanged."),
    Property("resumable", "can",
             "After any crash or interrupt, the session can again send an accepted request "
             "(without relying on further faults)."),
    Property("can-proceed", "can",
             "After any user message, the session can send an accepted request (without relying "
             "on further faults): a session that refuses or fails every request is stuck even "
             "when nothing crashed."),
    Property("turn-ends", "eventually",
             "From every reachable state a turn can end and hand control back (without relying on "
             "faults), and no cycle exists, such as retrying the same rejected request forever."),
)}
SAFETY = tuple(p for p, v in PROPERTIES.items() if v.kind == "always")

SOMETIMES: dict[str, str] = {
    "full-batch-sent": "A request with N calls and N results is sent.",
    "crash-then-resume": "A crash happens and the session is resumed from the file.",
    "interrupt-during-drain": "An interrupt lands while tool outputs are being drained.",
}


# ---- judgments on one request (pure; also used by lint and by the reference conformance tests) ----
def unanswered_or_duplicated(items: tuple) -> list[tuple]:
    """calls-answered: [(call_id, number_of_results)] for every call without exactly one result."""
    calls = Counter(it[1] for it in items if it[0] == I.CALL)
    outs = Counter(it[1] for it in items if it[0] == I.OUTPUT)
    return [(cid, outs[cid]) for cid, n in calls.items() if outs[cid] != n]


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
    """results-kept: real results of ``kept`` missing (or replaced) in the request ``items``."""
    present = set(it[:3] for it in items if it[0] == I.OUTPUT)
    return [it[1] for it in kept if I.is_real_output(it) and it[:3] not in present]


class TurnLoopSpec:
    """Binds the properties to the TurnLoop model for the explorer."""

    def __init__(self, model: TurnLoop):
        self.m = model
        self.calls = model.p.calls
        self._verdicts: dict = {}
        self._full: dict = {}
        self._keep: list = []

    checked_actions = frozenset(("SendRequest",))
    sometimes_actions = frozenset(("SendRequest", "Resume", "Interrupt"))
    actions = tuple(ACTIONS)

    @staticmethod
    def is_fault(action: str) -> bool:
        return action in FAULT_ACTIONS

    @staticmethod
    def is_end(s: tuple) -> bool:
        return is_turn_over(s)

    def check_edge(self, s: tuple, action: str, arg: object, t: tuple) -> list[tuple]:
        """Safety verdicts for a SendRequest step: [(property_id, detail)]."""
        r = self.m.request(s)
        found = self._verdicts.get(id(r))
        if found is None:
            found = []
            bad = unanswered_or_duplicated(r.items)
            if bad:
                found.append(("calls-answered", "; ".join(
                    f"call {I.wire_id(c, self.m.d.wire)} has {n} results" for c, n in bad)))
            orph = orphan_results(r.items)
            if orph:
                found.append(("no-orphan-results", "results with no earlier call: " +
                              ", ".join(I.wire_id(c, self.m.d.wire) for c in orph)))
            if r.rejections:
                found.append(("wire-valid", r.rejections[0]))
            self._verdicts[id(r)] = found
            self._keep.append(r)  # keeps id(r) unique while cached
        out = list(found)
        lost = dropped_results(s[FILE] + s[QUEUE], r.items)
        if lost:
            out.append(("results-kept", "results recorded for the rollout but not in this request: " +
                        ", ".join(I.wire_id(c, self.m.d.wire) for c in lost)))
        return out

    def sometimes(self, s: tuple, action: str, arg: object, t: tuple) -> str | None:
        if action == "SendRequest":
            r = self.m.request(s)
            full = self._full.get(id(r))
            if full is None:
                calls = sum(1 for it in r.items if it[0] == I.CALL)
                outs = sum(1 for it in r.items if it[0] == I.OUTPUT)
                full = self._full[id(r)] = calls == self.calls and outs == self.calls
                self._keep.append(r)
            if full:
                return "full-batch-sent"
        elif action == "Resume":
            return "crash-then-resume"
        elif action == "Interrupt" and s[PHASE] == DRAIN and s[DRAINED] < len(s[IN_FLIGHT]):
            return "interrupt-during-drain"
        return None

    @staticmethod
    def is_accept(action: str, arg: object) -> bool:
        return action == "SendRequest" and arg == "accepted"

    @staticmethod
    def is_bad_end(action: str, arg: object, t: tuple) -> bool:
        """Steps that show a session failing: a rejected or refused request, a refused resume."""
        return (action == "SendRequest" and arg == "rejected") or action in ("RefuseRequest", "ResumeRefused") \
            or t[PHASE] == REFUSED

    # the states from which `resumable` / `can-proceed` demand an accepted request
    @staticmethod
    def can_sources(action: str) -> str | None:
        if action in ("Resume", "ResumeRefused", "TurnAborted"):
            return "resumable"
        if action == "UserMessage":
            return "can-proceed"
        return None
