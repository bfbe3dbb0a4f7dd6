"""Rescue a dead session for the release that will read it: the history in an order its builder sends.

A pairing repair (every call answered, results next to their calls) is not enough: the request
builder of the Codex release that resumes the file must turn it into a request the provider
accepts. Three layouts, one per builder (model/wire.py):

- per-call (Codex 0.77 chat, codex-rs rust-v0.77.0 codex-api/src/requests/chat.rs
  `ChatRequestBuilder::build`: one assistant message per call): each result right after its call,
  so ``[C1,C2,O1,O2]`` becomes ``[C1,O1,C2,O2]`` and every ``assistant{call}`` is followed by its
  ``tool`` message. Text stays where it is: after a call's result it breaks nothing.
- grouped (Codex 0.78+ chat, rust-v0.78.0 `push_tool_call_message`: consecutive calls share one
  assistant message, text starts a new one): the results of a call group right after the group,
  and assistant text that landed inside or after the group (sse/chat.rs holds it until the stream
  completes) moved to just before the group's first call, where it was streamed.
- as recorded (Responses, and turnproof-proposed's run grouping): results right after their
  assistant run, text in place.

In every layout a call with no result anywhere gets a synthetic result (marked as made up) after
its group's results, so the release's normalization (normalize.rs `ensure_call_outputs_present`,
"aborted" at call+1, which splits a group) never has to insert one. Results recorded away from
their call move up to it. Nothing is dropped: a result with no call keeps its place (the release's
normalization, `remove_orphan_outputs`, leaves it out of every request), a second real result for
a call keeps its place (and the verification below says whether the provider takes it); only a
synthetic result that turnproof added earlier is dropped once a real result for the same call is
found. The layout of a rescued history is its own layout: rescuing twice changes nothing.

``plan`` is pure (model items in, model items out); ``verify`` sends a history through a design's
normalization, builder and provider (the model's own functions) and says whether the request is
accepted and keeps every result. The file side (writing a rollout's lines in the new order) is
``rescue_rollout`` below.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnproof.model.designs import Design
from turnproof.model.items import ASSISTANT_SIDE, CALL, OUTPUT, SYNTHETIC, TEXT, USER
from turnproof.model.normalize import normalize
from turnproof.model.provider import judge
from turnproof.model.wire import build_request

PER_CALL, GROUPED, AS_RECORDED = "per-call", "grouped", "as-recorded"
LAYOUTS = (PER_CALL, GROUPED, AS_RECORDED)


def layout_for(design: Design) -> str:
    """The layout the design's request builder needs (see the module docstring)."""
    if design.wire == "chat" and design.chat_grouping == "per-call":
        return PER_CALL
    if design.wire == "chat" and design.chat_grouping == "consecutive":
        return GROUPED
    return AS_RECORDED


@dataclass(frozen=True)
class Change:
    """One edit of the plan. ``index`` is the item's position in the input (None for added items)."""

    op: str  # move-result | move-text | synthesize | drop-superseded | keep-orphan | keep-duplicate
    call_id: object
    index: int | None


def _is_ours(item: tuple) -> bool:
    return item[0] == OUTPUT and item[2] == SYNTHETIC


def plan(items: tuple, layout: str, ours=_is_ours) -> tuple[tuple, list[Change]]:
    """The history laid out for ``layout``; ``ours(item)`` says an output is a synthetic result
    turnproof added before (the model's SYNTHETIC tag; in a file, the marker on the line)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    changes: list[Change] = []
    # Pairing: an output answers the oldest earlier call with its id that has no answer yet.
    waiting: dict = {}
    answer_of: dict = {}  # output index -> call index
    answer: dict = {}  # call index -> output index
    last_call: dict = {}  # id -> index of the latest call with that id
    loose: set = set()  # outputs that keep their place (no call before them, or a second result)
    dropped: set = set()
    early: dict = {}  # id -> outputs with no call before them, in order
    for i, it in enumerate(items):
        kind = it[0]
        if kind == CALL:
            waiting.setdefault(it[1], []).append(i)
            last_call[it[1]] = i
        elif kind == OUTPUT:
            q = waiting.get(it[1])
            if q:
                c = q.pop(0)
                answer_of[i], answer[c] = c, i
                continue
            c = last_call.get(it[1])
            if c is None:
                early.setdefault(it[1], []).append(i)  # no call before it: perhaps one after it
                continue
            first = answer[c]
            if ours(items[first]) and not ours(it):  # a real result supersedes our synthetic one
                dropped.add(first)
                del answer_of[first]
                answer_of[i], answer[c] = c, i
                changes.append(Change("drop-superseded", it[1], first))
            elif ours(it):
                dropped.add(i)
                changes.append(Change("drop-superseded", it[1], i))
            else:
                loose.add(i)
                changes.append(Change("keep-duplicate", it[1], i))
    # An output recorded before any call with its id answers a later such call left without one
    # (it moves down to it); with none, it is an orphan and keeps its place.
    for cid, outs in early.items():
        later = [c for c in waiting.get(cid, ()) if c > outs[0]]
        for o in outs:
            if later:
                c = later.pop(0)
                waiting[cid].remove(c)
                answer_of[o], answer[c] = c, o
            else:
                loose.add(o)
                changes.append(Change("keep-orphan", cid, o))
    out: list = []
    n = len(items)
    i = 0
    while i < n:
        it = items[i]
        if it[0] not in ASSISTANT_SIDE:
            if i in loose or (it[0] != OUTPUT):
                out.append(it)
            i += 1  # a paired output is emitted with its group; a dropped one is gone
            continue
        j = i
        while j < n and items[j][0] in ASSISTANT_SIDE:
            j += 1
        run = list(range(i, j))
        calls = [k for k in run if items[k][0] == CALL]
        if not calls:
            out += [items[k] for k in run]
            i = j
            continue
        if layout == GROUPED:
            first = calls[0]
            late = [k for k in run if k > first and items[k][0] == TEXT]
            for k in late:
                changes.append(Change("move-text", None, k))
            run = [k for k in run if k < first] + late + [k for k in run if k >= first and k not in late]
        if layout == PER_CALL:
            for k in run:
                out.append(items[k])
                if items[k][0] != CALL:
                    continue
                o = answer.get(k)
                if o is None:
                    changes.append(Change("synthesize", items[k][1], None))
                    out.append((OUTPUT, items[k][1], SYNTHETIC))
                else:
                    if o != k + 1:
                        changes.append(Change("move-result", items[k][1], o))
                    out.append(items[o])
        else:
            out += [items[k] for k in run]
            group = set(calls)
            # results directly after the run keep their order; the others move up, in call order
            k = j
            placed: list = []
            while k < n and items[k][0] == OUTPUT:
                if answer_of.get(k) in group:
                    placed.append(k)
                k += 1
            done = {answer_of[p] for p in placed}
            out += [items[p] for p in placed]
            for c in calls:
                o = answer.get(c)
                if o is not None and c not in done:
                    changes.append(Change("move-result", items[c][1], o))
                    out.append(items[o])
            for c in calls:
                if answer.get(c) is None:
                    changes.append(Change("synthesize", items[c][1], None))
                    out.append((OUTPUT, items[c][1], SYNTHETIC))
        i = j
    return tuple(out), changes


def request_for(items: tuple, design: Design, provider: str | None = None):
    """(normalized items, body, rejections) for ``items`` sent by ``design`` to ``provider``."""
    norm = normalize(items, design.normalization)
    prov = provider if provider not in (None, "default") else (
        None if design.provider == "default" else design.provider)
    body = build_request(norm, design.wire, design.chat_grouping, prov)
    return norm, body, judge(design.wire, body, prov)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    lost: tuple  # outputs of the history (answering a call) that the request leaves out
    reason: str  # the provider's text, or what was lost; "" when accepted and nothing lost

    @property
    def ok(self) -> bool:
        return self.accepted and not self.lost


def verify(items: tuple, design: Design, provider: str | None = None, resumed: bool = True) -> Verdict:
    """Whether ``design`` sends ``items`` (followed, when ``resumed``, by the user's next message, as
    a resume does) as a request the provider accepts, with every result that answers a call in it."""
    hist = items + ((USER, None, "resume"),) if resumed else items
    norm, _, rej = request_for(hist, design, provider)
    called = {it[1] for it in items if it[0] == CALL}
    sent = [it for it in norm if it[0] == OUTPUT]
    lost = []
    for it in items:
        if it[0] == OUTPUT and it[1] in called and not _is_ours(it):
            if it in sent:
                sent.remove(it)
            else:
                lost.append(it)
    if rej:
        return Verdict(False, tuple(lost), rej[0].text)
    if lost:
        return Verdict(True, tuple(lost), "the request leaves out the result" + ("s" if len(lost) > 1 else "")
                       + " for " + ", ".join(str(it[1]) for it in lost))
    return Verdict(True, (), "")
