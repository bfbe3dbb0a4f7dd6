"""What `turnproof repair` does to a history, before any file format: the repair plan.

A history is a tuple of model items ``(kind, call_id, tag)`` (model/items.py); ``tag`` says where
the item lives in its file (a line, an input item, a content block). The plan pairs every result
with its call and decides, item by item, what the repaired history is; each dialect's writer
(repair.py) then puts that order back into its own file format.

Pairing. A result answers the earliest earlier call with its id that has no result yet. A result
that finds none but whose call comes *later* (it was recorded before its call) answers that call
and moves down to it. What is left over is either

- a copy: a second result for a call already answered. It is dropped only when nothing is lost:
  it says exactly what the kept result says, or it is a synthetic result turnproof made up (a real
  result then takes the synthetic one's place). Two different real results for one call are a
  ``Conflict``: repair refuses (exit 1) rather than choose one;
- an orphan: no call with its id anywhere. In a request that continues a stored response
  (``stateful``: Responses ``previous_response_id`` / ``conversation``) the call may live on the
  server, so the result stays where it is, untouched; otherwise it is dropped (no provider state
  could answer it) and reported.

Order. What remains (a result that goes leaves a placeholder where it stood, so runs are cut as
normalize_ours cuts them) goes through model.normalize.normalize_ours_report, the normalization the
model checks for turnproof-proposed and proofs/ proves: each call group is followed directly by
its results (the ones already there keep their order, late ones move up, missing ones get a
SYNTHETIC result after them). No user or assistant item is dropped, and besides results only held
text moves:

Held text. Where the reader would cut a call group at assistant text (``calls``, and dialects whose
text is a message of its own between the call message and the results), text that stands after
the group's first call, before any result or user message, moves to just before that call: the
same placement rescue.py gives a Codex rollout on the chat wire. Why before and not after the
results: both orders are accepted by every provider in model/provider.py, but the text is what the
model streamed with its calls, before any result existed (Codex's chat stream holds it until the
response completes, codex-rs rust-v0.78.0 codex-api/src/endpoint/chat.rs:158-199, so it is
recorded late), and put after the results it would read as the model's answer to them; before the
group it is where it was streamed, and the response's calls stay one group. DeepSeek's /responses
answered [message, call-a, message, call-b, out-a, out-b] with 400 and [message, message, call-a,
call-b, out-a, out-b] with 200 (pydantic-ai's cassettes, tests/data/real/SOURCES.md): the second is
what this plan makes of the first. The real codex-cli 0.77.0 and 0.79.0 resume rollouts laid out
so (tests/test_rescue_realcodex.py).

What a call group is depends on who reads the history (``grouping``):

- ``run``: a run of assistant-side items (reasoning, text, calls) with nothing else between them
  (OpenAI Responses, Codex's own history);
- ``calls``: assistant text after a call ends the group (DeepSeek's /responses);
- ``set``: a result may stand anywhere after its call (OpenAI's Responses API): late results stay
  where they are; only results recorded before their call move (down), and a synthetic result goes
  after its call's group.

Dialects whose requests are messages mark message boundaries themselves with SEP items (a user
side item no writer emits), so a group never spans two messages. (A Codex rollout on the chat wire
is laid out for the release that resumes it by rescue.py, which also moves assistant text.)

Everything here is linear in the number of items: one pass to pair, one to find the ends of call
groups, one to rebuild, and normalize_ours_report's two passes.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

from turnproof.model.items import ASSISTANT_SIDE, CALL, OUTPUT, SYNTHETIC, TEXT, USER
from turnproof.model.normalize import normalize_ours_report

GROUPINGS = ("run", "calls", "set")
SEP_TAG = "turnproof-sep"


def sep(where: object = None) -> tuple:
    """A boundary no call group crosses (a message boundary the provider sees)."""
    return (USER, None, (SEP_TAG, where))


def is_sep(tag: object) -> bool:
    return isinstance(tag, tuple) and len(tag) == 2 and tag[0] == SEP_TAG


GONE_TAG = "turnproof-gone"


def _gone(i: int) -> tuple:
    """Where a result stood that is not written there: an orphan no call answers (normalize_ours drops it)."""
    return (OUTPUT, (GONE_TAG, i), (GONE_TAG, i))


def _is_gone(tag: object) -> bool:
    return isinstance(tag, tuple) and len(tag) == 2 and tag[0] == GONE_TAG


def _assistant_span(it: tuple) -> bool:
    return it[0] in ASSISTANT_SIDE or is_sep(it[2])


def held_text_first(seq: list, by_message: bool) -> tuple[list, list]:
    """(``seq`` with held text before its call group, the tags of the text items moved).

    A span is a stretch of assistant-side items with nothing else between them (message boundaries,
    SEP items, allowed). ``by_message``: the span's pieces are the messages between SEP items, and a
    message holding text and no call moves whole; otherwise every TEXT item is a piece of its own.
    Pieces after the span's first call that are text move, in their order, to just before the piece
    holding that call (rescue.py's layouts do the same on Codex's own items)."""
    out: list = []
    moved: list = []
    n = len(seq)
    i = 0
    while i < n:
        if not _assistant_span(seq[i]):
            out.append(seq[i])
            i += 1
            continue
        j = i
        while j < n and _assistant_span(seq[j]):
            j += 1
        pieces: list = []
        for it in seq[i:j]:
            if not pieces or (is_sep(it[2]) if by_message else True):
                pieces.append([it])
            else:
                pieces[-1].append(it)
        first = next((k for k, pc in enumerate(pieces) if any(it[0] == CALL for it in pc)), None)
        late = [] if first is None else [
            k for k in range(first + 1, len(pieces))
            if not any(it[0] == CALL for it in pieces[k]) and any(it[0] == TEXT for it in pieces[k])
            and (by_message or pieces[k][0][0] == TEXT)]
        if late:
            if by_message and not is_sep(pieces[first][0][2]):
                pieces[first].insert(0, sep())  # the text message keeps its boundary with the call message
            gone = set(late)
            order = list(range(first)) + late + [k for k in range(first, len(pieces)) if k not in gone]
            for k in late:
                moved += [it[2] for it in pieces[k] if it[0] == TEXT]
            for k in order:
                out += pieces[k]
        else:
            out += seq[i:j]
        i = j
    return out, moved


class Conflict(Exception):
    """A call with two different real results: repair would have to drop one, so it refuses."""

    def __init__(self, call_id: object, kept: object, other: object):
        super().__init__(call_id, kept, other)
        self.call_id, self.kept, self.other = call_id, kept, other


@dataclass
class Drop:
    op: str  # drop-orphan | drop-duplicate | drop-synthetic
    call_id: object
    tag: object
    twin: object = None  # the result kept instead (duplicates and synthetic results)


@dataclass
class Plan:
    order: tuple  # the repaired history (SYNTHETIC results included; kept and dropped items not)
    moved: dict = field(default_factory=dict)  # tag -> "up" | "down": emitted away from its own place
    dropped: dict = field(default_factory=dict)  # tag -> Drop
    kept: set = field(default_factory=set)  # results left exactly where they are (stateful orphans)
    synthesized: int = 0
    texts: set = field(default_factory=set)  # tags of held text moved before its call group (in ``moved``, "up")

    @property
    def changed(self) -> bool:
        return bool(self.moved or self.dropped or self.synthesized)


def with_grouping(items: tuple, grouping: str) -> tuple:
    """``items`` with SEP items where ``grouping`` ends a call group inside an assistant run."""
    if grouping in ("run", "set"):
        return items
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; allowed: {', '.join(GROUPINGS)}")
    out: list = []
    after_call = False
    for it in items:
        kind = it[0]
        if kind in ASSISTANT_SIDE:
            if after_call and kind == TEXT:
                out.append(sep())
                after_call = False
            if kind == CALL:
                after_call = True
        else:
            after_call = False
        out.append(it)
    return tuple(out)


def plan(items: tuple, *, grouping: str = "run", stateful: bool = False, same=None, made_up=None) -> Plan:
    """The repair of ``items`` (see the module docstring).

    ``same(kept_tag, other_tag)``: the two results say the same thing (the other may go);
    ``made_up(tag)``: the result is one turnproof synthesized. Both default to "no".
    """
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; allowed: {', '.join(GROUPINGS)}")
    items = tuple(items)
    same = same or (lambda a, b: False)
    made_up = made_up or (lambda t: False)
    # pass 1: results after their call
    waiting: dict = {}  # call id -> calls with no result yet, oldest first
    answer: dict = {}  # call index -> result index
    calls_of: dict = {}  # call id -> indexes of its calls, in order
    unmatched: list = []
    for i, (kind, cid, _) in enumerate(items):
        if kind == CALL:
            waiting.setdefault(cid, deque()).append(i)
            calls_of.setdefault(cid, []).append(i)
        elif kind == OUTPUT:
            q = waiting.get(cid)
            if q:
                answer[q.popleft()] = i
            else:
                unmatched.append(i)
    # pass 2: a call still without a result takes the latest leftover result before it
    early: dict = {}  # result index -> call index (later in the history)
    if unmatched:
        by_id: dict = {}
        for u in unmatched:
            by_id.setdefault(items[u][1], []).append(u)
        for cid, q in waiting.items():
            us = by_id.get(cid)
            if not us or not q:
                continue
            free: list = []
            p = 0
            for ci in q:
                while p < len(us) and us[p] < ci:
                    free.append(us[p])
                    p += 1
                if free:
                    u = free.pop()
                    early[u] = ci
                    answer[ci] = u
    dropped: dict = {}
    kept: set = set()
    for u in unmatched:
        if u in early:
            continue
        kind, cid, tag = items[u]
        cs = calls_of.get(cid)
        if not cs:
            if stateful:
                kept.add(tag)  # the call may be stored server side: never an orphan
            else:
                dropped[tag] = Drop("drop-orphan", cid, tag)
            continue
        # a second result for a call with this id: the latest before it (else the first after it)
        k = bisect.bisect_left(cs, u)
        ci = cs[k - 1] if k else cs[0]
        a = answer[ci]
        atag = items[a][2]
        if same(atag, tag):
            dropped[tag] = Drop("drop-duplicate", cid, tag, atag)
        elif made_up(tag):
            dropped[tag] = Drop("drop-synthetic", cid, tag, atag)
        elif made_up(atag):
            dropped[atag] = Drop("drop-synthetic", cid, atag, tag)  # the real result takes its place
            if a in early:
                del early[a]
            answer[ci] = u
            if u < ci:
                early[u] = ci
        else:
            raise Conflict(cid, atag, tag)
    # what is written, in file order, then the group boundaries of ``grouping`` on it
    moved: dict = {}
    # a result that goes, stays or moves down leaves a result-shaped placeholder where it stood, which
    # normalize_ours drops as an orphan: runs and result runs are cut exactly as normalize_ours cuts them
    # with the result there, so the plan of a chunk is the plan of the whole history at its items
    # (rollout.py's chunks rely on it)
    seq = [_gone(i) if it[2] in dropped or it[2] in kept or i in early else it for i, it in enumerate(items)]
    texts: set = set()
    if grouping != "set":
        seq, hoisted = held_text_first(seq, by_message=grouping == "run")
        texts = set(hoisted)
        moved.update((t, "up") for t in hoisted)
    if early:  # results recorded before their call move down, to just after its group
        mark = {items[ci][2]: [] for ci in early.values()}
        for u, ci in sorted(early.items(), key=lambda x: x[1]):
            mark[items[ci][2]].append(items[u])
            moved[items[u][2]] = "down"
        seq = list(with_grouping(tuple(seq), grouping))
        out: list = []
        pending: list = []
        for it in seq:
            if pending and it[0] not in ASSISTANT_SIDE:
                out += pending
                pending = []
            out.append(it)
            if it[0] == CALL and it[2] in mark:
                pending += mark[it[2]]
        seq = out + pending
    else:
        seq = list(with_grouping(tuple(seq), grouping))
    if grouping == "set":
        answered = {items[ci][2] for ci in answer}
        return _in_place(seq, answered, moved, dropped, kept)  # no text moves: results may stand anywhere
    new, changes = normalize_ours_report(tuple(seq))
    synthesized = 0
    for c in changes:
        if c.op == "move":
            moved[c.tag] = "up"
        elif c.op == "synthesize":
            synthesized += 1
        elif not _is_gone(c.tag):  # every leftover result was decided above
            raise AssertionError(f"repair plan: normalization dropped {c.tag!r}")
    new = tuple(it for it in new if not is_sep(it[2]) and not _is_gone(it[2]))
    return Plan(new, moved, dropped, kept, synthesized, texts)


def _in_place(seq: list, answered: set, moved: dict, dropped: dict, kept: set) -> Plan:
    """Grouping ``set``: results stay where they are (except those moved down to their call), and a
    call no result answers gets a synthetic one after its group and the results directly after it."""
    out: list = []
    missing: list = []
    synthesized = 0
    prev = None
    for it in seq:
        kind = it[0]
        if missing and kind != OUTPUT and not (kind in ASSISTANT_SIDE and prev in ASSISTANT_SIDE):
            out += [(OUTPUT, cid, SYNTHETIC) for cid in missing]
            synthesized += len(missing)
            missing = []
        out.append(it)
        if kind == CALL and it[2] not in answered:
            missing.append(it[1])
        prev = kind
    out += [(OUTPUT, cid, SYNTHETIC) for cid in missing]
    synthesized += len(missing)
    return Plan(tuple(it for it in out if not is_sep(it[2]) and not _is_gone(it[2])), moved, dropped, kept,
                synthesized)
