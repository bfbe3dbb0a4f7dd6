"""History items: the vocabulary shared by the turn loop, normalization, request building and lint.

Codex keeps a session's history as a flat sequence of `ResponseItem`s (core/src/context_manager).
The pairing question only depends on each item's kind and call id, so an item here is a small
tuple ``(kind, call_id, tag)``:

- ``("user", None, tag)``       a user message (`ResponseItem::Message`, role user)
- ``("reasoning", None, tag)``  a reasoning item
- ``("text", None, tag)``       an assistant message
- ``("call", id, tag)``         a FunctionCall / LocalShellCall / CustomToolCall
- ``("output", id, tag)``       its output (FunctionCallOutput / CustomToolCallOutput)

``tag`` is opaque to every function in model/ except for outputs, where the tags in ORIGINS say
where a result came from, for texts, where EMPTY marks an assistant message with empty content
(any other text differs from every text: what the chat builder's repeated-text skip compares),
and for user messages, where TURN_ABORTED_MARKER marks v0.122's interrupt marker.
lint and repair put the source position of a real item in ``tag``; the model puts the origin.
Call ids are ints in the model (rendered ``call_1`` / ``toolu_1`` on the wire) and strings in
real files.
"""

from __future__ import annotations

from collections.abc import Iterable

USER, REASONING, TEXT, CALL, OUTPUT = "user", "reasoning", "text", "call", "output"

# Where an output came from. Only SYNTHETIC and CODEX_ABORTED are made up by a normalization.
OK = "ok"  # the tool ran and returned
USER_ABORT = "aborted-by-user"  # tools/parallel.rs: the tool saw the cancellation token
CODEX_ABORTED = "aborted"  # normalize.rs ensure_call_outputs_present: inserted, never persisted
SYNTHETIC = "synthetic"  # turnproof: "no result was recorded", marked as made up
TRUNCATED = "truncated"  # a real result whose content was truncated when recorded (the same result)
PLACEHOLDER = "placeholder"  # a field agent's repair: opencode "[Tool execution was interrupted]", Cline "result missing"
ORIGINS = (OK, USER_ABORT, CODEX_ABORTED, SYNTHETIC)
# origins only removal designs make (a repair's placeholder, a truncated content): hooks never see them
REMOVAL_ORIGINS = (PLACEHOLDER, TRUNCATED)
MADE_UP = frozenset((CODEX_ABORTED, SYNTHETIC, PLACEHOLDER))

ASSISTANT_SIDE = frozenset((REASONING, TEXT, CALL))

# A tag ("written", text): content a hook wrote (a user's repair function, turnproof/hooks.py) that
# is none of the model's own texts. A written output is made up, never a result a tool produced.
WRITTEN = "written"

# A text's tag: an empty assistant message (sse/chat.rs makes one of `"content": ""`)
EMPTY = ""
# A user message's tag: v0.122's <turn_aborted> marker, recorded when a turn is interrupted
TURN_ABORTED_MARKER = "turn_aborted"
# A user message's tag: the summary a compaction leaves (Codex records it as a user message,
# rust-v0.78.0 codex-rs/core/src/compact.rs:158-172), and the prompt that asks for it (never in history)
SUMMARY = "summary"
COMPACT_PROMPT = "compact-prompt"
# user messages that are not a user's turn: no turn boundary (rollback, tail cuts), not kept as users
NOT_A_TURN = frozenset((TURN_ABORTED_MARKER, SUMMARY, COMPACT_PROMPT))

# Rollout lines that are no history item: ("compacted", None, replacement history) and
# ("thread_rolled_back", None, number of turns); resume applies them (turnloop.replay)
COMPACTED, ROLLED_BACK = "compacted", "thread_rolled_back"

Item = tuple  # (kind, call_id | None, tag)


def user(tag: object = None) -> Item:
    return (USER, None, tag)


def text(tag: object = None) -> Item:
    return (TEXT, None, tag)


def reasoning(tag: object = None) -> Item:
    return (REASONING, None, tag)


def call(cid: object, tag: object = None) -> Item:
    return (CALL, cid, tag)


def output(cid: object, tag: object = OK) -> Item:
    return (OUTPUT, cid, tag)


def written(text: str) -> tuple:
    return (WRITTEN, text)


def is_written(tag: object) -> bool:
    return type(tag) is tuple and len(tag) == 2 and tag[0] == WRITTEN


def is_real_output(item: Item) -> bool:
    """A result the tool itself produced (the thing `results-kept` protects)."""
    return item[0] == OUTPUT and item[2] not in MADE_UP and not is_written(item[2])


def wire_id(cid: object, wire: str) -> str:
    """How a call id appears on the wire: model ints become provider-style ids; a negative one,
    -1-k, is chat.rs's name for the k-th call of a response that came without an id."""
    if isinstance(cid, int) and cid < 0:
        return f"tool-call-{-1 - cid}"
    if isinstance(cid, int):
        return f"toolu_{cid}" if wire == "anthropic" else f"call_{cid}"
    return str(cid)


def short_id(cid: object) -> str:
    """A call id in counterexamples: 1 for call_1, tc0 for tool-call-0."""
    return f"tc{-1 - cid}" if isinstance(cid, int) and cid < 0 else str(cid)


def show(item: Item) -> str:
    """Short human form used in counterexamples: U, R, T, C1, O1, O1(aborted)."""
    kind, cid, tag = item
    if is_written(tag):
        t = tag[1] if len(tag[1]) <= 24 else tag[1][:23] + "…"
        return {USER: "U", TEXT: "T", OUTPUT: f"O{cid}", REASONING: "R", CALL: f"C{cid}"}.get(kind, kind) + f"({t!r})"
    if kind == CALL:
        return f"C{short_id(cid)}"
    if kind == OUTPUT:
        return f"O{short_id(cid)}" if tag == OK else f"O{short_id(cid)}({tag})"
    if kind == TEXT and tag == EMPTY:
        return "T(empty)"
    if kind == USER and tag in NOT_A_TURN:
        return f"U({tag})"
    return {USER: "U", REASONING: "R", TEXT: "T"}.get(kind, kind)


def is_turn_start(item: Item) -> bool:
    """A user message that starts a user turn (not a marker, a summary or a compaction prompt)."""
    return item[0] == USER and item[2] not in NOT_A_TURN


def is_rollback_boundary(item: Item) -> bool:
    """Where a thread rollback counts a user turn: a user message that is not contextual, so a
    compaction's summary (a plain user message) counts and the <turn_aborted> marker does not
    (is_user_turn_boundary: rust-v0.79.0 codex-rs/core/src/context_manager/history.rs:336-367;
    rust-v0.122.0 :703-710, event_mapping.rs:35-37, contextual_user_message.rs:35-42). The compact
    prompt is no history item."""
    return item[0] == USER and item[2] not in (TURN_ABORTED_MARKER, COMPACT_PROMPT)


def result_key(item: Item) -> tuple:
    """What identifies a result: a truncated one is the same result as the whole one."""
    return (item[0], item[1], OK if item[2] == TRUNCATED else item[2])


def show_all(items: Iterable) -> str:
    return "[" + ",".join(show(i) for i in items) + "]"
