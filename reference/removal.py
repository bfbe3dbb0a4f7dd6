"""History that shrinks, in the reference loop: what a compaction's summary request sends, what it
leaves, and what truncating a result's content leaves (a rollback's cut is rollout.py's
``drop_last_user_turns``, which resume also applies).

- The summary request is history plus the compact prompt. Each time the provider answers that the
  context window is exceeded, the request (not history) loses its oldest item: plain
  ``turn_input.remove(0)`` (rust-v0.47.0 codex-rs/core/src/codex/compact.rs:116-122), or, since
  v0.48, ``remove_first_item``, which also removes the first item that pairs with it, call or
  result (rust-v0.48.0 codex-rs/core/src/conversation_history.rs:37-58). ``summary_requests``
  lists the request after 0, 1, 2, ... such answers, while more than one item is left.
- What a compaction leaves (``cuts``): ``summary``, the user messages that start a user turn, then
  the summary, as a user message (rust-v0.78.0 codex-rs/core/src/compact.rs:158-172); ``last-n``, a
  summary and the messages from any message boundary on (a keep-the-last-N window, HKUDS/OpenHarness
  #191); ``tail-atomic``, the same from any point no call/result pair straddles (the pair guard
  #191 asks for). A message is a run of assistant-side items (reasoning, text, calls) or of user
  messages and results, as the Anthropic wire sends them.
- A truncated result keeps its item and call id; only the text is cut (process_item, rust-v0.78.0
  codex-rs/core/src/context_manager/history.rs:227-265).
"""

from __future__ import annotations

from . import items as It
from .rollout import is_turn_start

COMPACT_PROMPT = "Summarize the conversation so far for a continuation of this session."
TRUNCATED_MARK = "[... output truncated ...]"


def _partner(items: list, it: dict) -> int | None:
    """The first item that pairs with ``it``: its result if it is a call, its call if a result."""
    if It.is_call(it):
        want = It.is_output
    elif It.is_output(it):
        want = It.is_call
    else:
        return None
    return next((j for j, x in enumerate(items) if want(x) and x.get("call_id") == it.get("call_id")), None)


def drop_first(items: list, pairs: bool) -> list:
    """The request after one context-window error."""
    rest = list(items[1:])
    if pairs and items:
        j = _partner(rest, items[0])
        if j is not None:
            del rest[j]
    return rest


def summary_requests(history: list, trim: str) -> list:
    """[request items after k context-window errors], k = 0, 1, ...: history plus the prompt."""
    req = list(history) + [It.user(COMPACT_PROMPT)]
    out = [req]
    if trim == "none":
        return out
    while len(req) > 1:
        req = drop_first(req, trim == "drop-oldest-pairs")
        out.append(req)
    return out


def message_starts(history: list) -> list:
    """Where a new message starts: the side (assistant or user) changes."""
    out, side = [], None
    for i, it in enumerate(history):
        a = It.is_assistant_side(it)
        if a != side:
            out.append(i)
            side = a
    return out


def _straddled(history: list, i: int) -> bool:
    """A call before ``i`` has no result before ``i``."""
    answered = {it.get("call_id") for it in history[:i] if It.is_output(it)}
    return any(It.is_call(it) and it.get("call_id") not in answered for it in history[:i])


def cuts(history: list, keeps: str, summary: dict) -> list:
    """[(label, history after)] for every cut ``keeps`` may make (the label names the step)."""
    if keeps == "summary":
        return [("summary", [it for it in history if is_turn_start(it)] + [summary])]
    n = len(history)
    if keeps == "last-n":
        at = [i for i in message_starts(history) if i > 0] + [n]
    elif keeps == "tail-atomic":
        at = [i for i in range(1, n + 1) if not _straddled(history, i)]
    else:
        raise ValueError(f"the reference loop has no compaction that keeps {keeps!r}")
    return [(f"keep from {i}", [summary] + list(history[i:])) for i in at]


def truncated(item: dict) -> dict:
    """A result with its content cut (the same result: same call id, same type)."""
    text = It.text_of(item)
    return {**item, "output": text[: max(1, len(text) // 2)] + "\n" + TRUNCATED_MARK}


def is_truncated(item: dict) -> bool:
    return It.is_output(item) and It.text_of(item).endswith(TRUNCATED_MARK)
