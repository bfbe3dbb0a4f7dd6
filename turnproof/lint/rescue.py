"""Rescue a dead session for the release that will read it: the history in an order its builder sends.

A pairing repair (every call answered, results next to their calls) is not enough: the request
builder of the Codex release that resumes the file must turn it into a request the provider
accepts. Three layouts, one per builder (model/wire.py):

- per-call (Codex 0.77 chat, codex-rs rust-v0.77.0 codex-api/src/requests/chat.rs
  `ChatRequestBuilder::build`: one assistant message per call): each result right after its call,
  so ``[C1,C2,O1,O2]`` becomes ``[C1,O1,C2,O2]`` and every ``assistant{call}`` is followed by its
  ``tool`` message.
- grouped (Codex 0.78+ chat, rust-v0.78.0 `push_tool_call_message`: consecutive calls share one
  assistant message, text starts a new one): the results of a call group right after the group.
- as recorded (Responses, and turnproof-proposed's run grouping): results right after their
  assistant run, text in place.

On chat (both layouts) assistant text that landed inside or after a call group (the chat stream
holds it until the response completes, rust-v0.77.0 codex-api/src/endpoint/chat.rs:155-204) moves
to just before the group's first call, where it was streamed: ``[C1,T,O1]`` becomes ``[T,C1,O1]``.
After the results it would also be accepted, but it would read as the model's answer to results
it never saw; plan.py (the repair of every other dialect) places held text the same way and says
more.

In every layout a call with no result anywhere gets a synthetic result (marked as made up) after
its group's results, so the release's normalization (normalize.rs `ensure_call_outputs_present`,
"aborted" at call+1, which splits a group) never has to insert one. Results recorded away from
their call move to it (up, or down when recorded before it). No user or assistant item and no
result of a call is dropped. What goes: a result no call in the history has the id of (the
release's normalization, `remove_orphan_outputs`, leaves it out of every request anyway; the
original file keeps it), a second result that says what the first says, and a synthetic result
turnproof added earlier once a real result for that call is found. Two different real results for
one call are kept (``keep-duplicate``) and the file side refuses: rescuing would drop one. The
layout of a rescued history is its own layout: rescuing twice changes nothing.

``plan`` is pure (model items in, model items out); ``verify`` sends a history through a design's
normalization, builder and provider (the model's own functions) and says whether the request is
accepted and keeps every result. The file side (writing a rollout's lines in the new order) is
``rescue_rollout`` below.
"""

from __future__ import annotations

import re
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

    op: str  # move-result | move-text | synthesize | drop-orphan | drop-duplicate | drop-superseded | keep-duplicate
    call_id: object
    index: int | None


def _is_ours(item: tuple) -> bool:
    return item[0] == OUTPUT and item[2] == SYNTHETIC


def _never(a: tuple, b: tuple) -> bool:
    return False


def plan(items: tuple, layout: str, ours=_is_ours, same=_never) -> tuple[tuple, list[Change]]:
    """The history laid out for ``layout``; ``ours(item)`` says an output is a synthetic result
    turnproof added before (the model's SYNTHETIC tag; in a file, the marker on the line);
    ``same(a, b)``: two results for one call say the same thing (in a file: equal payloads)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    changes: list[Change] = []
    # Pairing: an output answers the oldest earlier call with its id that has no answer yet; one
    # recorded before any call with its id answers the first later such call left without one (it
    # moves down to it). What is left is an orphan (no call has its id) or a second result.
    waiting: dict = {}
    calls_of: dict = {}  # id -> indexes of its calls
    answer_of: dict = {}  # output index -> call index
    answer: dict = {}  # call index -> output index
    extra: list = []
    for i, it in enumerate(items):
        if it[0] == CALL:
            waiting.setdefault(it[1], []).append(i)
            calls_of.setdefault(it[1], []).append(i)
        elif it[0] == OUTPUT:
            q = waiting.get(it[1])
            if q:
                c = q.pop(0)
                answer_of[i], answer[c] = c, i
            else:
                extra.append(i)
    loose: set = set()  # second results that keep their place
    dropped: set = set()
    for o in extra:
        cid = items[o][1]
        cs = calls_of.get(cid)
        if not cs:
            dropped.add(o)
            changes.append(Change("drop-orphan", cid, o))
            continue
        if cs[0] > o:
            later = [c for c in waiting[cid] if c > o]
            if later:
                waiting[cid].remove(later[0])
                answer_of[o], answer[later[0]] = later[0], o
                continue
        before = [c for c in cs if c < o]
        c = before[-1] if before else cs[0]
        first = answer[c]
        it = items[o]
        if same(items[first], it):
            dropped.add(o)
            changes.append(Change("drop-duplicate", cid, o))
        elif ours(items[first]) and not ours(it):  # a real result takes the place of our synthetic one
            dropped.add(first)
            del answer_of[first]
            answer_of[o], answer[c] = c, o
            changes.append(Change("drop-superseded", cid, first))
        elif ours(it):
            dropped.add(o)
            changes.append(Change("drop-superseded", cid, o))
        else:
            loose.add(o)
            changes.append(Change("keep-duplicate", cid, o))
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
        late: list = []
        if layout in (GROUPED, PER_CALL):  # held text before the group (the module docstring says why)
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
                    nxt = k + 1
                    while nxt in late:  # held text that went before the group leaves no gap
                        nxt += 1
                    if o != nxt:
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


# ---- which loop reads the file ------------------------------------------------------------------
# The release each named Codex design stands for (turnproof/realcodex/conformance.py runs them).
RELEASES = {
    "codex-0.77-chat": "codex 0.77 on the chat wire (one assistant message per call)",
    # codex-api/src/requests/chat.rs: push_tool_call_message from rust-v0.78.0 through rust-v0.94.0;
    # rust-v0.95.0 has no chat request builder
    "codex-0.78-chat": "codex 0.78 to 0.94 on the chat wire (calls grouped, text apart; 0.79.0 on npm)",
    "codex-0.77-responses": "codex 0.77 on the Responses wire",
    "codex-0.122-responses": "codex 0.122 on the Responses wire (wire_api = \"responses\")",
}
# what to move to when no order of a history satisfies a design, newest first
UPGRADES = ("codex-0.122-responses", "codex-0.78-chat")


def describe_design(design: Design) -> str:
    return RELEASES.get(design.name, f"{design.name} ({design.wire} wire"
                        + (f", {design.chat_grouping} grouping)" if design.wire == "chat" else ")"))


@dataclass(frozen=True)
class Reader:
    """The loop that will read a rollout: its design, the provider judging its requests, and why."""

    design: Design
    provider: str | None
    why: str


def reader_for(path: str, for_design: str | None = None) -> Reader:
    """From the rollout's session_meta (cli_version, model_provider), or ``--for DESIGN``."""
    from turnproof.model.designs import NAMED
    from turnproof.model.provider import PROVIDERS_BY_NAME

    from . import codex_setup, session_meta

    meta = session_meta(path)
    builder, wire, provider, why = codex_setup(meta, None)
    if for_design is None:
        if wire == "chat" and not re.match(r"^\d+\.\d+", str(meta.get("cli_version") or "")):
            # the release is unknown: the per-call layout is the one every Codex chat builder sends
            # (tests/test_rescue_model.py checks it against codex-0.78-chat too)
            return Reader(NAMED["codex-0.77-chat"], provider,
                          why + "; no release recorded: laid out for the per-call builder, which every chat builder sends")
        return Reader(NAMED[builder], provider, why)
    from turnproof.resolve import resolve_design

    d = resolve_design(for_design)
    if d.provider not in (None, "", "default"):
        provider = d.provider
    elif d.wire not in PROVIDERS_BY_NAME[provider].wires:
        provider = None  # the wire's own provider
    return Reader(d, provider, f"--for {for_design}")


class RescueImpossible(Exception):
    """No order of the history makes the design's request accepted; ``upgrade`` names a loop that can."""

    def __init__(self, path: str, line: int | None, design: Design, reason: str, upgrade: str | None):
        where = f"{path}:{line}" if line is not None else path
        self.reason, self.upgrade, self.line = reason, upgrade, line
        then = (f"upgrade to {RELEASES.get(upgrade, upgrade)}, which sends it once rescued "
                f"(`turnproof repair FILE --in-place --for {upgrade}`)" if upgrade else
                "no Codex release sends it to this provider")
        super().__init__(f"{where}: cannot be rescued for {describe_design(design)}: {reason}; {then}")


def upgrade_for(items: tuple, design: Design, provider: str | None, ours=_is_ours) -> str | None:
    """The first of UPGRADES (other than ``design``) whose layout of ``items`` is accepted and keeps every result."""
    from turnproof.model.designs import NAMED

    from turnproof.model.provider import PROVIDERS_BY_NAME

    for name in UPGRADES:
        d = NAMED[name]
        if name == design.name or (d.wire == design.wire and d.chat_grouping == design.chat_grouping):
            continue
        if provider is not None and d.wire not in PROVIDERS_BY_NAME[provider].wires:
            continue  # the provider does not serve that wire: no upgrade of Codex alone gets there
        new, _ = plan(items, layout_for(d), ours)
        if verify(new, d, provider).ok:
            return name
    return None


# ---- the file: a rollout's lines in the new order ------------------------------------------------
# on a moved line's payload: {"line": N, "timestamp": T}: its line before the rescue and the time it
# was recorded; the line takes the timestamp of the line it now follows, so the file stays in time order
MOVED = "turnproof_moved"
KEEPS = ("keep-duplicate",)


@dataclass(frozen=True)
class Edit:
    """One change to the file, in its line numbers: ``line`` in the input, ``after`` the input line it now follows."""

    op: str  # move-result | move-text | synthesize | drop-orphan | drop-duplicate | drop-superseded | drop-torn
    call_id: str | None
    line: int | None
    after: int | None = None

    @property
    def changes(self) -> bool:
        return self.op not in KEEPS

    def describe(self) -> str:
        at = f"after line {self.after}" if self.after is not None else "at the start"
        if self.op == "move-result":
            return f"line {self.line}: moved result for {self.call_id} {at} (marked \"{MOVED}\")"
        if self.op == "move-text":
            return (f"line {self.line}: moved assistant text {at}, before its call group "
                    f"(marked \"{MOVED}\")")
        if self.op == "synthesize":
            return f"added synthetic result for {self.call_id} {at}: no result was recorded"
        if self.op == "drop-superseded":
            return (f"line {self.line}: dropped the synthetic result turnproof had added for {self.call_id}: "
                    "a real result for it is in the file")
        if self.op == "drop-orphan":
            return (f"line {self.line}: dropped result for {self.call_id}: no call has its id (the release's "
                    "normalization leaves it out of every request)")
        if self.op == "drop-duplicate":
            return f"line {self.line}: dropped second result for {self.call_id}: it says what the first says"
        return f"line {self.line}: dropped torn line (cut short by a crash; Codex skips it)"

    def to_json(self) -> dict:
        return {"op": self.op, "call_id": self.call_id, "line": self.line, "after": self.after}


def _marked_ours(lines: list) -> set:
    """Lines holding a synthetic result turnproof added (its payload carries the marker)."""
    import json

    from .repair import MARKER

    out = set()
    key = MARKER.encode()
    for ln in lines:
        if ln.tags and key in ln.raw:
            try:
                obj = json.loads(ln.raw)
            except ValueError:
                continue
            p = obj.get("payload") if isinstance(obj.get("payload"), dict) else obj
            if p.get(MARKER) is True:
                out.add(ln.n)
    return out


def _n(tag: object) -> object:
    return tag[0] if isinstance(tag, tuple) else tag


def _payload(line_of: dict, tag: object) -> dict | None:
    """A result line's payload without turnproof's markers (None inside a compacted line)."""
    import json

    from .repair import MARKER

    if not isinstance(tag, int) or tag not in line_of:
        return None
    try:
        obj = json.loads(line_of[tag].raw)
    except ValueError:
        return None
    p = obj.get("payload") if isinstance(obj.get("payload"), dict) else obj
    return {k: v for k, v in p.items() if k not in (MOVED, MARKER)}


def _mark_moved(raw: bytes, n: int, after) -> bytes:
    import json

    obj = json.loads(raw)
    p = obj["payload"] if isinstance(obj.get("payload"), dict) else obj  # early rollouts: the bare item
    p[MOVED] = {"line": n, "timestamp": obj.get("timestamp")}
    if after is not None and isinstance(after.timestamp, str) and "timestamp" in obj:
        obj["timestamp"] = after.timestamp
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _nl(raw: bytes) -> bytes:
    return raw if raw.endswith(b"\n") else raw + b"\n"


def _chunk(path: str, lines: list, items: tuple, reader: Reader, last: bool, w, edits: list, state: dict) -> int:
    """Write one chunk's lines laid out for ``reader``; return how many written lines are not blank."""
    from .findings import LintError
    from .repair import synthetic_line

    marked = _marked_ours(lines)

    def ours(it: tuple) -> bool:
        return it[0] == OUTPUT and (it[2] == SYNTHETIC or it[2] in marked)

    line_of = {ln.n: ln for ln in lines}

    def same(a: tuple, b: tuple) -> bool:
        pa, pb = _payload(line_of, a[2]), _payload(line_of, b[2])
        return pa is not None and pa == pb

    layout = layout_for(reader.design)
    new, changes = plan(items, layout, ours, same)
    conflict = next((c for c in changes if c.op == "keep-duplicate"), None)
    if conflict is not None:
        line = items[conflict.index][2]
        first = next((it[2] for it in items if it[0] == OUTPUT and it[1] == conflict.call_id), None)
        raise RescueImpossible(path, line if isinstance(line, int) else None, reader.design,
                               f"{conflict.call_id} has two different results (lines {_n(first)} and {_n(line)}): "
                               "a request carries one, and the rescue drops no real result", None)
    v = verify(new, reader.design, reader.provider, resumed=last)
    if not v.ok:
        raise RescueImpossible(path, None, reader.design, v.reason,
                               upgrade_for(items, reader.design, reader.provider, ours))
    moved = {items[c.index][2]: c for c in changes if c.op in ("move-result", "move-text")}
    dropped = {items[c.index][2] for c in changes if c.op.startswith("drop-")}
    for c in changes:
        if c.index is not None and not isinstance(items[c.index][2], int) and c.op not in KEEPS:
            raise LintError(f"{path}:{items[c.index][2][0]}: the history inside this compacted line's "
                            "replacement_history would have to change: not rescued")
    # every line that holds no item travels with the item line before it (or opens the chunk)
    prefix: list = []
    tail: dict = {}
    cur = prefix
    for ln in lines:
        if ln.torn:
            edits.append(Edit("drop-torn", None, ln.n))
            continue
        if ln.tags and ln.n not in dropped:
            cur = tail.setdefault(ln.n, [])
            continue
        if ln.tags:  # a dropped line: its tail stays where it was
            continue
        cur.append(ln)
    for c in changes:
        if c.op.startswith("drop-"):
            edits.append(Edit(c.op, str(items[c.index][1]), items[c.index][2]))
    written = 0
    for ln in prefix:
        w.write(_nl(ln.raw))
        written += not ln.raw.isspace()
    last_line = state.get("last")  # the last item line written (this chunk's or an earlier one's)
    last_call: dict = {}
    # lines that travel with an item line are written after it and after the items inserted
    # right behind it (moved or synthetic), so an insertion sits next to the item it follows
    pending: list = []

    def flush() -> int:
        for t in pending:
            w.write(_nl(t.raw))
        count = sum(1 for t in pending if not t.raw.isspace())
        pending.clear()
        return count

    k = 0
    while k < len(new):
        it = new[k]
        tag = it[2]
        if it[0] == OUTPUT and tag == SYNTHETIC:
            w.write(synthetic_line(str(it[1]), last_call.get(it[1]), last_line))
            edits.append(Edit("synthesize", str(it[1]), None, last_line.n if last_line else None))
            written += 1
            k += 1
            continue
        n = tag if isinstance(tag, int) else tag[0]
        ln = line_of[n]
        if len(ln.tags) > 1:  # a compacted line: its items must come out together, in order
            if tuple(x[2] for x in new[k:k + len(ln.tags)]) != ln.tags:
                raise LintError(f"{path}:{n}: the history inside this compacted line's replacement_history "
                                "would have to change: not rescued")
        if tag in moved:
            c = moved[tag]
            w.write(_mark_moved(ln.raw, n, last_line))
            edits.append(Edit(c.op, None if c.call_id is None else str(c.call_id), n,
                              last_line.n if last_line else None))
            w.write(b"".join(_nl(t.raw) for t in tail.get(n, ())))
            written += sum(1 for t in tail.get(n, ()) if not t.raw.isspace())
        else:
            written += flush()
            w.write(_nl(ln.raw))
            pending.extend(tail.get(n, ()))
        written += 1
        for x in new[k:k + len(ln.tags)]:
            if x[0] == CALL:
                last_call[x[1]] = ln
        k += len(ln.tags)
        last_line = state["last"] = ln
    return written + flush()


def _write(path: str, reader: Reader, max_line: int, progress, edits: list):
    from .findings import LintError
    from .rollout import RolloutReader

    def write(w) -> None:
        rr = RolloutReader(path, max_line, keep_lines=True, progress=progress)
        chunks = rr.chunks()
        written = 0
        state: dict = {}
        ch = next(chunks, None)
        while ch is not None:
            nxt = next(chunks, None)
            written += _chunk(path, ch.lines, ch.items, reader, nxt is None, w, edits, state)
            ch = nxt
        if not written:
            raise LintError(f"{path}: no line survives the repair (only torn lines); nothing to write")
    return write


def rescue_to(path: str, out_path: str, reader: Reader, max_line: int | None = None, progress=None) -> list[Edit]:
    """Write the rescued rollout to ``out_path`` atomically; the edits made. RescueImpossible: nothing written."""
    from turnproof import fileio

    from .findings import LintError
    from .repair import _lint_error
    from .rollout import DEFAULT_MAX_LINE

    edits: list[Edit] = []
    try:
        fileio.atomic_write(out_path, _write(path, reader, max_line or DEFAULT_MAX_LINE, progress, edits), like=path)
    except fileio.UnsafePath as e:
        raise LintError(str(e)) from None
    except OSError as e:
        raise _lint_error(out_path, e) from None
    return edits


def rescue_in_place(path: str, reader: Reader, max_line: int | None = None, progress=None) -> tuple[list, str | None]:
    """Rescue ``path`` itself (atomically, the original kept as a backup); (edits, backup or None: nothing to do)."""
    from .repair import _same_bytes, replace_in_place
    from .rollout import DEFAULT_MAX_LINE

    edits: list[Edit] = []
    backup = replace_in_place(path, _write(path, reader, max_line or DEFAULT_MAX_LINE, progress, edits),
                              lambda staged: not any(e.changes for e in edits) and _same_bytes(path, staged))
    return edits, backup


class _Sink:
    def write(self, b: bytes) -> int:
        return len(b)


def dry_run(path: str, reader: Reader, max_line: int | None = None) -> list[Edit]:
    """The edits a rescue would make, nothing written; RescueImpossible when no order is accepted."""
    from .rollout import DEFAULT_MAX_LINE

    edits: list[Edit] = []
    _write(path, reader, max_line or DEFAULT_MAX_LINE, None, edits)(_Sink())
    return edits


def check_rollout(path: str, reader: Reader, max_line: int | None = None) -> Verdict:
    """Whether ``reader`` resumes the file as it is: every chunk's request accepted, with every result."""
    from .rollout import DEFAULT_MAX_LINE, RolloutReader

    chunks = RolloutReader(path, max_line or DEFAULT_MAX_LINE).chunks()
    ch = next(chunks, None)
    while ch is not None:
        nxt = next(chunks, None)
        v = verify(ch.items, reader.design, reader.provider, resumed=nxt is None)
        if not v.ok:
            return v
        ch = nxt
    return Verdict(True, (), "")
