"""`turnproof repair` on a Claude Code session (JSONL, one line per message part; see claude.py).

The history is read as lint reads it: conversation lines in file order (a main session skips its
sidechain lines), a ``compact_boundary`` starting a new history. Each line is a unit: assistant
lines carry text and ``tool_use`` blocks, user lines ``tool_result`` blocks and user content. The
plan (plan.py) then moves result lines to their call group and adds a synthetic result line where
a ``tool_use`` has none (a session cut while a tool ran): a user line with a ``tool_result`` block
(``is_error``, its text saying so), copying the session fields of the call's line and marked
``"turnproof_synthetic": true``.

Claude Code rebuilds a conversation by following ``parentUuid`` from the last line back, so a line
that is added or moved is linked in where it now stands: it takes the line before it as parent, the
lines that had that parent take it instead, and a moved line's own children take its old parent.
Those lines get their new ``parentUuid`` and nothing else changes in them; every other line is
written back byte for byte. Timestamps of moved lines follow the rollout rule (repair.py).

A line holding a result that must move together with content that must not (or with a result
that stays) is refused rather than split (CannotRepair).
"""

from __future__ import annotations

import json
import uuid as uuidlib

from turnproof.model.items import CALL, OUTPUT, TEXT, USER

from .bodies import parse_json
from . import claude
from .claude import CONVERSATION
from .findings import DUPLICATE_KEY, NONSTANDARD, LintError
from .plan import Conflict, plan
from .repair import MARKER, MOVED, SYNTHETIC_OUTPUT, CannotRepair, Edit, conflict_error, flat_emit
from .rollout import _open_lines, _tname

COPY = ("isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch", "slug", "agentId")


class _Line:
    __slots__ = ("n", "raw", "obj", "tags", "dirty")

    def __init__(self, n: int, raw: bytes, obj: object):
        self.n, self.raw, self.obj, self.tags, self.dirty = n, raw, obj, (), False


def _blocks(o: dict) -> list:
    c = o["message"].get("content")
    return c if isinstance(c, list) else []


def read(path: str, max_line: int) -> tuple[list, list]:
    """(lines, segments): each segment is the item list of one history."""
    lines: list = []
    for n, raw in _open_lines(path, max_line):
        if not raw.strip():
            lines.append(_Line(n, raw, None))
            continue
        obj, _ = parse_json(raw, f"{path}:{n}")
        if not isinstance(obj, dict):
            raise LintError(f"{path}:{n}: a Claude Code line must be a JSON object, not {_tname(obj)}")
        lines.append(_Line(n, raw, obj))
    if not any(ln.obj is not None for ln in lines):
        raise LintError(f"{path}: empty file")
    main = any(ln.obj is not None and ln.obj.get("type") in CONVERSATION and not ln.obj.get("isSidechain")
               for ln in lines)
    segments: list = [[]]
    for ln in lines:
        o = ln.obj
        if o is None:
            continue
        t = o.get("type")
        if t == "system" and o.get("subtype") == "compact_boundary":
            segments.append([])
            continue
        if t not in CONVERSATION or (main and o.get("isSidechain")):
            continue
        if not isinstance(o.get("message"), dict):
            raise LintError(f"{path}:{ln.n}: a {t} line without a \"message\" object")
        tags: list = []
        role = o["message"].get("role", t)
        claude.check_blocks(path, ln.n, _blocks(o))  # lint's checks, on every line this reader reads
        if role == "assistant":
            tags.append((TEXT, None, (ln.n, "msg")))
            for j, b in enumerate(_blocks(o)):
                if b.get("type") == "tool_use":
                    tags.append((CALL, b["id"], (ln.n, j)))
        else:
            user = False
            for j, b in enumerate(_blocks(o)):
                if b.get("type") == "tool_result":
                    tags.append((OUTPUT, b["tool_use_id"], (ln.n, j)))
                elif not user:
                    tags.append((USER, None, (ln.n, "msg")))
                    user = True
            if not tags:
                tags.append((USER, None, (ln.n, "msg")))
        ln.tags = tuple(t[2] for t in tags)
        segments[-1] += tags
    return lines, segments


def repair_claude(path: str, max_line: int) -> tuple[bytes, list]:
    """The repaired file's bytes and the edits (CannotRepair / LintError when it cannot be)."""
    _, _, strict = claude.read(path, max_line)  # lint's checks first: what lint cannot read, repair refuses
    # a key twice or NaN / Infinity on any line: refused as for every other dialect (cmd_lint's bodies path)
    odd = [f for f in strict if f.rule in (DUPLICATE_KEY, NONSTANDARD)]
    if odd:
        raise LintError(f"{path}:{odd[0].line}: {odd[0].message}: not repaired (lint names every one)")
    lines, segments = read(path, max_line)
    by_n = {ln.n: ln for ln in lines}

    def block(t):
        return _blocks(by_n[t[0]].obj)[t[1]]

    edits: list = []
    plans = []
    for items in segments:
        try:
            p = plan(tuple(items), same=lambda a, b: block(a) == block(b),
                     made_up=lambda t: by_n[t[0]].obj.get(MARKER) is True)
        except Conflict as c:
            raise conflict_error(path, c, lambda t: f"line {t[0]}") from None
        for t in list(p.moved) + list(p.dropped):
            ln = by_n[t[0]]
            if any(x not in p.moved and x not in p.dropped for x in ln.tags) or \
                    len({p.moved.get(x, "dropped") for x in ln.tags}) > 1:
                raise CannotRepair(f"{path}:{ln.n}: the result for {items_cid(items, t)} must move or go, but this "
                                   "line holds other content that must not: not repaired (split the line by hand)")
        for t, d in p.dropped.items():
            edits.append(Edit(d.op, d.call_id, t[0], twin=None if d.twin is None else d.twin[0]))
        plans.append(p)
    dropped = {t[0] for p in plans for t in p.dropped}
    main = [ln for ln in lines if ln.obj is not None and ln.obj.get("type") in CONVERSATION
            and not ln.obj.get("isSidechain")]
    if main and all(ln.n in dropped for ln in main):
        # the file would read as a subagent's (all sidechain) and its sidechain lines as its history
        raise CannotRepair(f"{path}: every main-session line is a result that would be dropped: not repaired")
    units = [(ln, ln.tags) for ln in lines if ln.n not in dropped]
    return _write(list(flat_emit(units, _Merged(plans))), lines, edits), edits


def items_cid(items: list, tag: object) -> str:
    return next((it[1] for it in items if it[2] == tag), "?")


class _Merged:
    """The segments' plans as one (tags are unique across segments: line numbers)."""

    def __init__(self, plans: list):
        self.order = tuple(it for p in plans for it in p.order)
        self.moved = {k: v for p in plans for k, v in p.moved.items()}
        self.dropped = {k: v for p in plans for k, v in p.dropped.items()}
        self.kept = set()


def _write(seq: list, lines: list, edits: list) -> bytes:
    by_uuid: dict = {}
    children: dict = {}  # parent uuid -> lines naming it
    for ln in lines:
        o = ln.obj
        if o is not None and isinstance(o.get("uuid"), str):
            by_uuid[o["uuid"]] = ln
        if o is not None and isinstance(o.get("parentUuid"), str):
            children.setdefault(o["parentUuid"], []).append(ln)

    def set_parent(ln, parent: str | None) -> None:
        old = ln.obj.get("parentUuid")
        if old == parent:
            return
        if isinstance(old, str) and ln in children.get(old, ()):
            children[old].remove(ln)
        ln.obj["parentUuid"] = parent
        ln.dirty = True
        if isinstance(parent, str):
            children.setdefault(parent, []).append(ln)

    def link_after(new, prev) -> None:
        """``new`` now follows ``prev``: it takes prev's place as the parent of prev's children."""
        pu = prev.obj.get("uuid") if prev is not None and prev.obj is not None else None
        if not isinstance(pu, str):
            return
        nu = new.obj.get("uuid")
        for child in list(children.get(pu, ())):
            if child is not new:
                set_parent(child, nu)
        set_parent(new, pu)

    out: list = []
    prev = None  # the last conversation line written (a uuid to link to)
    ts = None
    for ev in seq:
        kind = ev[0]
        if kind == "unit":
            ln = ev[1]
            out.append(ln)
        elif kind == "moved":
            _, ln, after, direction = ev
            mine = ln.obj.get("uuid")
            for child in list(children.get(mine, ())):  # detach: its children take its old parent
                set_parent(child, ln.obj.get("parentUuid"))
            link_after(ln, prev)
            if isinstance(ts, str) and isinstance(ln.obj.get("timestamp"), str) and ln.obj["timestamp"] != ts:
                ln.obj[MOVED] = {"line": ln.n, "timestamp": ln.obj["timestamp"]}
                ln.obj["timestamp"] = ts
                ln.dirty = True
            out.append(ln)
            cid = next((b.get("tool_use_id") for b in _blocks(ln.obj) if isinstance(b, dict)
                        and b.get("type") == "tool_result"), None)
            edits.append(Edit("move", cid, ln.n, after.n, direction=direction))
        else:
            _, cid, after, call = ev
            src = call.obj if call is not None else after.obj
            obj = {"parentUuid": None, **{k: src[k] for k in COPY if k in src}, "type": "user",
                   "message": {"role": "user", "content": [{"tool_use_id": cid, "type": "tool_result",
                                                            "content": SYNTHETIC_OUTPUT, "is_error": True}]},
                   "uuid": str(uuidlib.uuid4()), "timestamp": ts if isinstance(ts, str) else src.get("timestamp"),
                   MARKER: True}
            syn = _Line(0, b"", obj)
            syn.dirty = True
            by_uuid[obj["uuid"]] = syn
            link_after(syn, prev)
            out.append(syn)
            edits.append(Edit("synthesize", cid, None, after.n))
        ln = out[-1]
        if ln.tags or kind != "unit":  # a line of the history (not a sidechain, summary or snapshot)
            prev = ln
        if ln.obj is not None and isinstance(ln.obj.get("timestamp"), str):
            ts = ln.obj["timestamp"]
    data = bytearray()
    for ln in out:
        if ln.dirty:
            data += json.dumps(ln.obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        else:
            data += ln.raw if ln.raw.endswith(b"\n") else ln.raw + b"\n"
    return bytes(data)
