"""History normalization before a request is built (and on resume), per design.

- ``none``: the history as recorded.
- ``codex`` (context_manager/normalize.rs): every call with no output anywhere gets an output
  "aborted" right after it; outputs whose call is missing are then dropped. Positions of existing
  outputs are not looked at, so a missing middle result splits its call group.
- ``ours`` (turnproof-proposed): each run of assistant-side items that holds calls is followed
  directly by the outputs of those calls. Outputs already right after the run stay in order;
  outputs recorded further away move up (call order); missing ones get a SYNTHETIC output; outputs
  with no earlier unanswered call are dropped. Running it twice changes nothing.
"""

from __future__ import annotations

from .items import ABORTED, SYNTHETIC, is_assistant_side, is_call, is_output, output


def normalize(history: list, mode: str) -> list:
    if mode == "none":
        return list(history)
    if mode == "codex":
        return _codex(history)
    if mode == "ours":
        return _ours(history)
    raise ValueError(f"unknown normalization {mode!r}; allowed: none, codex, ours")


def _codex(history: list) -> list:
    answered = {it["call_id"] for it in history if is_output(it)}
    out: list = []
    for it in history:
        out.append(it)
        if is_call(it) and it["call_id"] not in answered:
            out.append(output(it["call_id"], ABORTED))
    called = {it["call_id"] for it in out if is_call(it)}
    return [it for it in out if not (is_output(it) and it["call_id"] not in called)]


def _ours(history: list) -> list:
    # Which call each output answers: the oldest earlier call with its id still waiting.
    waiting: dict = {}
    answer: dict = {}  # call position -> output position
    for i, it in enumerate(history):
        if is_call(it):
            waiting.setdefault(it["call_id"], []).append(i)
        elif is_output(it) and waiting.get(it["call_id"]):
            answer[waiting[it["call_id"]].pop(0)] = i
    out: list = []
    i, n = 0, len(history)
    while i < n:
        it = history[i]
        if is_output(it):
            i += 1  # placed with its call group, or dropped (orphan, duplicate)
            continue
        if not is_assistant_side(it):
            out.append(it)
            i += 1
            continue
        j = i
        while j < n and is_assistant_side(history[j]):
            j += 1
        out.extend(history[i:j])
        calls = [c for c in range(i, j) if is_call(history[c])]
        placed = set()
        k = j
        while k < n and is_output(history[k]):  # outputs already adjacent keep their order
            for c in calls:
                if answer.get(c) == k:
                    out.append(history[k])
                    placed.add(c)
            k += 1
        for c in calls:
            if c not in placed and c in answer:
                out.append(history[answer[c]])
                placed.add(c)
        for c in calls:
            if c not in placed:
                out.append(output(history[c]["call_id"], SYNTHETIC))
        i = j
    return out


def unanswered(history: list) -> list:
    """Call ids with no output after them (what seed-fix-3 refuses to resume)."""
    open_: dict = {}
    for it in history:
        if is_call(it):
            open_[it["call_id"]] = True
        elif is_output(it):
            open_.pop(it["call_id"], None)
    return list(open_)
