"""Design knobs for the reference loop, selectable by the same names as the model's designs.

reference/ may not import model/, so the knobs are declared again here; a conformance test checks
that every named design has the same knob values on both sides. One knob exists only here:
``fsync`` (the writer calls fsync after each line), which matters for power loss, not for the
process crashes both sides reason about, so the model does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Design:
    name: str
    wire: str = "chat"  # chat | responses | anthropic
    # whose rules judge requests; the stub provider (provider.py) knows only each wire's own
    provider: str = "default"
    chat_grouping: str = "per-call"  # per-call (v0.77) | consecutive (v0.78) | response
    text_lands: str = "at-completed"  # chat SSE holds aggregated text until Completed
    early_close: str = "completed"  # what the stream parser makes of a close: completed | error | closed
    # chat.rs names a call that comes without an id tool-call-{index}, restarting every response
    call_ids: str = "provider"  # provider (unique ids) | index (the provider omits them)
    # raw reasoning shown and a provider that streams "content": "" beside tool calls: an empty
    # assistant message lands after the calls
    empty_content_with_calls: bool = False
    # v0.122 tasks/mod.rs: an interrupt records a <turn_aborted> user message in history and rollout
    turn_aborted_marker: bool = False
    drain_on_stream_error: bool = False
    retry_prompt: str = "reuse"  # reuse | rebuild
    drain_before_completed: bool = False
    validate_before_send: bool = False
    refuse_unanswered_resume: bool = False
    normalization: str = "codex"  # none | codex | ours
    persist_synthetic: bool = False
    hard_abort_drain: bool = True
    retry_rejected: bool = False
    # history that shrinks (removal.py): when a compaction may run (never, between-turns, after-drain:
    # the reference never compacts with tools in flight), what it keeps (summary: the user messages and
    # a summary), its summary request (none, raw, normalized) and what that request drops after each
    # context-window error; a result whose call is gone (append, drop); thread rollback; results
    # truncated in content
    compaction: str = "never"
    compaction_keeps: str = "summary"
    compaction_request: str = "none"
    compaction_trim: str = "none"
    late_result: str = "append"
    rollback: bool = False
    truncate_outputs: bool = False
    fsync: bool = False  # reference only: fsync each rollout line (Codex only flushes)

    def knobs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "fsync")}

    @property
    def compacts(self) -> bool:
        return self.compaction != "never"


# What the reference loop can run: knob values outside these it refuses (``unsupported``)
SUPPORTED: dict[str, tuple] = {
    "compaction": ("never", "between-turns", "after-drain"),
    "compaction_keeps": ("summary", "last-n", "tail-atomic"),
    "normalization": ("none", "codex", "ours"),
    "wire": ("chat", "responses", "anthropic"),
    "provider": ("default",),
}
WHY = {
    "compaction": "never compacts while tools are in flight",
    "compaction_keeps": "has no compaction that keeps {v!r} (it keeps summary, last-n, tail-atomic)",
    "normalization": "has no {v!r} repair before sending (it has none, codex, ours)",
    "wire": "speaks the chat, responses and anthropic wires, not {v!r}",
    "provider": "judges by each wire's own rules only, not {v!r}'s",
}


def unsupported(knobs: dict) -> str | None:
    """Why the reference loop cannot run a design with these knob values (None: it can)."""
    for k, allowed in SUPPORTED.items():
        v = knobs.get(k, allowed[0])
        if v not in allowed:
            return f"the reference loop {WHY[k].format(v=v)} ({k} = {v})"
    return None


def _v(base: Design, name: str, **knobs: object) -> Design:
    return replace(base, name=name, **knobs)


_077 = Design("codex-0.77-chat")  # chat.rs completes on a close
NAMED: dict[str, Design] = {d.name: d for d in (
    _077,
    _v(_077, "codex-0.77-responses", wire="responses", text_lands="as-streamed", early_close="error"),
    _v(_077, "codex-0.78-chat", chat_grouping="consecutive"),
    _v(_077, "codex-0.122-responses", wire="responses", text_lands="as-streamed", early_close="error",
       drain_on_stream_error=True, retry_prompt="rebuild", turn_aborted_marker=True),
    _v(_077, "seed-fix-1", drain_before_completed=True),
    _v(_077, "seed-fix-2", validate_before_send=True),
    _v(_077, "seed-fix-3", refuse_unanswered_resume=True),
    _v(_077, "turnproof-proposed", chat_grouping="response", early_close="error", drain_on_stream_error=True,
       retry_prompt="rebuild", normalization="ours", persist_synthetic=True, fsync=True),
)}

# History that shrinks: the removal designs the reference runs (the model's FIELD table has them all;
# the other agents' repairs, cuts and wires are the model's only: ``unsupported``)
_CODEX_COMPACT = dict(compaction="after-drain", compaction_keeps="summary", compaction_request="normalized",
                      compaction_trim="drop-oldest-pairs")
FIELD: dict[str, Design] = {d.name: d for d in (
    _v(NAMED["codex-0.77-responses"], "codex-0.47-compact", compaction="after-drain", compaction_request="raw",
       compaction_trim="drop-oldest-items"),
    _v(NAMED["codex-0.77-responses"], "codex-0.78-compact", **_CODEX_COMPACT),
    _v(NAMED["codex-0.122-responses"], "codex-0.122-compact", **_CODEX_COMPACT),
    _v(NAMED["codex-0.122-responses"], "codex-0.122-rollback", rollback=True, truncate_outputs=True),
    _v(NAMED["turnproof-proposed"], "turnproof-proposed-compact", late_result="drop", rollback=True,
       truncate_outputs=True, **_CODEX_COMPACT),
    # a keep-the-last-N window with no pair guard and no repair (HKUDS/OpenHarness #191), and with one;
    # the rest of the loop is Codex v0.122's
    _v(NAMED["codex-0.122-responses"], "keep-last-n", wire="anthropic", compaction="after-drain",
       compaction_keeps="last-n", normalization="none"),
    _v(NAMED["codex-0.122-responses"], "keep-last-n-paired", wire="anthropic", compaction="after-drain",
       compaction_keeps="tail-atomic", normalization="none"),
)}


def get(name: str, wire: str | None = None) -> Design:
    """A named design, optionally moved to another wire (``NAME@wire`` also works)."""
    if "@" in name and wire is None:
        name, wire = name.split("@", 1)
    d = NAMED.get(name) or FIELD.get(name)
    if d is None:
        raise ValueError(f"unknown design {name!r}; named designs: {', '.join(NAMED)}, {', '.join(FIELD)}")
    if wire is not None and wire != d.wire:
        if wire not in ("chat", "responses", "anthropic"):
            raise ValueError(f"unknown wire {wire!r}; allowed: chat, responses, anthropic")
        d = replace(d, name=f"{name}@{wire}", wire=wire)
    return d


def from_knobs(name: str, knobs: dict) -> Design:
    """A design given as knob values (a candidate fix from a design file)."""
    allowed = {f.name for f in fields(Design)} - {"name"}
    bad = sorted(set(knobs) - allowed)
    if bad:
        raise ValueError(f"unknown knob {bad[0]!r}; allowed knobs: {', '.join(sorted(allowed))}")
    return replace(Design(name), **knobs)
