"""Explicit-state exploration: breadth-first search, then graph analysis.

1. BFS from the initial states, numbering each state in discovery order. Safety properties are
   judged on each step as it is generated; BFS order makes the first violation found for a property
   a shortest one, so a property is judged no more once it is decided. The hot loop uses a dict
   and flat lists only; the cyclic garbage collector is paused while it runs.
2. The edges kept (split into fault and non-fault steps) answer the graph properties by backward
   reachability: which states can still reach an accepted request, or the end of a turn, without
   further faults. Cycles are found by peeling off states with no successors left (Kahn); only
   the few states that remain, if any, go into networkx to name one cycle.

No reduction is applied beyond the model's own three (tools resolve at the head of the drain, a
crash finds the writer caught up, a cancelled tool answers "aborted by user"; see turnloop.py): calls
are not symmetric (the drain order and the request order depend on the call index), so merging
states by permuting calls would be unsound.

Memory: the state table holds each state in the model's compact form when it offers one
(``Model.pack``/``unpack``; turnloop.py keeps the three interned item sequences, the interned
in_flight and an id for the other fields, 80 bytes instead of 208), once as a key of the index
dict and once in the discovery-order list; a state is unpacked when it is expanded. The BFS parent of each state and the
successor lists are flat ``array('i')`` buffers (4 bytes an entry, no int objects), successors
back to back with an offset per state, and the reverse edges of the graph phase the same way.
A truncated search (``max_states``) stops after a whole state's successors: the buffers stay
consistent, the violations found are real, and nothing else is judged. The state bound is the
memory bound: benchmarks/bench_model.py prints the bytes per state.

One search runs on one core. Splitting it across processes would be sound for the verdicts
(states partitioned by a content hash, BFS layer by layer, each new state's rank taken from its
parent's rank and its successor position, so the first violation found and its path are the
ones this search reports), but the states would have to cross between processes: a state and
its three item sequences pickle to hundreds of bytes, costing more than generating it, and the
graph properties need the whole graph in one process. ``turnproof matrix --jobs`` runs whole
searches in parallel instead, which needs no exchange.
"""

from __future__ import annotations

import gc
import operator
import sys
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import networkx as nx

if TYPE_CHECKING:
    from .properties import Property


# ---- the explorer's contract with the model --------------------------------------------------------
class Model(Protocol):
    """A state machine over hashable states (model/turnloop.py ``TurnLoop``)."""

    def init_states(self) -> list[tuple]: ...

    def successors(self, s: tuple) -> list[tuple[str, object, tuple]]:
        """[(action, arg, next_state)] for every enabled step, in a fixed order."""
        ...

    # Optional: a compact form of a state for the state table, and back (``unpack(pack(s)) == s``,
    # and ``pack(s) == pack(t)`` exactly when ``s == t``). Without them the table holds states as they are.
    # def pack(self, s: tuple) -> Hashable: ...
    # def unpack(self, k) -> tuple: ...


class Spec(Protocol):
    """The properties bound to a model (model/properties.py ``TurnLoopSpec``)."""

    properties: tuple[Property, ...]  # judged in this order; each carries its judge
    actions: tuple[str, ...]  # every action the model can take

    def judge(self, p: Property, s: tuple, action: str, arg: object, t: tuple) -> object:
        """``always``: what is wrong with the step, or None; ``sometimes``: whether it reaches ``p``."""
        ...

    def is_fault(self, action: str) -> bool:
        """The environment misbehaving: ``can`` and ``eventually`` properties never rely on it."""
        ...

    def is_end(self, s: tuple) -> bool:
        """A turn has ended: a state without successors that is not one is a deadlock."""
        ...

    def is_bad_end(self, action: str, arg: object, t: tuple) -> bool:
        """A step that shows the session failing (where a ``can`` counterexample's continuation stops)."""
        ...


@dataclass
class Violation:
    prop: str
    path: list  # [(action, arg, state_after)] from an initial state; path[0] has action None
    detail: object  # property-specific: a Rejection, or a text
    continuation: list = field(default_factory=list)  # for graph properties: what happens next
    cycle: list = field(default_factory=list)


@dataclass
class Result:
    states: int
    edges: int
    depth: int
    seconds: float
    violations: dict  # prop id -> Violation
    sometimes: dict  # sometimes id -> path length where first reached (None if never)
    coverage: dict  # action -> number of steps taken (actions never taken are absent)
    graph_seconds: float = 0.0
    # the search stopped at max_states: violations found are real, but nothing is shown to hold
    # and the graph properties are not judged
    truncated: bool = False

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0


class Explorer:
    def __init__(self, model: Model, spec: Spec, *, progress=False, max_states: int | None = None):
        self.model = model
        self.spec = spec
        # a callable(explored, queued, depth, states_per_second), or True for a line on stderr
        self.progress = _print_progress if progress is True else progress
        self.max_states = max_states
        # the state table holds each state in the model's compact form, if it has one
        self._pack = getattr(model, "pack", None) or _same
        self._unpack = getattr(model, "unpack", None) or _same
        self._ends: dict = {}  # eventually property id -> the states that fulfil it (filled by run)

    def run(self, safety_only: bool = False) -> Result:
        m, spec = self.model, self.spec
        t0 = time.perf_counter()
        pack, unpack = self._pack, self._unpack
        states: list = [pack(s) for s in m.init_states()]  # packed: the model's compact form
        index = {k: i for i, k in enumerate(states)}
        # flat buffers of C ints (4 bytes an entry, no int objects): the BFS parent of each state,
        # and every state's successor ids (a fault step's stored as ~id, negative) back to back,
        # state i's at succ[offsets[i]:offsets[i + 1]]
        parent = array("i", [-1] * len(states))
        succ = array("i")
        offsets = array("i", [0])
        targets: dict = {}  # can property -> states with a step to its goal
        sources: dict = {}  # can property -> the states it is judged from
        violations: dict = {}
        sometimes: dict = {}
        # action -> (properties judged on its steps, can properties judged after it, goal of those
        # can properties it is a step to, fault)
        info: dict = {a: ([], [], [], spec.is_fault(a)) for a in spec.actions}
        for p in spec.properties:
            if p.kind in ("always", "sometimes"):
                for a in p.on:
                    info[a][0].append(p)
            elif p.kind == "can":
                for a in p.on:
                    info[a][1].append(p)
                assert p.goal is not None
                info[p.goal[0]][2].append(p)
        cov = dict.fromkeys(info, 0)
        # eventually properties: the states that fulfil each, noted as they are found (the graph
        # phase would otherwise unpack every state again)
        self._ends = {} if safety_only else {p.id: [] for p in spec.properties if p.kind == "eventually"}
        end_checks: list = [(p.end, self._ends[p.id]) for p in spec.properties if p.id in self._ends]
        for end, found_ends in end_checks:
            found_ends.extend(i for i, k in enumerate(states) if end(unpack(k)))
        special = frozenset(a for a, (judged, after, goal, fault) in info.items() if judged or after or goal or fault)
        edges = 0
        i = 0
        depth, layer_end = 0, len(states)  # BFS layers: states [.., layer_end) are at ``depth``
        last = t0
        successors = m.successors
        setdefault = index.setdefault
        bound = self.max_states or float("inf")
        truncated = False
        # The search makes millions of tuples and no garbage cycles: the cyclic collector would
        # only rescan the growing state table (a third of the time of a large search), so it is
        # paused while the search runs.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            n = len(states)  # the states found so far: the next new state's id
            states_append, parent_append, progress = states.append, parent.append, self.progress
            while i < n:
                if i == layer_end:
                    depth += 1
                    layer_end = n
                s = unpack(states[i])
                out: list = []
                for action, arg, t in successors(s):
                    k = pack(t)
                    j = setdefault(k, n)  # one hash per step: tuples do not cache theirs
                    if j == n:
                        states_append(k)
                        parent_append(i)
                        n += 1
                        for end, found_ends in end_checks:
                            if end(t):
                                found_ends.append(j)
                    cov[action] += 1
                    if action not in special:  # the common case: a plain non-fault step
                        out.append(j)
                        continue
                    judged, after, goal, fault = info[action]
                    decided = None
                    for p in judged:
                        found = spec.judge(p, s, action, arg, t)
                        if p.kind == "always":
                            if found is not None:
                                violations[p.id] = (i, action, arg, j, found)
                                decided = (decided or []) + [p]
                        elif found:
                            sometimes[p.id] = depth + 1
                            decided = (decided or []) + [p]
                    if decided:  # the first violation (or reaching) is the shortest: judge p no more
                        for p in decided:
                            for lists in info.values():
                                if p in lists[0]:
                                    lists[0].remove(p)
                        special = frozenset(a for a, (jd, af, gl, fl) in info.items() if jd or af or gl or fl)
                    for p in after:
                        sources.setdefault(p.id, []).append(j)
                    for p in goal:
                        if p.goal[1] == arg:
                            targets.setdefault(p.id, []).append(i)
                    out.append(~j if fault else j)
                succ.extend(out)
                offsets.append(len(succ))
                edges += len(out)
                i += 1
                if progress and (i & 0x3FFF) == 0:
                    now = time.perf_counter()
                    if now - last > 2:
                        last = now
                        progress(i, n - i, depth, i / (now - t0))
                if n > bound:  # stop cleanly: what was found so far stays valid
                    truncated = True
                    break
        finally:
            if gc_was_on:
                gc.enable()
        seconds = time.perf_counter() - t0
        self._states, self._parent, self._index = states, parent, index
        self._succ, self._offsets = succ, offsets
        res: dict = {}
        for prop, (pi, action, arg, j, detail) in violations.items():
            res[prop] = Violation(prop, self.path_to(pi) + [(action, arg, unpack(states[j]))], detail)
        coverage = {a: c for a, c in cov.items() if c}
        result = Result(len(states), edges, depth, seconds, res, sometimes, coverage, truncated=truncated)
        if not safety_only and not truncated:
            g0 = time.perf_counter()
            self._graph_properties(result, targets, sources)
            result.graph_seconds = time.perf_counter() - g0
        return result

    # ---- paths ---------------------------------------------------------------------------------
    def path_to(self, j: int) -> list:
        """The BFS path to state ``j``; step labels are found again from the parent's successors."""
        chain = []
        while j >= 0:
            chain.append(j)
            j = self._parent[j]
        chain.reverse()
        path = [(None, None, self.state(chain[0]))]
        for a, b in zip(chain, chain[1:]):
            action, arg = self._label_between(a, b)
            path.append((action, arg, self.state(b)))
        return path

    def _forward_path(self, start: int, goal) -> list:
        """Shortest path from ``start`` (non-fault steps) to a step ``goal(action, arg, t)`` accepts."""
        m, state = self.model, self.state
        prev: dict[int, tuple[int, tuple[str, object]] | None] = {start: None}
        dq = deque([start])
        while dq:
            i = dq.popleft()
            s = state(i)
            for action, arg, t in m.successors(s):
                if self.spec.is_fault(action):
                    continue
                j = self._index_of(t)
                if goal(action, arg, t) or (not m.successors(t) and not self.spec.is_end(t)):
                    steps = [(action, arg, t)]
                    k = i
                    while (back := prev[k]) is not None:
                        k2, lab = back
                        steps.append((lab[0], lab[1], state(k)))
                        k = k2
                    steps.reverse()
                    return steps
                if j not in prev:
                    prev[j] = (i, (action, arg))
                    dq.append(j)
        return []

    def _index_of(self, t) -> int:
        return self._index[self._pack(t)]

    def state(self, i: int) -> tuple:
        """State ``i`` (in discovery order), as the model's successors take it."""
        return self._unpack(self._states[i])

    def all_states(self) -> list[tuple]:
        """Every state found, in discovery order (a list made on demand: the table keeps them packed)."""
        return [self._unpack(k) for k in self._states]

    # ---- graph properties ----------------------------------------------------------------------
    def _out(self, i: int) -> array:
        """Successors of state ``i`` (a fault step's stored as ~id)."""
        return self._succ[self._offsets[i]:self._offsets[i + 1]]

    def _nf(self, i: int) -> list:
        """Non-fault successors of state ``i``."""
        return [j for j in self._out(i) if j >= 0]

    def _reverse(self) -> tuple[array, array]:
        """Predecessors of every state (a fault step's stored as ~id), built once, in the same flat
        layout as the successors: state j's at rev[roff[j]:roff[j + 1]], in order of i."""
        if not hasattr(self, "_rev"):
            n, succ, offsets = len(self._states), self._succ, self._offsets
            count = array("i", bytes(4 * (n + 1)))
            for j in succ:
                count[(j if j >= 0 else ~j) + 1] += 1
            for k in range(n):
                count[k + 1] += count[k]
            roff = array("i", count)  # roff[j]: where j's predecessors start
            rev = array("i", bytes(4 * len(succ)))
            for i in range(n):
                for j in succ[offsets[i]:offsets[i + 1]]:
                    if j >= 0:
                        rev[count[j]] = i
                        count[j] += 1
                    else:
                        rev[count[~j]] = ~i
                        count[~j] += 1
            self._rev = (rev, roff)
        return self._rev

    def _backward(self, targets: list) -> bytearray:
        """States that reach a target state through non-fault steps."""
        rev, roff = self._reverse()
        seen = bytearray(len(self._states))
        dq: deque[int] = deque()
        for t in targets:
            if not seen[t]:
                seen[t] = 1
                dq.append(t)
        while dq:
            j = dq.popleft()
            for i in rev[roff[j]:roff[j + 1]]:
                if i >= 0 and not seen[i]:
                    seen[i] = 1
                    dq.append(i)
        return seen

    def _graph_properties(self, result: Result, targets: dict, sources: dict) -> None:
        spec = self.spec
        for p in spec.properties:
            if p.kind == "can":
                reach = self._backward(targets.get(p.id, []))
                for j in sorted(set(sources.get(p.id, []))):
                    if not reach[j]:
                        v = Violation(p.id, self.path_to(j), p.failure)
                        v.continuation = self._forward_path(j, spec.is_bad_end)
                        result.violations[p.id] = v
                        break
            elif p.kind == "eventually":
                stuck = self._eventually(p)
                if stuck is not None:
                    result.violations[p.id] = stuck

    def _eventually(self, p: Property) -> Violation | None:
        """(a) A state fulfilling ``p`` is reachable from everywhere without faults; (b) no cycle."""
        states, end, unpack = self._states, p.end, self._unpack
        assert end is not None
        ends = self._ends.get(p.id)
        if ends is None:
            ends = [i for i in range(len(states)) if end(unpack(states[i]))]
        can_end = self._backward(ends)
        j = can_end.find(0)  # the first state that cannot reach one
        if j >= 0:
            return self._stuck(p, j)
        # Kahn's peeling over every step; what is left lies on or before a cycle
        cyc = self._find_cycle()
        if cyc:
            v = Violation(p.id, self.path_to(cyc[0]), "a cycle: this can repeat forever")
            v.cycle = [(self._label_between(a, b), self.state(b)) for a, b in zip(cyc, cyc[1:] + cyc[:1])]
            return v
        return None

    def _stuck(self, p: Property, j: int) -> Violation:
        """State ``j`` cannot reach a state fulfilling ``p``: show the dead end, or the cycle it is caught in."""
        seen = {j}
        dq = deque([j])
        while dq:
            i = dq.popleft()
            if not self._nf(i):
                v = Violation(p.id, self.path_to(j), f"{p.failure}: a deadlock")
                v.continuation = self._forward_path(j, lambda a, b, t: False)
                return v
            for k in self._nf(i):
                if k not in seen:
                    seen.add(k)
                    dq.append(k)
        g = nx.DiGraph((i, k) for i in seen for k in self._nf(i))
        cyc = [a for a, _ in nx.find_cycle(g, source=j)]
        v = Violation(p.id, self.path_to(cyc[0]), f"{p.failure}: the session can only cycle")
        v.cycle = [(self._label_between(a, b), self.state(b)) for a, b in zip(cyc, cyc[1:] + cyc[:1])]
        return v

    def _label_between(self, a: int, b: int) -> tuple:
        """The first step (in successor order) from state ``a`` to state ``b``."""
        target = self.state(b)
        for action, arg, t in self.model.successors(self.state(a)):
            if t == target:
                return (action, arg)
        raise AssertionError("no step between two states on a recorded path")

    def _find_cycle(self) -> list:
        """Kahn: peel off states whose successors are all peeled; what remains reaches a cycle."""
        n = len(self._states)
        offsets = self._offsets
        rev, roff = self._reverse()
        outdeg = array("i", map(operator.sub, offsets[1:], offsets[:-1]))
        dq = deque(i for i in range(n) if outdeg[i] == 0)
        removed = bytearray(n)
        while dq:
            j = dq.popleft()
            removed[j] = 1
            for i in rev[roff[j]:roff[j + 1]]:
                i = i if i >= 0 else ~i
                outdeg[i] -= 1
                if outdeg[i] == 0:
                    dq.append(i)
        if removed.find(0) < 0:
            return []
        rest = [i for i in range(n) if not removed[i]]
        g = nx.DiGraph()
        for i in rest:
            for j in self._out(i):
                j = j if j >= 0 else ~j
                if not removed[j]:
                    g.add_edge(i, j)
        edges = nx.find_cycle(g, source=min(rest))
        return [a for a, _ in edges]


def _same(s: tuple) -> tuple:
    return s


def _print_progress(explored: int, queued: int, depth: int, rate: float) -> None:
    print(f"  ... {explored:,} states explored, {queued:,} queued, depth {depth}, {rate:,.0f} states/s",
          file=sys.stderr)
