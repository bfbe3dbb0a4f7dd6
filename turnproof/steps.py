"""Steps of a path in domain words: what each step of a counterexample changed, and its label.

A path is ``[(action, arg, state_after)]`` from an initial state. Every renderer (text report,
Markdown, Mermaid, DOT, JSON) labels steps with ``step_name`` and describes them with ``diff``, so
they all say the same thing; the renderers import this module and never each other.
"""

from __future__ import annotations

from turnproof.model import items as I
from turnproof.model.seq import Seq
from turnproof.model.turnloop import BASE_ID, State, TurnLoop


def _seq_change(name: str, old_items: tuple | Seq, new: tuple | Seq) -> str | None:
    old = tuple(it for it in old_items if it[0] != "turn_aborted")
    new_f = tuple(it for it in new if it[0] != "turn_aborted")
    if old == new_f:
        return None
    if new_f[: len(old)] == old:
        return f"{name} += {I.show_all(new_f[len(old):])}"
    return f"{name} = {I.show_all(new_f)}"


def diff(s: tuple, t: tuple, model: TurnLoop | None = None) -> str:
    """What one step changed, in domain words (tools named by the model's call ids, if given)."""
    cid = model.cid if model is not None else (lambda st, i: st[BASE_ID] + i)
    before, after = State(*s), State(*t)
    parts = []
    if before.phase != after.phase:
        parts.append(f"phase {before.phase} -> {after.phase}")
    for name, old, new in (("history", before.history, after.history), ("rollout file", before.file, after.file),
                           ("rollout queue", before.queue, after.queue)):
        c = _seq_change(name, old, new)
        if c:
            parts.append(c)
    n = len(before.queue)
    if any(it[0] == "turn_aborted" for it in after.queue[n:]) and after.queue[:n] == before.queue:
        parts.append("rollout queue += turn_aborted event")
    a = {f"C{I.short_id(cid(s, i))}": st for i, st in enumerate(before.in_flight)}
    b = {f"C{I.short_id(cid(t, i))}": st for i, st in enumerate(after.in_flight)}
    if a != b:
        ch = [f"{k} {a.get(k, '-')} -> {v}" for k, v in b.items() if a.get(k) != v]
        gone = [k for k in a if k not in b]
        if ch:
            parts.append("tools: " + ", ".join(ch))
        if gone and not b:
            parts.append("in_flight emptied")
    if len(after.unrecorded) > len(before.unrecorded):
        parts.append("finished, results dropped: "
                     + ", ".join(f"C{I.short_id(c)}" for c in after.unrecorded[len(before.unrecorded):]))
    if after.retries_left < before.retries_left and after.phase == "ready":
        parts.append(f"a retry is due (retries left {before.retries_left} -> {after.retries_left})")
    if before.turns_left != after.turns_left:
        parts.append(f"turns left {before.turns_left} -> {after.turns_left}")
    return "; ".join(parts) or "no visible change"


def step_name(action: str, arg: object) -> str:
    if arg is None:
        return action
    if action in ("ToolFinish", "ToolFail", "ToolAbort", "DrainOutput", "DrainFailed"):
        return f"{action}(C{I.short_id(arg)})"
    if action in ("StreamError", "StreamClosed") and isinstance(arg, (tuple, list)):
        # the finished tools whose results it dropped
        return f"{action}({', '.join(f'C{I.short_id(c)}' for c in arg)} finished)"
    if action == "StreamToolCall":
        return f"{action}(#{arg})"
    if action == "Crash":
        return f"Crash(k={arg})"
    return f"{action} {arg}"


def steps(model: TurnLoop, path: list, start: int = 1) -> list[dict]:
    """Numbered steps: [{n, action, arg, change, event?, request?}] for a path [(action, arg, state)];
    ``event`` says which real event an environment step stands for, and how likely it is."""
    out = []
    for n, ((_, _, s), (action, arg, t)) in enumerate(zip(path, path[1:]), start=start):
        step = {"n": n, "action": action, "arg": arg, "change": diff(s, t, model)}
        event = model.event(action)
        if event:
            step["event"] = event
        if action in ("SendRequest", "RefuseRequest", "Compact"):
            r = model.request_at(s, action, arg)  # a compaction's summary request, if it sends one
            if r is not None:
                step["request"] = I.show_all(r.items)
                step["verdict"] = "accepted" if not r.rejections else r.rejections[0].text
        out.append(step)
    return out


