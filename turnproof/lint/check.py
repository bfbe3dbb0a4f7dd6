"""Judging a history: the pairing properties, the provider rules, and the Codex request builders.

Three views of the same items (model/items.py), all with the model's own functions:

- the pairing properties on the history as recorded: ``calls-answered`` and ``no-orphan-results``
  (model.properties.unanswered_or_duplicated / orphan_results);
- the history as recorded, sent to each wire API (model.wire.build_request, judged by
  model.provider.judge). Chat uses turnproof-proposed's grouping (one assistant message per
  assistant run), so a rejection there is the history's fault, not a request builder's. These are
  the *findings*: what repair fixes;
- the history as each Codex request builder sends it: the design's normalization, then its wire
  and grouping (codex-0.77-chat: per-call, codex-0.78-chat: consecutive, codex-0.77-responses).
  These are *builder verdicts*: they say which Codex versions and wire APIs would reject the
  session, including rejections no file can avoid (v0.77's chat builder rejects every parallel
  call). They count as findings only for the designs named with ``--design``.

Each provider rejection is mapped back to the items it is about: builders keep calls and outputs in
history order, so the n-th call or output on the wire is the n-th in the history.
"""

from __future__ import annotations

import re

from turnproof.model.designs import NAMED, SHIPPED
from turnproof.model.items import CALL, OUTPUT
from turnproof.model.normalize import normalize
from turnproof.model.properties import orphan_results, unanswered_or_duplicated
from turnproof.model.provider import CALL_TYPES, OUTPUT_TYPES, PROVIDERS_BY_NAME, judge
from turnproof.model.wire import build_request

from .findings import BuilderVerdict, Finding

# the grouping whose chat requests only fail when the history itself is unpaired
RECORDED_GROUPING = NAMED["turnproof-proposed"].chat_grouping
RECORDED_WIRES = ("chat", "responses", "anthropic")
_normalize = normalize.__wrapped__  # the same function without its memo, which would keep every chunk alive


def default_builders() -> list[str]:
    """The shipped Codex designs, one per distinct request builder (normalization, wire, grouping)."""
    seen, out = set(), []
    for name in SHIPPED:
        d = NAMED[name]
        key = (d.normalization, d.wire, d.chat_grouping if d.wire == "chat" else None)
        if key not in seen:
            seen.add(key)
            out.append(name)
    return out


def _entries(body: list, wire: str) -> list[tuple]:
    """(message index, call id) of every call and result on the wire, in order."""
    out = []
    for i, m in enumerate(body):
        if wire == "responses":
            if m.get("type") in CALL_TYPES or m.get("type") in OUTPUT_TYPES:
                out.append((i, str(m.get("call_id"))))
        elif wire == "chat":
            for tc in m.get("tool_calls") or ():
                out.append((i, str(tc["id"])))
            if m.get("role") == "tool":
                out.append((i, str(m.get("tool_call_id"))))
        else:
            for b in m.get("content") if isinstance(m.get("content"), list) else ():
                if b.get("type") == "tool_use":
                    out.append((i, str(b["id"])))
                elif b.get("type") == "tool_result":
                    out.append((i, str(b["tool_use_id"])))
    return out


def _line(tag: object) -> int | None:
    if isinstance(tag, int):
        return tag
    if isinstance(tag, tuple) and tag and isinstance(tag[0], int):
        return tag[0]  # an item of a compacted line's replacement_history
    return None


class HistoryJudge:
    """Judges a history chunk by chunk; keeps message offsets so provider texts name whole-request indexes.

    Every judgement depends only on the chunk's *shape* (the kinds of its items and which of them
    share an id), never on the ids' spelling or the lines, so a shape is judged once with
    placeholder ids and the answer is memoized; each chunk then only fills in its ids and lines.
    """

    MEMO_MAX = 4096  # shapes remembered (a long session has a few dozen)

    def __init__(self, builders: list, provider: str | None = None):
        """``builders``: named designs, by name or as a Design (a design file's)."""
        self.provider = provider  # judges the builders' requests on the wires it serves (default: each wire's own)
        self._designs = {b if isinstance(b, str) else b.name: NAMED[b] if isinstance(b, str) else b
                         for b in builders}
        self.builders = [BuilderVerdict(name, d.wire) for name, d in self._designs.items()]
        self.findings: list[Finding] = []
        self._offsets: dict = {}
        self._memo: dict = {}

    def consume(self, chunks) -> None:
        """Judge every chunk of a reader (rollout.RolloutReader.chunks), in order."""
        for ch in chunks:
            self.judge_chunk(ch.items, ch.restart)

    def restart(self) -> None:
        self._offsets.clear()  # a compacted line: the next request starts a new message list

    def judge_chunk(self, items: tuple, restart: bool) -> None:
        if restart:
            self.restart()
        ids: list = []
        index: dict = {}
        shape = []
        for kind, cid, _ in items:
            if cid is None:
                shape.append((kind, None, None))
            else:
                k = index.get(cid)
                if k is None:
                    k = index[cid] = len(ids)
                    ids.append(cid)
                shape.append((kind, _placeholder(k), len(shape)))
        shape = tuple(shape)
        judged = self._memo.get(shape)
        if judged is None:
            if len(self._memo) >= self.MEMO_MAX:
                self._memo.clear()
            judged = self._memo[shape] = self._judge_shape(shape)
        found, counts = judged
        fill = lambda m: ids[int(m.group(1))]
        filled: dict = {}  # one rejection names many calls: its text is filled in once, and shared
        for key, f in found:
            off = self._offsets.get(key, 0)
            text = f.provider_error
            if text is not None:
                text = filled.get((text, off))
                if text is None:
                    text = filled[(f.provider_error, off)] = _PH.sub(fill, _shift(f.provider_error, off) if off
                                                                     else f.provider_error)
            msg = f.message and _PH.sub(fill, f.message)
            g = Finding(f.rule, ids[_ph_index(f.call_id)] if f.call_id is not None else None,
                        _line(items[f.line][2]) if f.line is not None else None,
                        provider_error=text, wire=f.wire, design=f.design, message=msg)
            if key[0] == "builder":
                next(b for b in self.builders if b.design == key[1]).findings.append(g)
            else:
                self.findings.append(g)
        for key, n in counts.items():
            self._offsets[key] = self._offsets.get(key, 0) + n

    def _judge_shape(self, items: tuple) -> tuple[list, dict]:
        """Findings for a chunk of placeholder ids, ``line`` holding the position in the chunk."""
        found: list = []
        counts: dict = {}
        if not any(it[0] in (CALL, OUTPUT) for it in items):
            # only count messages: Anthropic texts cite message indexes
            counts[("recorded", "anthropic")] = len(build_request(items, "anthropic"))
            for bv in self.builders:
                if bv.wire == "anthropic":
                    d = self._designs[bv.design]
                    counts[("builder", bv.design)] = len(build_request(_normalize(items, d.normalization), "anthropic"))
            return found, counts
        found += [(("recorded", None), f) for f in _properties(items)]
        for wire in RECORDED_WIRES:
            found += [(("recorded", wire), f) for f in _judge(items, wire, RECORDED_GROUPING, None, counts,
                                                                ("recorded", wire))]
        for bv in self.builders:
            d = self._designs[bv.design]
            norm = _normalize(items, d.normalization)
            prov = self.provider if self.provider and d.wire in PROVIDERS_BY_NAME[self.provider].wires else None
            found += [(("builder", bv.design), f) for f in _judge(norm, d.wire, d.chat_grouping, bv.design, counts,
                                                                    ("builder", bv.design), prov)]
        return found, counts


def _placeholder(k: int) -> str:
    return f"\x00{k}\x00"  # no provider text or call id holds a NUL


_PH = re.compile("\x00(\\d+)\x00")


def _ph_index(cid: str) -> int:
    return int(cid.strip("\x00"))


def _properties(items: tuple) -> list[Finding]:
    out = []
    calls_of: dict = {}
    outs_of: dict = {}
    for it in items:  # one pass: a scan per unanswered call would be quadratic
        if it[0] == CALL:
            calls_of.setdefault(it[1], []).append(it)
        elif it[0] == OUTPUT:
            outs_of.setdefault(it[1], []).append(it)
    for cid, n in unanswered_or_duplicated(items):
        calls, outs = calls_of.get(cid, []), outs_of.get(cid, [])
        at = outs[len(calls)] if len(outs) > len(calls) else calls[-1]
        out.append(Finding("calls-answered", cid, at[2], message=f"call {cid} has {n} results"))
    seen: set = set()
    orphans = set(orphan_results(items))
    for it in items:
        if it[0] == CALL:
            seen.add(it[1])
        elif it[0] == OUTPUT and it[1] in orphans and it[1] not in seen:
            out.append(Finding("no-orphan-results", it[1], it[2], message=f"result for {it[1]} with no call before it"))
    return out


def _judge(items: tuple, wire: str, grouping: str, design: str | None, counts: dict, key: tuple,
           provider: str | None = None) -> list[Finding]:
    body = build_request(items, wire, grouping)
    if wire == "anthropic":
        counts[key] = len(body)
    rejections = judge(wire, body, provider)
    if not rejections:
        return []
    pairs = [it for it in items if it[0] in (CALL, OUTPUT)]
    entries = _entries(body, wire)
    # (message index, id) and id -> the items there, in order: one pass, so many rejections stay linear
    at: dict = {}
    by_id: dict = {}
    if len(entries) == len(pairs):
        for (mi, c), it in zip(entries, pairs):
            at.setdefault((mi, c), []).append(it)
            by_id.setdefault(c, []).append(it)
    pos_of = {id(it): k for k, it in enumerate(items)}
    last_call: dict = {}
    prev_call: dict = {}  # index of an item -> the position of the latest call with its id before it
    for k, it in enumerate(items):
        if it[0] == CALL:
            last_call[it[1]] = it[2]
        prev_call[k] = last_call.get(it[1])
    out = []
    for r in rejections:
        for cid in r.call_ids or (None,):
            hits = at.get((r.index, cid)) or by_id.get(cid) or [None]
            it = hits[0]
            pos = it[2] if it is not None and isinstance(it[2], int) else None
            if pos is None and it is not None:  # a result the normalization made up: show its call
                pos = prev_call.get(pos_of.get(id(it)))
            out.append(Finding(r.rule, cid, pos, provider_error=r.text, wire=wire, design=design, provider=provider))
    return out


_MSG = re.compile(r"^messages\.(\d+)")


def _shift(text: str, off: int) -> str:
    """Anthropic texts name the message index: make it the index in the whole request."""
    return _MSG.sub(lambda m: f"messages.{int(m.group(1)) + off}", text, count=1)
