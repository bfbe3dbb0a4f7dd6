"""History that shrinks: what a compaction keeps, and what a summary request drops to fit.

Pure functions on item tuples (items.py), used by the ``Compact`` action of turnloop.py. A
compaction may cut in several places (how much the context window holds is not modelled), so
each policy returns every history it can leave, as ``[(label, history)]``; the label is the
step's argument in counterexamples. A policy that would remove nothing leaves no entry.

Messages are what message-based agents (Anthropic, Gemini, Cline, OpenHarness) cut at: a run of
assistant-side items (reasoning, text, calls), or a run of user messages and results, as
wire.py sends them.
"""

from __future__ import annotations

from . import items as I

SUMMARY = (I.USER, None, I.SUMMARY)
PROMPT = (I.USER, None, I.COMPACT_PROMPT)


def message_starts(hist: tuple) -> list[int]:
    """Indexes where a new message starts (the first item is one)."""
    out, side = [], None
    for i, it in enumerate(hist):
        s = it[0] in I.ASSISTANT_SIDE
        if s != side:
            out.append(i)
            side = s
    return out


def _partner(hist: tuple, it: tuple) -> int | None:
    """remove_corresponding_for: the first item that pairs with ``it`` (call <-> result)."""
    want = I.OUTPUT if it[0] == I.CALL else I.CALL if it[0] == I.OUTPUT else None
    if want is None:
        return None
    return next((j for j, x in enumerate(hist) if x[0] == want and x[1] == it[1]), None)


def remove_first_item(hist: tuple) -> tuple:
    """history.remove_first_item (rust-v0.48.0 conversation_history.rs:37-58,242): index 0, then
    the first item that pairs with it."""
    if not hist:
        return hist
    rest = hist[1:]
    j = _partner(rest, hist[0])
    return rest if j is None else rest[:j] + rest[j + 1:]


def drop_oldest(hist: tuple, pairs: bool) -> list[tuple]:
    """Every history left by dropping the oldest items one at a time (k = 1, 2, ...)."""
    out, h = [], hist
    while h:
        h = remove_first_item(h) if pairs else h[1:]
        out.append(h)
    return out


def _straddled(hist: tuple, i: int) -> bool:
    """A call before ``i`` has no result before ``i`` (answered after it, or not yet)."""
    before = {it[1] for it in hist[:i] if it[0] == I.OUTPUT}
    return any(it[0] == I.CALL and it[1] not in before for it in hist[:i])


REMOTE = ("remote", "remote-filtered")


def _remote(sent: tuple, filtered: bool) -> list[tuple[str, tuple]]:
    """Remote compaction: the server answers the compact request (``sent``, the items it was sent)
    with items of its own choosing plus a compaction summary, and Codex makes them history.

    Unfiltered (rust-v0.62.0 to rust-v0.104.0), the server may keep any subsequence of what it was
    sent; bounded here, like the other cuts, to a family linear in the request: every call and result
    kept, none kept, or exactly one of them dropped (the other items all kept, the summary last),
    since only calls and results carry pairing and one dropped side already splits its pair.
    Filtered (rust-v0.105.0 on), every call, result and reasoning item of the answer is dropped, so
    whatever the server keeps, history is messages and the summary: one cut, the user and assistant
    messages of ``sent`` and the summary. An empty request gets no answer (rust-v0.78.0
    codex-rs/core/src/client.rs:328-330)."""
    if not sent:
        return []
    if filtered:
        return [("remote, calls and results filtered",
                 tuple(it for it in sent if it[0] in (I.USER, I.TEXT)) + (SUMMARY,))]
    pair = [i for i, it in enumerate(sent) if it[0] in (I.CALL, I.OUTPUT)]
    name = {i: f"{'C' if sent[i][0] == I.CALL else 'O'}{sent[i][1]}" for i in pair}
    drops: list[tuple[str, set[int]]] = [("remote keeps every call/result", set())] + [(f"remote drops {name[i]}", {i}) for i in pair]
    if len(pair) > 1:
        drops.append(("remote drops every call/result", set(pair)))
    return [(label, tuple(it for i, it in enumerate(sent) if i not in gone) + (SUMMARY,)) for label, gone in drops]


def cuts(hist: tuple, keeps: str) -> list[tuple[str, tuple]]:
    """[(label, history after)] for every cut ``keeps`` may make of ``hist`` (for a remote
    compaction, ``hist`` is the request sent to the server)."""
    n = len(hist)
    if keeps in REMOTE:
        return _remote(hist, keeps == "remote-filtered")
    if keeps == "summary":
        return [("summary", tuple(it for it in hist if I.is_turn_start(it)) + (SUMMARY,))]
    if keeps in ("drop-oldest-items", "drop-oldest-pairs"):
        left = drop_oldest(hist, keeps == "drop-oldest-pairs")
        return [(f"drop {n - len(h)}", h) for h in left]
    if keeps in ("cline-range", "cline-range-7225"):
        starts = message_starts(hist) + [n]
        msgs = [hist[a:b] for a, b in zip(starts, starts[1:])]
        out = []
        for e in range(3, len(msgs), 2):  # the range [2, e] has even length
            if msgs[e][0][0] not in I.ASSISTANT_SIDE:
                continue
            rest = msgs[e + 1:]
            if keeps == "cline-range-7225" and rest:  # PR #7225: the next message loses its tool_results
                rest = [tuple(it for it in rest[0] if it[0] != I.OUTPUT)] + rest[1:]
            out.append((f"range 2..{e}", sum(msgs[:2], ()) + sum(rest, ())))
        return out
    at: list[int] | range
    if keeps == "tail-any":
        at = range(1, n + 1)
    elif keeps == "last-n":
        at = [i for i in message_starts(hist) if i > 0] + [n]
    elif keeps == "tail-user":
        last = hist[message_starts(hist)[-1]:] if n else ()
        everything = bool(last) and last[0][0] in I.ASSISTANT_SIDE and all(it[0] != I.CALL for it in last)
        at = [i for i in range(1, n) if I.is_turn_start(hist[i])] + ([n] if everything else [])
    elif keeps == "tail-atomic":
        at = [i for i in range(1, n + 1) if not _straddled(hist, i)]
    else:
        raise ValueError(f"unknown compaction_keeps {keeps!r}")
    return [(f"keep from {i}", (SUMMARY,) + hist[i:]) for i in at]


def trimmed_requests(hist: tuple, trim: str) -> list[tuple[int, tuple]]:
    """The summary request's items, history plus the compact prompt, as sent after k context-window
    errors: [(k, items)], k = 0 first (rust-v0.47.0 codex-rs/core/src/codex/compact.rs:116-122 drops
    item 0 while more than one is left; rust-v0.48.0 drops it with its partner)."""
    base = hist + (PROMPT,)
    out = [(0, base)]
    if trim == "none":
        return out
    h = base
    while len(h) > 1:
        h = remove_first_item(h) if trim == "drop-oldest-pairs" else h[1:]
        out.append((len(out), h))
    return out


def split_pairs(before: tuple, after: tuple) -> list:
    """Ids of calls whose call and result were in ``before`` and of which ``after`` keeps exactly
    one side (removal-keeps-pairs)."""
    calls = {it[1] for it in before if it[0] == I.CALL}
    outs = {it[1] for it in before if it[0] == I.OUTPUT}
    acalls = {it[1] for it in after if it[0] == I.CALL}
    aouts = {it[1] for it in after if it[0] == I.OUTPUT}
    return sorted((c for c in calls & outs if (c in acalls) != (c in aouts)), key=str)
