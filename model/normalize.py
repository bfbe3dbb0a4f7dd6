"""History normalization: what a loop does to its history before it becomes a request.

Three modes, chosen by a design's ``normalization`` knob:

- ``none``:  send the history as recorded.
- ``codex``: core/src/context_manager/normalize.rs, the same at rust-v0.77.0 (:9, :93, :97) and
  rust-v0.122.0 (:14, :118, :122). `ensure_call_outputs_present` gives every call with no output
  *anywhere* a synthetic output "aborted" at index call+1; `remove_orphan_outputs` then drops
  outputs whose call is missing. Neither step looks at adjacency,
  so a partial result set [C1,C2,C3,O1,O3] becomes [C1,C2,O2',C3,O1,O3] and splits the call group.
- ``ours`` (turnproof-proposed, also the `turnproof repair` algorithm): pair by position.
  Outputs with no earlier call, and outputs for calls already answered, are dropped. Every
  assistant-side run (reasoning, text and calls with nothing else between them) that holds calls
  is followed directly by the outputs of those calls: the ones already there keep their order,
  outputs recorded further away are moved up, and missing ones get a SYNTHETIC output at the end of
  the run, in call order. Nothing else moves and no user or assistant item is dropped. The result
  is a fixed point: normalizing twice changes nothing.
- ``drop-both`` (OpenHands ``ConversationMemory._filter_unmatched_tool_calls`` and the SDK's
  ``View.filter_unmatched_tool_calls``; goose ``fix_conversation`` -> ``fix_tool_calling``): a
  result with no earlier call is dropped, and so is a call with no later result.
- ``placeholder`` (opencode ``toModelMessages``: a pending or running tool part is sent as an error
  "[Tool execution was interrupted]"; Cline ``ensureToolResultsFollowToolUse``: "result missing"):
  a call with no later result gets a PLACEHOLDER result at the end of its assistant run; results
  with no call are left alone.

All functions are pure and take and return tuples of items (model/items.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .items import ASSISTANT_SIDE, CALL, CODEX_ABORTED, OUTPUT, PLACEHOLDER, SYNTHETIC

MODES = ("none", "codex", "ours", "drop-both", "placeholder")


@dataclass(frozen=True)
class Change:
    """One edit made by the ``ours`` normalization (reported by `turnproof repair`)."""

    op: str  # "drop-orphan" | "drop-duplicate" | "move" | "synthesize"
    call_id: object
    index: int | None  # position in the input (None for synthesized items)
    tag: object = None  # the tag of the item moved or dropped


def normalize_codex(items: tuple) -> tuple:
    """ensure_call_outputs_present, then remove_orphan_outputs (normalize.rs)."""
    answered: set = set()
    called: set = set()
    for it in items:
        if it[0] == OUTPUT:
            answered.add(it[1])
        elif it[0] == CALL:
            called.add(it[1])
    if answered == called:  # no call lacks an output and no output lacks a call: nothing changes
        return items
    out: list = []
    for it in items:
        out.append(it)
        if it[0] == CALL and it[1] not in answered:
            out.append((OUTPUT, it[1], CODEX_ABORTED))
    calls = {it[1] for it in out if it[0] == CALL}
    return tuple(it for it in out if not (it[0] == OUTPUT and it[1] not in calls))


def normalize_ours_report(items: tuple, report: bool = True) -> tuple[tuple, list[Change]]:
    """The ``ours`` normalization, with the list of edits it made (left empty unless ``report``:
    the explorer asks for the items only, tens of thousands of times)."""
    changes: list[Change] = []
    # Pass 1: which output answers which call: the earliest earlier call with that id that has no
    # answer yet (ids can repeat: providers that omit ids get positional ones). Outputs with no
    # earlier call are orphans; outputs for calls already answered are duplicates.
    waiting: dict = {}  # call id -> indexes of earlier calls with that id and no answer, oldest first
    called: set = set()
    answer_of: dict = {}  # output index -> call index
    for i, it in enumerate(items):
        kind = it[0]
        if kind == CALL:
            waiting.setdefault(it[1], []).append(i)
            called.add(it[1])
        elif kind == OUTPUT:
            q = waiting.get(it[1])
            if q:
                answer_of[i] = q.pop(0)
            elif not report:
                pass
            elif it[1] in called:
                changes.append(Change("drop-duplicate", it[1], i, it[2]))
            else:
                changes.append(Change("drop-orphan", it[1], i, it[2]))
    # Pass 2: rebuild, emitting each group's outputs right after its assistant-side run.
    out_for_call = {ci: oi for oi, ci in answer_of.items()}
    out: list = []
    n = len(items)
    i = 0
    while i < n:
        it = items[i]
        if it[0] == OUTPUT:
            i += 1  # emitted with its group (or dropped above)
            continue
        if it[0] not in ASSISTANT_SIDE:
            out.append(it)
            i += 1
            continue
        j = i
        calls: list = []
        while j < n and items[j][0] in ASSISTANT_SIDE:
            out.append(items[j])
            if items[j][0] == CALL:
                calls.append(j)
            j += 1
        if calls:
            group = set(calls)
            # outputs directly after the run keep their order
            k = j
            placed: list = []
            while k < n and items[k][0] == OUTPUT:
                if answer_of.get(k) in group:
                    placed.append(k)
                k += 1
            done = {answer_of[k2] for k2 in placed}
            for k2 in placed:
                out.append(items[k2])
            for ci in calls:  # outputs recorded elsewhere move up, in call order
                oi = out_for_call.get(ci)
                if oi is not None and ci not in done:
                    if report:
                        changes.append(Change("move", items[ci][1], oi, items[oi][2]))
                    out.append(items[oi])
                    done.add(ci)
            for ci in calls:
                if ci not in done:
                    if report:
                        changes.append(Change("synthesize", items[ci][1], None))
                    out.append((OUTPUT, items[ci][1], SYNTHETIC))
        i = j
    return tuple(out), changes


def normalize_ours(items: tuple) -> tuple:
    if already_paired(items):  # most histories a search meets: nothing to move, drop or add
        return items
    return normalize_ours_report(items, report=False)[0]


def already_paired(items: tuple) -> bool:
    """Whether ``ours`` leaves ``items`` as they are: every assistant-side run that holds calls (no
    id twice in it) is followed directly by one output for each of its calls, in any order, and no
    other output appears. One pass, no dicts; ``ours`` would only confirm it."""
    waiting: set = set()  # calls of the current run that no output has answered yet
    in_run = False  # the last item was assistant-side
    for it in items:
        kind = it[0]
        if kind == OUTPUT:
            if it[1] not in waiting:  # an orphan, a duplicate, or a result away from its run
                return False
            waiting.discard(it[1])
            in_run = False
        elif kind in ASSISTANT_SIDE:
            if waiting and not in_run:  # a run ended with calls still unanswered
                return False
            in_run = True
            if kind == CALL:
                if it[1] in waiting:
                    return False
                waiting.add(it[1])
        else:
            if waiting:
                return False
            in_run = False
    return not waiting


def _answered_later(items: tuple) -> set:
    """Indexes of calls that a later result answers (the earliest unanswered call with its id)."""
    waiting: dict = {}
    done: set = set()
    for i, it in enumerate(items):
        if it[0] == CALL:
            waiting.setdefault(it[1], []).append(i)
        elif it[0] == OUTPUT and waiting.get(it[1]):
            done.add(waiting[it[1]].pop(0))
    return done


def normalize_drop_both(items: tuple) -> tuple:
    """drop-both: results with no earlier call, and calls with no later result, are dropped."""
    answered = _answered_later(items)
    seen: set = set()
    out: list = []
    for i, it in enumerate(items):
        if it[0] == CALL:
            seen.add(it[1])
            if i not in answered:
                continue
        elif it[0] == OUTPUT and it[1] not in seen:
            continue
        out.append(it)
    return tuple(out)


def normalize_placeholder(items: tuple) -> tuple:
    """placeholder: a call with no later result gets one at the end of its assistant run."""
    answered = _answered_later(items)
    out: list = []
    pending: list = []
    for i, it in enumerate(items):
        if it[0] not in ASSISTANT_SIDE and pending:
            out += [(OUTPUT, c, PLACEHOLDER) for c in pending]
            pending = []
        out.append(it)
        if it[0] == CALL and i not in answered:
            pending.append(it[1])
    out += [(OUTPUT, c, PLACEHOLDER) for c in pending]
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def normalize(items: tuple, mode: str) -> tuple:
    """Normalize per design (memoized: the explorer asks for the same histories many times)."""
    if mode == "none":
        return items
    if mode == "codex":
        return normalize_codex(items)
    if mode == "ours":
        return normalize_ours(items)
    if mode == "drop-both":
        return normalize_drop_both(items)
    if mode == "placeholder":
        return normalize_placeholder(items)
    raise ValueError(f"unknown normalization {mode!r}; allowed: {', '.join(MODES)}")


def unanswered_calls(items: tuple) -> list:
    """Ids of calls with no output anywhere after them (what seed-fix-3 refuses to resume)."""
    pending: dict = {}
    for it in items:
        if it[0] == CALL:
            pending[it[1]] = True
        elif it[0] == OUTPUT:
            pending.pop(it[1], None)
    return list(pending)
