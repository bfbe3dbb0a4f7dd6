"""A repair function checked on its own, the way property-based testing checks a function.

Histories come from two sources:

1. the explorer: every history a base design reaches within the bounds, faults included (each
   state's history in memory, the rollout file a resume reads, the prompt a v0.77 retry reuses):
   the histories the loop can really hand to its repair;
2. hypothesis: those histories mutated (an item dropped, duplicated or moved, a user message or an
   assistant text put in between, an orphan result added, a call's or a result's id renamed),
   shrunk by hypothesis, then item by item until dropping any one more item makes it pass. Call
   ids stay unique, as every provider makes them: no mutation duplicates a call.

Each history is given to the function as it sees it (its shape, turnproof/shapes.py), and its
output must pass four checks:

- ``accepted``: the request built from it (the design's builder, or its build_request hook) is
  accepted by the provider's rules, and every call in it has exactly one result after it;
- ``results-kept``: every tool result that answers a call (an earlier call with its id) is still
  there, unchanged;
- ``content-kept``: every user message and all assistant content (texts that are not empty,
  reasoning, calls) is still there, in the same order;
- ``idempotent``: repairing the output again changes nothing.

A failure is kept per check and kind (for ``accepted``: the provider's rule, and whether the
function left the history as it was or changed it), the shortest one first. No printing here:
cmd_fuzz.py renders what ``fuzz`` returns.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field

from turnproof.hooks import HookError
from turnproof.model import items as I
from turnproof.model.designs import Design
from turnproof.model.properties import orphan_results, unanswered_or_duplicated
from turnproof.model.provider import Rejection, judge, provider_for
from turnproof.model.turnloop import DOWN, FILE, HISTORY, NO_PROMPT, PHASE, PROMPT_LEN, READY, Params, TurnLoop
from turnproof.model.wire import build_request
from turnproof.shapes import decode, encode

CHECKS = {
    "accepted": "the request built from the output is accepted by the provider, every call answered once",
    "results-kept": "every tool result that answers a call is kept, unchanged",
    "content-kept": "every user message and all assistant content is kept, in order",
    "idempotent": "repairing the output again changes nothing",
}
MUTATIONS = ("drop", "duplicate", "move", "split-user", "split-text", "orphan", "rename")
DEFAULT_EXAMPLES = 300  # hypothesis examples per check


@dataclass
class Failure:
    check: str
    kind: str  # what kind of failure (the provider's rule, "dropped", ...)
    before: tuple  # the history as the function saw it
    after: tuple  # what it returned
    source: str  # "explorer" or "mutation"
    detail: str  # the provider's exact text, or what was lost
    rejection: Rejection | None = None
    body: list | None = None  # the request as sent (accepted)
    again: tuple | None = None  # the second repair (idempotent)
    mutations: tuple = ()  # the mutations applied to an explorer history (source "mutation")


@dataclass
class FuzzResult:
    states: int  # states the explorer reached
    histories: int  # distinct histories from them
    examples: int  # mutated histories tried
    seconds: float
    failures: dict = field(default_factory=dict)  # check -> [Failure], shortest first, one per kind
    truncated: bool = False  # the exploration stopped at max_states

    @property
    def holds(self) -> bool:
        return not any(self.failures.values())


class Repair:
    """The function under test on item tuples: ``given(h)`` is ``h`` as it sees it, ``__call__`` its output."""

    def __init__(self, fn, shape: str | None, grouping: str, name: str):
        self.fn, self.shape, self.grouping, self.name = fn, shape, grouping, name

    def given(self, h: tuple) -> tuple:
        return h if self.shape is None else decode(encode(h, self.shape, self.grouping), self.shape)

    def __call__(self, h: tuple) -> tuple:
        return self.fn(h)

    def show(self, h: tuple) -> list:
        """``h`` in the function's own shape (what to print for a user)."""
        return encode(h, self.shape or "responses", self.grouping)


# ---- histories the loop produces -------------------------------------------------------------------
def loop_histories(design: Design, params: Params, max_states: int | None = None) -> tuple[list, int, bool]:
    """Every distinct history a breadth-first search of ``design`` reaches, in order of first sight:
    (histories, states, truncated)."""
    model = TurnLoop(design, params)
    seen_states: set = set()
    order: dict = {}
    dq = deque()
    for s in model.init_states():
        seen_states.add(s)
        dq.append(s)
    truncated = False
    while dq:
        s = dq.popleft()
        hs = [s[HISTORY]]
        if s[PHASE] == READY and design.retry_prompt == "reuse" and s[PROMPT_LEN] != NO_PROMPT:
            hs.append(s[HISTORY][: s[PROMPT_LEN]])
        if s[PHASE] == DOWN:
            hs.append(tuple(it for it in s[FILE] if it[0] != "turn_aborted"))
        for h in hs:
            order.setdefault(h, len(order))
        for _, _, t in model.successors(s):
            if t not in seen_states:
                seen_states.add(t)
                dq.append(t)
        if max_states and len(seen_states) > max_states:
            truncated = True
            break
    hists = sorted(order, key=lambda h: (len(h), order[h]))
    return hists, len(seen_states), truncated


# ---- mutations -------------------------------------------------------------------------------------
def mutate(h: tuple, ops: tuple) -> tuple:
    """``h`` with each (mutation, i, j) applied in turn; indexes wrap around."""
    out = list(h)
    fresh = 100 + max([it[1] for it in h if isinstance(it[1], int)] + [0])
    for op, i, j in ops:
        n = len(out)
        if op == "split-user":
            out.insert(i % (n + 1), I.user())
        elif op == "split-text":
            out.insert(i % (n + 1), I.text())
        elif op == "orphan":
            fresh += 1
            out.insert(i % (n + 1), I.output(fresh))
        elif n == 0:
            continue
        elif op == "drop":
            del out[i % n]
        elif op == "duplicate":
            if out[i % n][0] != I.CALL:  # call ids are unique: a provider never repeats one
                out.insert(i % n + 1, out[i % n])
        elif op == "move":
            it = out.pop(i % n)
            out.insert(j % n, it)
        elif op == "rename":
            k = i % n
            if out[k][0] in (I.CALL, I.OUTPUT):
                fresh += 1
                out[k] = (out[k][0], fresh, out[k][2])
    return tuple(out)


# ---- the checks ------------------------------------------------------------------------------------
class Judge:
    """The request a repaired history becomes, and whether the provider takes it."""

    def __init__(self, design: Design):
        self.d = design
        p = design.provider
        self.provider = None if p in (None, "", "default") else p
        self.build = design.hooks.build_request if design.hooks and design.hooks.build_request else None

    @property
    def provider_title(self) -> str:
        return provider_for(self.d.wire, self.provider).title

    def request(self, items: tuple) -> tuple[list, tuple]:
        if self.build is not None:
            return self.build(items)
        return build_request(items, self.d.wire, self.d.chat_grouping, self.provider), items

    def accepted(self, out: tuple) -> tuple[str, str, Rejection | None, list] | None:
        """None, or (kind, detail, rejection, body)."""
        body, sent = self.request(out)
        rej = judge(self.d.wire, body, self.provider)
        if rej:
            return rej[0].rule, rej[0].text, rej[0], body
        bad = unanswered_or_duplicated(sent)
        if bad:
            return ("calls-answered", "; ".join(f"call {I.wire_id(c, self.d.wire)} has {n} results" for c, n in bad),
                    None, body)
        orph = orphan_results(sent)
        if orph:
            return ("no-orphan-results", "results with no earlier call: "
                    + ", ".join(I.wire_id(c, self.d.wire) for c in orph), None, body)
        return None


def answering_results(h: tuple) -> list:
    """Results with an earlier call of their id."""
    called: set = set()
    out = []
    for it in h:
        if it[0] == I.CALL:
            called.add(it[1])
        elif it[0] == I.OUTPUT and it[1] in called:
            out.append(it)
    return out


def content(h: tuple) -> list:
    return [it for it in h if it[0] in (I.USER, I.REASONING, I.CALL) or (it[0] == I.TEXT and it[2] != I.EMPTY)]


def lost_content(given: tuple, out: tuple) -> str | None:
    """What of ``given``'s content ``out`` lacks, or has out of order (None: all kept, in order)."""
    want, have = content(given), content(out)
    k = 0
    for it in have:
        if k < len(want) and it == want[k]:
            k += 1
    if k == len(want):
        return None
    remaining = list(have)
    dropped = []
    for it in want:
        if it in remaining:
            remaining.remove(it)
        else:
            dropped.append(it)
    if dropped:
        return "dropped " + ", ".join(I.show(it) for it in dropped)
    return f"moved {I.show(want[k])} out of order"


def run_checks(repair: Repair, judge_: Judge, h: tuple, only: str | None = None):
    """[(check, kind, detail, extra)] for ``h``, with (given, out); ``only`` runs one check."""
    given = repair.given(h)
    out = repair(h)
    found = []
    if only in (None, "accepted"):
        a = judge_.accepted(out)
        if a is not None:
            kind, detail, rej, body = a
            found.append(("accepted", f"{kind}, {'left as it was' if out == given else 'changed'}", detail,
                          {"rejection": rej, "body": body}))
    if only in (None, "results-kept"):
        have = set(out)
        lost = [it for it in answering_results(given) if it not in have]
        if lost:
            found.append(("results-kept", "dropped or changed",
                          "results that answer a call, not in the output: " + ", ".join(I.show(it) for it in lost), {}))
    if only in (None, "content-kept"):
        what = lost_content(given, out)
        if what is not None:
            found.append(("content-kept", what.split(" ")[0], what, {}))
    if only in (None, "idempotent"):
        again = repair(out)
        if again != out:
            found.append(("idempotent", "changes", f"a second repair gives {I.show_all(again)}", {"again": again}))
    return given, out, found


def fuzz(repair: Repair, judge_design: Design, base: Design, params: Params, *, examples: int = DEFAULT_EXAMPLES,
         seed: int | None = None, max_states: int | None = None) -> FuzzResult:
    """Explorer histories of ``base``, then hypothesis mutations; judged for ``judge_design``."""
    t0 = time.perf_counter()
    judge_ = Judge(judge_design)
    hists, states, truncated = loop_histories(base, params, max_states)
    res = FuzzResult(states, len(hists), 0, 0.0, {c: [] for c in CHECKS}, truncated)
    kinds: set = set()

    def keep(found, given, out, source, muts=()):
        for check, kind, detail, extra in found:
            if (check, kind) in kinds:
                continue
            kinds.add((check, kind))
            res.failures[check].append(Failure(check, kind, given, out, source, detail, extra.get("rejection"),
                                               extra.get("body"), extra.get("again"), muts))

    for h in hists:  # shortest first: the first failure of a kind is a shortest one
        given, out, found = run_checks(repair, judge_, h)
        keep(found, given, out, "explorer")
    if examples and hists:
        res.examples = _mutations(repair, judge_, hists, examples, seed, keep, res)
    for check in res.failures:
        res.failures[check].sort(key=lambda f: (len(f.before), f.source != "explorer"))
    res.seconds = time.perf_counter() - t0
    return res


def _mutations(repair, judge_, hists, examples, seed, keep, res) -> int:
    """Hypothesis, one search per check that the explorer's histories did not break; shrunk."""
    from hypothesis import HealthCheck, Phase, Verbosity, find, settings, strategies as st
    from hypothesis.errors import NoSuchExample

    tried = 0
    strategy = st.tuples(st.integers(0, len(hists) - 1),
                         st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 31), st.integers(0, 31)),
                                  min_size=1, max_size=4).map(tuple))
    for check in CHECKS:
        if res.failures[check]:
            continue
        errors: list = []

        def fails(ex, check=check, errors=errors) -> bool:
            nonlocal tried
            tried += 1
            try:
                _, _, found = run_checks(repair, judge_, mutate(hists[ex[0]], ex[1]), only=check)
            except HookError as e:
                errors.append(e)
                return False
            return bool(found)

        conf = settings(max_examples=examples, database=None, deadline=None, derandomize=seed is None,
                        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                        phases=[Phase.generate, Phase.shrink])
        try:
            ex = find(strategy, fails, settings=conf, random=random.Random(seed) if seed is not None else None)
        except NoSuchExample:
            ex = None
        if errors:
            raise errors[0]
        if ex is not None:
            ex = _drop_while_failing(ex, fails, hists)
            if errors:
                raise errors[0]
            h = mutate(hists[ex[0]], ex[1])
            given, out, found = run_checks(repair, judge_, h, only=check)
            keep(found, given, out, "mutation", (I.show_all(hists[ex[0]]),) + tuple(ex[1]))
    return tried


def _drop_while_failing(ex: tuple, fails, hists: list) -> tuple:
    """Hypothesis shrinks the example (which history, which mutations), not the history it makes, and
    where it stops depends on the list of histories: drop items of the mutated history one at a
    time, as further ``drop`` mutations, while the check still fails, until no single item can go."""
    hist, ops = ex
    size = len(mutate(hists[hist], ops))
    k = 0
    while k < size:
        trial = ops + (("drop", k, 0),)
        if fails((hist, trial)):
            ops, size = trial, size - 1
            k = 0
        else:
            k += 1
    return hist, ops
