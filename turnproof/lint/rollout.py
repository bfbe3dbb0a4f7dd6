"""Reading a Codex rollout (JSONL) as history items, in bounded memory.

A rollout line is ``{"timestamp", "type", "payload"}`` (core/src/rollout/recorder.rs). Only
``response_item`` lines are history: messages become user / text items, reasoning a reasoning
item, function / custom / local shell calls a call, their outputs an output (model/items.py), each
tagged with its line number (early rollouts wrote the items bare, one per line: read the
same way). A ``compacted`` line starts a new history (resume replaces everything
before it with its ``replacement_history``, when it has one). A ``thread_rolled_back`` event drops
the last n user turns from the history, as resume does (``rolled_back``): their items stay in the
file but are no longer history, so pairing is judged, and repaired, on the history after it.

Bounded memory: pairing is decided per call id, so the item stream is cut into *chunks* at points
no id spans, just before assistant text or a call whose nearest earlier item other than reasoning
is a user message or an output (reasoning is not a message on the chat or Anthropic wire, so it
cannot separate two user-side messages). Every normalization (model/normalize.py), request
builder (model/wire.py) and provider judge (model/provider.py) gives on a chunk exactly what it
gives on the whole history at those items, because none of them relates items of different ids
and no builder merges a user-side item with an assistant-side one (tests/test_lint_chunks.py
checks this). So only one chunk (usually one round of calls and results) and small per-id and
per-chunk tables are in memory, whatever the file's size.

Where no id spans is known only at the end of the file, so the file is read twice: pass 1 scans
the raw bytes for ``"call_id"`` and keeps, per id, the last line it occurs on; pass 2 parses and
cuts only where no id goes on. If pass 2 meets an id pass 1 missed, it stops cutting: still
correct, only no longer bounded. (A one-pass reader that guessed the cuts and took them back when
an id came round again was dropped: it could disagree with the whole-history judgement.)

A line cut short by a crash (valid UTF-8, JSON that merely ends too soon) is a ``torn-line``
finding, as Codex skips it; every other unreadable line is a LintError naming file and line.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from turnproof.fileio import UnsafePath, open_input
from turnproof.model.items import ASSISTANT_SIDE, CALL, OUTPUT, REASONING, TEXT, USER

from .findings import LintError

CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call")
OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")
ITEM_TYPES = frozenset(CALL_TYPES + OUTPUT_TYPES + ("message", "reasoning"))
ROLLOUT_TYPES = ("session_meta", "response_item", "compacted", "turn_context", "event_msg")
DEFAULT_MAX_LINE = 256 << 20  # Codex writes whole tool outputs on one line; beyond this, refuse

_CID = re.compile(rb'"call_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
_ID = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')  # local_shell_call may carry only `id`
INF = float("inf")
OPENS_MESSAGE = (TEXT, CALL)  # assistant-side items every wire sends in an assistant message


@dataclass
class Line:
    """One line of a chunk's region, kept for repair: raw bytes and the item tags it holds."""

    n: int
    raw: bytes
    tags: tuple = ()  # item tags on this line (several for a compacted line)
    payload_type: str | None = None
    timestamp: object = None
    torn: bool = False


@dataclass
class Chunk:
    items: tuple
    restart: bool = False  # first chunk of a new history (file start or a compacted line)
    lines: list = field(default_factory=list)  # repair only: every line since the previous chunk


TORN_LINE = object()  # _parse's line type for a line cut short


def _cid_text(raw: bytes) -> str:
    return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8", "replace")


def _open_lines(path: str, max_line: int):
    """(line number, raw bytes) for each line; a line longer than ``max_line`` is a LintError."""
    try:
        f = open_input(path)
    except UnsafePath as e:
        raise LintError(str(e)) from None
    except OSError as e:
        raise LintError(f"{path}: cannot read: {e.strerror or e}") from None
    with f:
        n = 0
        read = f.readline
        while True:
            try:
                raw = read(max_line + 1)
            except OSError as e:
                raise LintError(f"{path}:{n + 1}: cannot read: {e.strerror or e}") from None
            if not raw:
                return
            n += 1
            if len(raw) > max_line and not (len(raw) == max_line + 1 and raw.endswith(b"\n")):
                raise LintError(f"{path}:{n}: line longer than {max_line} bytes; raise --max-line-mb to read it")
            yield n, raw


def scan_ids(path: str, max_line: int = DEFAULT_MAX_LINE, progress=None, markers: list | None = None) -> tuple[dict, int]:
    """Pass 1: {call id: last line it occurs on}, and the number of lines; ``markers`` gets the lines
    that may hold a thread_rolled_back event."""
    last: dict = {}
    n = 0
    done = 0
    for n, raw in _open_lines(path, max_line):
        done += len(raw)
        if progress is not None and not n & 1023:
            progress(done)
        i = raw.find(b'"call_id"')
        while i >= 0:
            m = _CID.match(raw, i)
            if m:
                try:
                    last[_cid_text(m.group(1))] = n
                except ValueError:
                    pass  # not a valid escape: pass 2 reports the line
            i = raw.find(b'"call_id"', i + 9)
        if markers is not None and b"thread_rolled_back" in raw:
            markers.append(n)
        if b'"local_shell_call"' in raw:
            for m in _ID.finditer(raw):
                try:
                    last[_cid_text(m.group(1))] = n
                except ValueError:
                    pass
    return last, n


class RolloutReader:
    """Pass 2: the items of a rollout, in chunks (see the module docstring)."""

    def __init__(self, path: str, max_line: int = DEFAULT_MAX_LINE, keep_lines: bool = False, progress=None):
        self.path = path
        self.max_line = max_line
        self.keep_lines = keep_lines
        self.progress = progress
        self.torn: list[int] = []  # lines cut short
        self.strict: list = []  # Findings: NaN / Infinity, a key twice (lint reports them; a writer refuses)
        self.bounded = True  # False once an id pass 1 missed turned cutting off
        self.rolled_back = 0  # items a thread_rolled_back line took out of the history

    def fail(self, n: int, msg: str) -> LintError:
        return LintError(f"{self.path}:{n}: {msg}")

    def _strict(self, n: int, raw: bytes) -> None:
        """A line that may name a call id or a type twice, or hold NaN / Infinity, read again strictly: a
        key twice means readers disagree on which call or result the line is (json.loads keeps the last
        value, and repair would drop the real result of the other as an orphan). Only such lines pay
        for the slower strict parse (a key twice elsewhere, which pairing does not read, is not
        looked for). Lint reports them; a reader that writes (repair) refuses the file."""
        from .bodies import parse_json, strict_findings

        found = strict_findings(parse_json(raw, f"{self.path}:{n}")[1], line=n)
        if found and self.keep_lines:
            raise self.fail(n, f"{found[0].message}: not repaired (lint names every one)")
        self.strict += found

    def _parse(self, n: int, raw: bytes):
        """One line: (line type, items, payload type, timestamp); line type None for blank and torn lines."""
        if b"\0" in raw:
            raise self.fail(n, "binary data (a NUL byte), not a JSON line")
        if raw.isspace():
            return None, (), None, None
        try:
            obj = json.loads(raw)  # decodes UTF-8 itself: no second copy of the line
        except RecursionError:
            raise self.fail(n, "JSON nested too deeply") from None
        except UnicodeDecodeError as e:
            raise self.fail(n, f"not valid UTF-8 (byte {e.start + 1})") from None
        except ValueError as e:
            if self._is_torn(raw.decode("utf-8", "replace"), e):
                return TORN_LINE, (), None, None
            raise self.fail(n, f"not valid JSON ({getattr(e, 'msg', e)}, column {getattr(e, 'colno', '?')})") from None
        if type(obj) is not dict:
            raise self.fail(n, f"a rollout line must be a JSON object, not {_tname(obj)}")
        # the keys pairing reads (call_id, type) twice, or NaN / Infinity maybe: only then the strict parse
        # (a call or result line has one call_id and two "type" keys, line and payload)
        if (raw.count(b'"call_id"') > 1 or (b'"call_id"' in raw and raw.count(b'"type"') > 2)
                or b"NaN" in raw or b"Infinity" in raw):
            self._strict(n, raw)
        ltype = obj.get("type")
        payload = obj.get("payload")
        if ltype is None and payload is None:
            return "", (), None, None  # early rollouts' session and state records: nothing to pair
        if not isinstance(ltype, str):
            raise self.fail(n, "rollout line without a \"type\" string")
        if ltype in ROLLOUT_TYPES and type(payload) is not dict:
            raise self.fail(n, f"\"payload\" of a {ltype} line must be an object, not {_tname(payload)}")
        new: list = []
        ptype = None
        if payload is None and ltype in ITEM_TYPES:
            ltype, payload = "response_item", obj  # early Codex rollouts: the item itself, unwrapped
        if ltype == "response_item":
            ptype = payload.get("type")
            it = self._item(payload, n, n)
            if it is not None:
                new.append(it)
        elif ltype == "compacted":
            rh = payload.get("replacement_history")
            if rh is not None:
                if type(rh) is not list:
                    raise self.fail(n, f"\"replacement_history\" must be a list, not {_tname(rh)}")
                for k, p in enumerate(rh):
                    if type(p) is not dict:
                        raise self.fail(n, f"replacement_history[{k}] must be an object, not {_tname(p)}")
                    it = self._item(p, (n, k), n, where=f"replacement_history[{k}]: ")
                    if it is not None:
                        new.append(it)
        return ltype, new, ptype, obj.get("timestamp")

    def chunks(self):
        """Chunks of items, in file order: pass 1 says where every id occurs last, so no cut is ever
        taken back."""
        path = self.path
        if os.path.isdir(path):
            raise LintError(f"{path}: is a directory")
        markers: list = []
        last, _ = scan_ids(path, self.max_line, None if self.progress is None else (lambda b: self.progress(b, 1)),
                           markers)
        # a rollback line: the items of the turns it dropped are no longer history (kept in the file as
        # they are, like every line that holds no item)
        dead = rolled_back(path, self.max_line) if markers else frozenset()
        self.rolled_back = len(dead)
        open_calls: dict = {}  # call id -> line of a call with no result yet (duplicate-id check)
        items: list = []
        region: list = []
        open_until = 0
        prev_user_side = True
        restart = True
        keep = self.keep_lines
        done = 0
        seen_content = False
        n = 0
        for n, raw in _open_lines(path, self.max_line):
            done += len(raw)
            if self.progress is not None and not n & 1023:
                self.progress(done, 2)
            ltype, new, ptype, ts = self._parse(n, raw)
            if dead and new:
                new = [it for it in new if it[2] not in dead]
            if ltype is None:
                if keep:
                    region.append(Line(n, raw))
                continue
            seen_content = True
            if ltype is TORN_LINE:
                self.torn.append(n)
                if keep:
                    region.append(Line(n, raw, torn=True))
                continue
            if ltype == "compacted":
                # history is replaced here: close the chunk whatever spans it
                if items or region:
                    yield Chunk(tuple(items), restart, region)
                items, region, open_until, prev_user_side, restart = [], [], 0, True, True
                open_calls.clear()
            # a cut goes before a line, never inside one (a compacted line holds many items)
            if new and new[0][0] in OPENS_MESSAGE and prev_user_side and open_until < n and items:
                yield Chunk(tuple(items), restart, region)
                items, region, open_until, restart = [], [], 0, False
            for it in new:
                kind, cid = it[0], it[1]
                if cid is not None:
                    lst = last.get(cid)
                    if lst is None or lst < n:
                        self.bounded = False
                        open_until = INF
                    elif lst > open_until:
                        open_until = lst
                    if kind == CALL:
                        if cid in open_calls:
                            raise self.fail(n, f"call id {cid} is used again while the call on line "
                                               f"{open_calls[cid]} has no result: which result answers which "
                                               "is ambiguous")
                        open_calls[cid] = n
                    else:
                        open_calls.pop(cid, None)
                if kind != REASONING:  # no wire sends reasoning as a message of its own
                    prev_user_side = kind not in ASSISTANT_SIDE
                items.append(it)
            if keep:
                region.append(Line(n, raw, tuple(it[2] for it in new), ptype, ts))
        if n == 0:
            raise LintError(f"{path}: empty file")
        if not seen_content:
            raise LintError(f"{path}: no JSON lines (only blank lines)")
        if items or region:
            yield Chunk(tuple(items), restart, region)

    @staticmethod
    def _is_torn(text: str, e: ValueError) -> bool:
        """JSON that is fine as far as it goes and just stops: a write cut short."""
        s = text.rstrip()
        if not s.startswith("{"):
            return False
        msg = getattr(e, "msg", "")
        pos = getattr(e, "pos", None)
        if msg.startswith("Unterminated string"):
            return True
        return pos is not None and pos >= len(s) - (6 if "escape" in msg else 0)

    def _item(self, p: dict, tag: object, n: int, where: str = "") -> tuple | None:
        t = p.get("type")
        if not isinstance(t, str):
            raise self.fail(n, f"{where}response_item payload without a \"type\" string")
        if t == "message":
            role = p.get("role")
            if not isinstance(role, str):
                raise self.fail(n, f"{where}message without a \"role\" string")
            return (TEXT if role == "assistant" else USER, None, tag)
        if t == "reasoning":
            return (REASONING, None, tag)
        if t in CALL_TYPES or t in OUTPUT_TYPES:
            cid = p.get("call_id")
            if cid is None and t == "local_shell_call":
                cid = p.get("id")
            if not isinstance(cid, str):
                what = "missing" if cid is None else f"{_tname(cid)}, not a string"
                raise self.fail(n, f"{where}{t} with call_id {what}")
            if not cid:
                raise self.fail(n, f"{where}{t} with an empty call_id")
            return (CALL if t in CALL_TYPES else OUTPUT, cid, tag)
        return None  # web_search_call, ghost_snapshot, compaction...: not part of the pairing


def _tname(x: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(x), type(x).__name__)



# ---- thread rollback: which items resume no longer has --------------------------------------------
# A user message Codex injects as context, not a user's turn (rust-v0.122.0
# codex-rs/core/src/contextual_user_message.rs:35-42, the fragments; rust-v0.79.0
# codex-rs/core/src/context_manager/history.rs:336-368 and user_instructions.rs:7-9)
CONTEXTUAL_PREFIXES = ("<environment_context>", "# agents.md instructions for ", "<user_instructions>", "<skill",
                       "<user_shell_command>", "<turn_aborted>", "<subagent_notification>")


def is_user_turn_boundary(p: dict) -> bool:
    """is_user_turn_boundary (rust-v0.122.0 codex-rs/core/src/context_manager/history.rs:703-714; rust-v0.79.0
    :336-368): a user message none of whose input texts is injected context. A compaction's summary is one
    (a plain user message)."""
    if p.get("type") != "message" or p.get("role") != "user":
        return False
    content = p.get("content")
    for b in content if isinstance(content, list) else ():
        if isinstance(b, dict) and b.get("type") == "input_text" and isinstance(b.get("text"), str):
            if b["text"].lstrip().lower().startswith(CONTEXTUAL_PREFIXES):
                return False
    return True


def rolled_back(path: str, max_line: int = DEFAULT_MAX_LINE) -> frozenset:
    """The items (tags: a line number, or (line, k) for replacement_history[k]) that a resume no longer has
    because a ``thread_rolled_back`` line dropped their user turns.

    Resume replays the rollout in order (rust-v0.79.0 codex-rs/core/src/codex.rs:1238-1274): items
    append, a compacted line replaces history (with its replacement_history; without, with the user
    messages so far and the summary), and
    ``drop_last_n_user_turns(n)`` cuts history at the n-th user turn boundary from the end, or at the
    first one when n reaches the number of turns, and does nothing when n is 0 or there is none
    (rust-v0.79.0 codex-rs/core/src/context_manager/history.rs:167-189; rust-v0.122.0 :240-263; v0.122
    also moves the cut above context messages just before it, trim_pre_turn_context_updates :428-455,
    which are never calls or results). rust-v0.122.0 first scans backwards by turn segments for the
    newest replacement_history a rollback leaves standing, then replays the lines after it forwards
    (codex-rs/core/src/session/rollout_reconstruction.rs:43-84, 110-229, 236-284): the same history,
    except when a rollback drops the turn that holds the newest compacted line and no older one with a
    replacement_history stands. That line narrows the replayed tail before its turn is known to be
    dropped (:127), so v0.122 then replays only the lines after it, from an empty history (as read
    here, not run); this reader keeps to the forward replay there. Lines that do not
    parse are left to the chunk reader, which reports them. The tags of one session's items are kept in memory: only files with a rollback line
    pay for this pass."""
    hist: list = []  # (tag or None, user turn boundary)
    dead: set = set()
    for n, raw in _open_lines(path, max_line):
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if type(obj) is not dict:
            continue
        ltype, payload = obj.get("type"), obj.get("payload")
        if payload is None and ltype in ITEM_TYPES:
            ltype, payload = "response_item", obj
        if type(payload) is not dict:
            continue
        if ltype == "response_item":
            hist.append((n, is_user_turn_boundary(payload)))
        elif ltype == "compacted":
            rh = payload.get("replacement_history")
            if type(rh) is list:
                hist = [((n, k), type(p) is dict and is_user_turn_boundary(p)) for k, p in enumerate(rh)]
            else:  # rebuilt: the user messages so far, then the summary (no call or result among them)
                hist = [(None, True) for _, b in hist if b] + [(None, True)]
        elif ltype == "event_msg" and payload.get("type") == "thread_rolled_back":
            k = payload.get("num_turns")
            if type(k) is not int or k <= 0:
                continue
            starts = [i for i, (_, b) in enumerate(hist) if b]
            if not starts:
                continue
            cut = starts[0] if k >= len(starts) else starts[-k]
            dead.update(t for t, _ in hist[cut:] if t is not None)
            del hist[cut:]
    return frozenset(dead)
