"""Explicit-state exploration: breadth-first search, then graph analysis.

1. BFS from the initial states, numbering each state in discovery order. Safety properties are
   judged on each step as it is generated; BFS order makes the first violation found for a property
   a shortest one. The hot loop uses a dict and flat lists only.
2. The edges kept (split into fault and non-fault steps) answer the graph properties by backward
   reachability: which states can still reach an accepted request, or the end of a turn, without
   further faults. Cycles are found by peeling off states with no successors left (Kahn); only
   the few states that remain, if any, go into networkx to name one cycle.

No reduction is applied beyond the model's own (the lazy rollout writer; see turnloop.py): calls
are not symmetric (the drain order and the request order depend on the call index), so merging
states by permuting calls would be unsound.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field

import networkx as nx


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
    def __init__(self, model, spec, *, progress=False, max_states: int | None = None):
        self.model = model
        self.spec = spec
        # a callable(explored, queued, depth, states_per_second), or True for a line on stderr
        self.progress = _print_progress if progress is True else progress
        self.max_states = max_states

    def run(self, safety_only: bool = False) -> Result:
        m, spec = self.model, self.spec
        t0 = time.perf_counter()
        states: list = list(m.init_states())
        index = {s: i for i, s in enumerate(states)}
        parent = [-1] * len(states)
        succ: list = []  # per state: successor ids, a fault step's stored as ~id (negative)
        accepting: list = []  # states with an accepted request among their steps
        sources: dict = {}  # property -> state ids it is judged from
        violations: dict = {}
        sometimes: dict = {}
        checked = spec.checked_actions
        info: dict = {}  # action -> (checked, watched for `sometimes`, `can` source, fault)
        for a in spec.actions:
            info[a] = (a in checked, a in spec.sometimes_actions, spec.can_sources(a), spec.is_fault(a))
        cov = dict.fromkeys(info, 0)
        special = frozenset(a for a, flags in info.items() if any(x not in (False, None) for x in flags))
        edges = 0
        i = 0
        depth, layer_end = 0, len(states)  # BFS layers: states [.., layer_end) are at ``depth``
        last = t0
        successors = m.successors
        setdefault = index.setdefault
        bound = self.max_states or float("inf")
        truncated = False
        while i < len(states):
            if i == layer_end:
                depth += 1
                layer_end = len(states)
            s = states[i]
            out: list = []
            for action, arg, t in successors(s):
                n = len(states)
                j = setdefault(t, n)  # one hash per step: tuples do not cache theirs
                if j == n:
                    states.append(t)
                    parent.append(i)
                cov[action] += 1
                if action not in special:  # the common case: a plain non-fault step
                    out.append(j)
                    continue
                chk, watch, src, fault = info[action]
                if chk:
                    for prop, detail in spec.check_edge(s, action, arg, t):
                        if prop not in violations:
                            violations[prop] = (i, action, arg, j, detail)
                    if spec.is_accept(action, arg):
                        accepting.append(i)
                if watch:
                    what = spec.sometimes(s, action, arg, t)
                    if what is not None and what not in sometimes:
                        sometimes[what] = depth + 1
                if src is not None:
                    sources.setdefault(src, []).append(j)
                out.append(~j if fault else j)
            succ.append(out)
            edges += len(out)
            i += 1
            if self.progress and (i & 0x3FFF) == 0:
                now = time.perf_counter()
                if now - last > 2:
                    last = now
                    self.progress(i, len(states) - i, depth, i / (now - t0))
            if len(states) > bound:  # stop cleanly: what was found so far stays valid
                truncated = True
                break
        seconds = time.perf_counter() - t0
        self._states, self._parent, self._index = states, parent, index
        self._succ = succ
        res: dict = {}
        for prop, (pi, action, arg, j, detail) in violations.items():
            res[prop] = Violation(prop, self.path_to(pi) + [(action, arg, states[j])], detail)
        coverage = {a: n for a, n in cov.items() if n}
        result = Result(len(states), edges, depth, seconds, res, sometimes, coverage, truncated=truncated)
        if not safety_only and not truncated:
            g0 = time.perf_counter()
            self._graph_properties(result, accepting, sources)
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
        path = [(None, None, self._states[chain[0]])]
        for a, b in zip(chain, chain[1:]):
            action, arg = self._label_between(a, b)
            path.append((action, arg, self._states[b]))
        return path

    def _forward_path(self, start: int, goal) -> list:
        """Shortest path from ``start`` (non-fault steps) to a step ``goal(action, arg, t)`` accepts."""
        m, states = self.model, self._states
        prev = {start: None}
        dq = deque([start])
        while dq:
            i = dq.popleft()
            s = states[i]
            for action, arg, t in m.successors(s):
                if self.spec.is_fault(action):
                    continue
                j = self._index_of(t)
                if goal(action, arg, t) or (not m.successors(t) and not self.spec.is_end(t)):
                    steps = [(action, arg, t)]
                    k = i
                    while prev[k] is not None:
                        k2, lab = prev[k]
                        steps.append((lab[0], lab[1], states[k]))
                        k = k2
                    steps.reverse()
                    return steps
                if j not in prev:
                    prev[j] = (i, (action, arg))
                    dq.append(j)
        return []

    def _index_of(self, t) -> int:
        return self._index[t]

    # ---- graph properties ----------------------------------------------------------------------
    def _nf(self, i: int) -> list:
        """Non-fault successors of state ``i``."""
        return [j for j in self._succ[i] if j >= 0]

    def _reverse(self) -> list:
        """Predecessors of every state (a fault step's stored as ~id), built once."""
        if not hasattr(self, "_rev"):
            rev: list = [[] for _ in range(len(self._states))]
            for i, out in enumerate(self._succ):
                for j in out:
                    if j >= 0:
                        rev[j].append(i)
                    else:
                        rev[~j].append(~i)
            self._rev = rev
        return self._rev

    def _backward(self, targets: list) -> bytearray:
        """States that reach a target state through non-fault steps."""
        rev = self._reverse()
        seen = bytearray(len(self._states))
        dq = deque()
        for t in targets:
            if not seen[t]:
                seen[t] = 1
                dq.append(t)
        while dq:
            j = dq.popleft()
            for i in rev[j]:
                if i >= 0 and not seen[i]:
                    seen[i] = 1
                    dq.append(i)
        return seen

    def _graph_properties(self, result: Result, accepting: list, sources: dict) -> None:
        spec, states = self.spec, self._states
        n = len(states)
        can_accept = self._backward(accepting)
        for prop in ("resumable", "can-proceed"):
            for j in sorted(set(sources.get(prop, []))):
                if not can_accept[j]:
                    v = Violation(prop, self.path_to(j), "no accepted request is reachable from here "
                                  "without further faults")
                    v.continuation = self._forward_path(j, spec.is_bad_end)
                    result.violations[prop] = v
                    break
        # turn-ends: (a) the end of a turn is reachable from everywhere without faults
        ends = [i for i in range(n) if spec.is_end(states[i])]
        can_end = self._backward(ends)
        for j in range(n):
            if not can_end[j]:
                result.violations["turn-ends"] = self._stuck(j)
                break
        # (b) no cycle: Kahn's peeling over every step; what is left lies on or before a cycle
        if "turn-ends" not in result.violations:
            cyc = self._find_cycle()
            if cyc:
                v = Violation("turn-ends", self.path_to(cyc[0]), "a cycle: this can repeat forever")
                v.cycle = [(self._label_between(a, b), states[b]) for a, b in zip(cyc, cyc[1:] + cyc[:1])]
                result.violations["turn-ends"] = v

    def _stuck(self, j: int) -> Violation:
        """State ``j`` cannot reach the end of a turn: show the dead end, or the cycle it is caught in."""
        seen = {j}
        dq = deque([j])
        while dq:
            i = dq.popleft()
            if not self._nf(i):
                v = Violation("turn-ends", self.path_to(j),
                              "no end of turn is reachable from here without faults: a deadlock")
                v.continuation = self._forward_path(j, lambda a, b, t: False)
                return v
            for k in self._nf(i):
                if k not in seen:
                    seen.add(k)
                    dq.append(k)
        g = nx.DiGraph((i, k) for i in seen for k in self._nf(i))
        cyc = [a for a, _ in nx.find_cycle(g, source=j)]
        v = Violation("turn-ends", self.path_to(cyc[0]),
                      "no end of turn is reachable from here without faults: the session can only cycle")
        v.cycle = [(self._label_between(a, b), self._states[b]) for a, b in zip(cyc, cyc[1:] + cyc[:1])]
        return v

    def _label_between(self, a: int, b: int) -> tuple:
        """The first step (in successor order) from state ``a`` to state ``b``."""
        target = self._states[b]
        for action, arg, t in self.model.successors(self._states[a]):
            if t == target:
                return (action, arg)
        raise AssertionError("no step between two states on a recorded path")

    def _find_cycle(self) -> list:
        """Kahn: peel off states whose successors are all peeled; what remains reaches a cycle."""
        n = len(self._states)
        succ = self._succ
        rev = self._reverse()
        outdeg = [len(out) for out in succ]
        dq = deque(i for i in range(n) if outdeg[i] == 0)
        removed = bytearray(n)
        while dq:
            j = dq.popleft()
            removed[j] = 1
            for i in rev[j]:
                i = i if i >= 0 else ~i
                outdeg[i] -= 1
                if outdeg[i] == 0:
                    dq.append(i)
        rest = [i for i in range(n) if not removed[i]]
        if not rest:
            return []
        g = nx.DiGraph()
        for i in rest:
            for j in succ[i]:
                j = j if j >= 0 else ~j
                if not removed[j]:
                    g.add_edge(i, j)
        edges = nx.find_cycle(g, source=min(rest))
        return [a for a, _ in edges]


def _print_progress(explored: int, queued: int, depth: int, rate: float) -> None:
    print(f"  ... {explored:,} states explored, {queued:,} queued, depth {depth}, {rate:,.0f} states/s",
          file=sys.stderr)
