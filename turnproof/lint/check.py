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

from model.designs import NAMED, SHIPPED
from model.items import CALL, OUTPUT
from model.normalize import normalize
from model.properties import orphan_results, unanswered_or_duplicated
from model.provider import judge
from model.wire import build_request

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
            if m.get("type") in ("function_call", "custom_tool_call", "local_shell_call",
                                 "function_call_output", "custom_tool_call_output"):
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
    """Judges a history chunk by chunk; keeps message offsets so provider texts name whole-request indexes."""

    def __init__(self, builders: list[str]):
        self.builders = [BuilderVerdict(b, NAMED[b].wire) for b in builders]
        self.findings: list[Finding] = []
        self._offsets: dict = {}

    def restart(self) -> None:
        self._offsets.clear()  # a compacted line: the next request starts a new message list

    def judge_chunk(self, items: tuple, restart: bool) -> None:
        if restart:
            self.restart()
        if not any(it[0] in (CALL, OUTPUT) for it in items):
            self._advance(items)
            return
        self._properties(items)
        for wire in RECORDED_WIRES:
            self.findings += self._judge(items, ("recorded", wire), wire, RECORDED_GROUPING, None)
        for bv in self.builders:
            d = NAMED[bv.design]
            norm = _normalize(items, d.normalization)
            bv.findings += self._judge(norm, ("builder", bv.design), d.wire, d.chat_grouping, bv.design)

    def _advance(self, items: tuple) -> None:
        """A chunk without calls or results: only count its messages (Anthropic texts cite indexes)."""
        self._count(("recorded", "anthropic"), build_request(items, "anthropic"), "anthropic")
        for bv in self.builders:
            if bv.wire == "anthropic":
                d = NAMED[bv.design]
                self._count(("builder", bv.design), build_request(_normalize(items, d.normalization), "anthropic"),
                            "anthropic")

    def _count(self, key: tuple, body: list, wire: str) -> int:
        if wire != "anthropic":
            return 0  # only Anthropic's texts carry a message index
        off = self._offsets.get(key, 0)
        self._offsets[key] = off + len(body)
        return off

    def _properties(self, items: tuple) -> None:
        for cid, n in unanswered_or_duplicated(items):
            calls = [it for it in items if it[0] == CALL and it[1] == cid]
            outs = [it for it in items if it[0] == OUTPUT and it[1] == cid]
            at = outs[len(calls)] if len(outs) > len(calls) else calls[-1]
            self.findings.append(Finding("calls-answered", cid, _line(at[2]),
                                         message=f"call {cid} has {n} results"))
        seen: set = set()
        orphans = set(orphan_results(items))
        for it in items:
            if it[0] == CALL:
                seen.add(it[1])
            elif it[0] == OUTPUT and it[1] in orphans and it[1] not in seen:
                self.findings.append(Finding("no-orphan-results", it[1], _line(it[2]),
                                             message=f"result for {it[1]} with no call before it"))

    def _judge(self, items: tuple, key: tuple, wire: str, grouping: str, design: str | None) -> list[Finding]:
        body = build_request(items, wire, grouping)
        off = self._count(key, body, wire)
        rejections = judge(wire, body)
        if not rejections:
            return []
        pairs = [it for it in items if it[0] in (CALL, OUTPUT)]
        entries = _entries(body, wire)
        located = list(zip(entries, pairs)) if len(entries) == len(pairs) else []
        out = []
        for r in rejections:
            text = _shift(r.text, off) if off else r.text
            for cid in r.call_ids or (None,):
                hits = [it for (mi, c), it in located if mi == r.index and c == cid]
                if not hits:
                    hits = [it for (mi, c), it in located if c == cid] or [None]
                it = hits[-1] if r.rule == "anthropic-duplicate-result" else hits[0]
                line = _line(it[2]) if it is not None else None
                if line is None and it is not None:  # a result the normalization made up: show its call
                    line = next((_line(c[2]) for c in reversed(items[:items.index(it)])
                                 if c[0] == CALL and c[1] == cid), None)
                out.append(Finding(r.rule, cid, line, provider_error=text, wire=wire, design=design))
        return out


_MSG = re.compile(r"^messages\.(\d+)")


def _shift(text: str, off: int) -> str:
    """Anthropic texts name the message index: make it the index in the whole request."""
    return _MSG.sub(lambda m: f"messages.{int(m.group(1)) + off}", text, count=1)
