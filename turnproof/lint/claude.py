"""Claude Code session JSONL (``~/.claude/projects/<project>/<session>.jsonl``, subagents beside it).

Each line is one event: ``type`` user / assistant with ``message: {role, content}`` (one content
block per line for assistant messages, several lines sharing ``message.id``), and lines that are
not conversation (``summary``, ``file-history-snapshot``, ``system``, ``queue-operation``,
``progress``). Lines are read in file order; consecutive lines of one role form one Messages API
message, as Claude Code sends them, so the Anthropic judge sees the request Claude Code would
build, and every rejection is mapped back to the line of the block it is about. A main session
file skips its sidechain lines (subagents, which have their own files); a subagent file is all
sidechain. A ``system`` line with subtype ``compact_boundary`` starts a new history (compaction).

File order, not the ``parentUuid`` tree: the tree is not the request. Parallel tool calls fork it
(each ``tool_result`` line's parent is its own ``tool_use`` line, while the next ``tool_use`` block
chains from the previous one: claude-code-subagent-a485154.jsonl lines 4-10 and
claude-code-subagents-turn-2.jsonl lines 30-40 in tests/data/real), so walking from a leaf to the
root drops calls and results that Claude Code does send. Telling such forks from a real branch (an
edited or rewound message, whose old leaf is never sent again) needs Claude Code's own rebuild
rule, which is in no public source; a session with a real branch is judged as one history here.
"""

from __future__ import annotations

from .bodies import parse_json, strict_findings
from .findings import Finding, LintError
from .rollout import _open_lines, _tname

CONVERSATION = ("user", "assistant")
OTHER = ("summary", "file-history-snapshot", "system", "queue-operation", "progress", "custom-title", "tag",
         "attachment", "last-prompt")


def looks_like(obj: object) -> bool:
    return isinstance(obj, dict) and (
        (obj.get("type") in CONVERSATION and isinstance(obj.get("message"), dict)
         and ("sessionId" in obj or "uuid" in obj or "parentUuid" in obj))
        or (obj.get("type") in OTHER and ("leafUuid" in obj or "messageId" in obj or "sessionId" in obj
                                           or "uuid" in obj)))


def check_blocks(path: str, n: int, blocks: list) -> None:
    """The content blocks of line ``n`` are objects, and each tool block names its id (lint and repair)."""
    for j, b in enumerate(blocks):
        if not isinstance(b, dict):
            raise LintError(f"{path}:{n}: message.content[{j}] must be an object, not {_tname(b)}")
        if b.get("type") == "tool_use" and not isinstance(b.get("id"), str):
            raise LintError(f"{path}:{n}: tool_use block without an \"id\" string")
        if b.get("type") == "tool_result" and not isinstance(b.get("tool_use_id"), str):
            raise LintError(f"{path}:{n}: tool_result block without a \"tool_use_id\" string")


def read(path: str, max_line: int) -> tuple[list, list, list]:
    """(histories, lines, strict findings): each history is a list of Messages API messages; ``lines``
    parallel to it gives, per message, the source line of each content block."""
    rows = []
    extra: list = []
    for n, raw in _open_lines(path, max_line):
        if not raw.strip():
            continue
        obj, st = parse_json(raw, f"{path}:{n}")
        extra += strict_findings(st, line=n)
        if not isinstance(obj, dict):
            raise LintError(f"{path}:{n}: a Claude Code line must be a JSON object, not {_tname(obj)}")
        rows.append((n, obj))
    if not rows:
        raise LintError(f"{path}: empty file")
    main = any(o.get("type") in CONVERSATION and not o.get("isSidechain") for _, o in rows)
    histories: list = [[]]
    lines: list = [[]]
    for n, o in rows:
        t = o.get("type")
        if t == "system" and o.get("subtype") == "compact_boundary":
            histories.append([]), lines.append([])
            continue
        if t not in CONVERSATION or (main and o.get("isSidechain")):
            continue
        msg = o.get("message")
        if not isinstance(msg, dict):
            raise LintError(f"{path}:{n}: a {t} line without a \"message\" object")
        role = msg.get("role", t)
        if role not in CONVERSATION:  # a tool_use under any other role would be judged as no one's
            raise LintError(f"{path}:{n}: message.role must be \"user\" or \"assistant\", not {_tname(role)}"
                            if not isinstance(role, str) else f"{path}:{n}: message.role {role!r} is neither user "
                            "nor assistant")
        c = msg.get("content")
        blocks = [{"type": "text", "text": c}] if isinstance(c, str) else c if isinstance(c, list) else []
        check_blocks(path, n, blocks)
        h, ln = histories[-1], lines[-1]
        if h and h[-1]["role"] == role:
            h[-1]["content"] += blocks
            ln[-1] += [n] * len(blocks)
        else:
            h.append({"role": role, "content": list(blocks)})
            ln.append([n] * len(blocks) or [n])
    return histories, lines, extra


def locate(lines: list, msgs: list, index: int, cid: str | None) -> int | None:
    """The line of the block with id ``cid`` in message ``index`` (or the message's first line)."""
    if not 0 <= index < len(msgs):
        return None
    for j, b in enumerate(msgs[index]["content"]):
        if cid is not None and (b.get("id") == cid or b.get("tool_use_id") == cid):
            return lines[index][j] if j < len(lines[index]) else lines[index][0]
    return lines[index][0] if lines[index] else None


def findings(path: str, max_line: int, provider: str | None) -> tuple[list, list, str, str]:
    from turnproof.model.provider import judge

    histories, lines, extra = read(path, max_line)
    used = provider or "anthropic"
    out: list = list(extra)
    for msgs, ln in zip(histories, lines):
        for r in judge("anthropic", msgs, used):
            for cid in r.call_ids or (None,):
                out.append(Finding(r.rule, cid, locate(ln, msgs, r.index, cid), provider_error=r.text,
                                   wire="anthropic", provider=used))
    return out, [], used, "--provider" if provider else "Claude Code talks to Anthropic's Messages API"
