"""The Codex turn loop as a state machine: one session, every interleaving of stream, tools,
user, writer and machine.

A state is a plain tuple (fields below), an action is a name plus an argument, and
``successors(state)`` lists every enabled action with the state it leads to: guards first, then
the effect. Each action names the codex-rs function it stands for (ACTIONS at the bottom, which
docs/SPEC.md is generated from). Parameters (how many parallel calls, turns, which faults) live in
``Params``; design choices in ``Design`` (designs.py).

What the model keeps, and why it is enough:

- History is a *sequence* of items (items.py), in memory and in the rollout file: the #8479 bug is
  an ordering bug, invisible to a model that only tracks "has a response".
- The rollout writer: every record goes to memory and then to the writer's channel (``queue``).
  The writer's progress cannot be seen until the machine dies, so instead of interleaving a
  ``RolloutWrite`` step everywhere, ``Crash(k)`` chooses how many queued lines reached the disk
  (a torn last line is skipped on load, so it counts as not written, provided the resumed writer
  starts a new line first; Codex's append-only writer does not (inferred), so the first line it
  appends after a torn tail merges with it and is lost at the next load: see reference/rollout.py).
  Every amount of writer progress at every crash point is covered, and nothing else reads the
  file, so this is exact. A clean exit and restart is Crash(k = all queued lines) then Resume.
- FuturesOrdered: tools finish in any order (``ToolFinish``), the drain records only the head,
  and only when it has finished (``DrainOutput``): outputs land in call order.
- Interrupt: ``Interrupt`` cancels; tools then resolve "aborted by user" (``ToolAbort``) or finish;
  the drain goes on; ``HardAbort`` is the 100 ms grace running out while the drain is unfinished,
  which a design may forbid. ``TurnAborted`` persists the event.
- Bounds: the first turn's first response (and its retry) may carry up to ``calls`` parallel
  calls; follow-up responses and later turns complete with no items, as a text item after every
  output is invisible to every pairing rule, and so are faults in a stream that cannot carry calls. A second round of calls is the same mechanism over
  a longer, already checked prefix (every request's prefix is itself a request we check), so it
  adds states but no new behaviour. Each kind of fault happens at most once per session and at most ``max_faults`` (2) in all: every
  counterexample the matrix finds needs at most two, stream
  errors are retried ``retries`` times (Codex: 5; every retry is the same step), and after a
  crash or an interrupt the user always gets one more turn, so `resumable` is decided inside
  the bound.

Two reductions, on by default (``Params.reduce``), off for conformance and for the cross-check
test that compares verdicts with and without them:

- Tools resolve only when they reach the head of the drain. FuturesOrdered makes completion order
  unobservable: an output is recorded only when its call is the head, nothing else reads a tool's
  status (a crash and a hard abort drop every undrained future whatever its state), and the
  outcomes a tool can have at that moment (done, failed, or aborted by user once cancelled) are
  the same as if it had resolved earlier.
- A crash finds the writer caught up (k = all queued lines). Crashing at a later state with the
  writer k lines behind ends in the same file as crashing at the earlier state where the k-th line
  was recorded, with the writer caught up; from there, the later state's session has no more turns
  left, no fewer faults used and the same history, so everything it can do the earlier one can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from . import items as I
from .designs import Design
from .normalize import normalize, unanswered_calls
from .provider import Rejection, judge
from .wire import build_request

FAULTS = ("stream-error", "stream-closed", "tool-failure", "interrupt", "crash")
FAULT_BIT = {f: 1 << i for i, f in enumerate(FAULTS)}
B_STREAM_ERROR, B_STREAM_CLOSED, B_TOOL_FAILURE, B_INTERRUPT, B_CRASH = (FAULT_BIT[f] for f in FAULTS)

# phases
IDLE, READY, STREAM, DRAIN, CANCEL, DOWN, REFUSED = (
    "idle", "ready", "stream", "drain", "cancel", "down", "refused")

# state fields (a plain tuple: hashing and copying tuples is what makes the search fast)
(PH, HIST, QUEUE, FILE, TURNS, TURNNO, CALLS_OK, NCALLS, REASONED, TEXT, INFL, DRAINED, BASE, NEXT,
 EXIT, RETRY, PROMPT, USED, PTEXT) = range(19)
FIELD_NAMES = ("phase", "history", "queue", "file", "turns_left", "turn_no", "calls_ok", "ncalls",
               "reasoned", "text", "in_flight", "drained", "base_id", "next_id", "exit", "retries_left",
               "prompt_len", "faults_used", "text_after_drain")

# tool future status in in_flight
RUNNING, DONE, FAILED, ABORTED = "running", "done", "failed", "aborted"
TURN_ABORTED = ("turn_aborted", None, None)  # event_msg line: in the file, never in history

FAULT_ACTIONS = frozenset(("StreamError", "StreamClosed", "ToolFail", "Interrupt", "Crash"))


@dataclass(frozen=True)
class Params:
    calls: int = 3
    turns: int = 2
    faults: frozenset = field(default_factory=lambda: frozenset(FAULTS))
    retries: int = 1
    max_faults: int = 2  # faults per session, each kind at most once
    text: bool = True  # a response with calls may also carry assistant text
    # Sound reductions for the search (argued in the module docstring); conformance tests and the
    # cross-check test run with reduce=False.
    reduce: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.calls <= 8:
            raise ValueError(f"--calls must be between 1 and 8, not {self.calls}")
        if not 1 <= self.turns <= 4:
            raise ValueError(f"--turns must be between 1 and 4, not {self.turns}")
        if not 0 <= self.max_faults <= len(FAULTS):
            raise ValueError(f"--max-faults must be between 0 and {len(FAULTS)}, not {self.max_faults}")
        if not 0 <= self.retries <= 5:
            raise ValueError(f"--retries must be between 0 and 5, not {self.retries}")
        bad = set(self.faults) - set(FAULTS)
        if bad:
            raise ValueError(f"unknown fault {sorted(bad)[0]!r}; allowed: {', '.join(FAULTS)}, all, none")


def parse_faults(text: str) -> frozenset:
    """'all' | 'none' | comma-separated fault names."""
    text = text.strip()
    if text == "all":
        return frozenset(FAULTS)
    if text in ("none", ""):
        return frozenset()
    names = [t.strip() for t in text.split(",") if t.strip()]
    for n in names:
        if n not in FAULTS:
            raise ValueError(f"unknown fault {n!r}; allowed: {', '.join(FAULTS)}, all, none")
    return frozenset(names)


@dataclass(frozen=True)
class Request:
    """What a SendRequest step sent (or, for RefuseRequest, would have sent)."""

    items: tuple  # the normalized history
    body: list  # as built for the wire
    rejections: tuple  # provider.Rejection, empty if accepted


class TurnLoop:
    """The model: ``init_states``, ``successors`` (guards in a fixed order) and helpers."""

    def __init__(self, design: Design, params: Params):
        self.d = design
        self.p = params
        self._req_cache: dict = {}
        enabled = sum(FAULT_BIT[f] for f in params.faults)
        # the faults that can still happen, given those used: enabled, each kind once, max_faults
        self.allowed = tuple(enabled & ~used if used.bit_count() < params.max_faults else 0
                             for used in range(1 << len(FAULTS)))
        self._items_cache: dict = {}
        self._last_state: tuple | None = None
        self._last_request: Request | None = None

    def _may(self, used: int, bit: int) -> bool:
        return bool(self.allowed[used] & bit)

    # ---- initial state -------------------------------------------------------------------------
    def init_states(self) -> list[tuple]:
        return [(IDLE, (), (), (), self.p.turns, 0, False, 0, False, 0, (), 0, 1, 1, None,
                 self.p.retries, -1, 0, False)]

    # ---- requests ------------------------------------------------------------------------------
    def request(self, s: tuple) -> Request:
        """The request SendRequest builds in state ``s`` (run_turn: prompt from a normalized clone)."""
        if s is self._last_state:  # SendRequest, its checks and the coverage probe ask in a row
            return self._last_request
        hist = s[HIST]
        if self.d.retry_prompt == "reuse" and s[PROMPT] >= 0:
            hist = hist[: s[PROMPT]]  # v0.77: a retry reuses the prompt built before attempt 1
        r = self._req_cache.get(hist)
        if r is None:
            items = normalize(hist, self.d.normalization)
            r = self._items_cache.get(items)
            if r is None:
                prov = getattr(self.d, "provider", "default")
                prov = None if prov == "default" else prov
                body = build_request(items, self.d.wire, self.d.chat_grouping, prov)
                r = Request(items, body, tuple(judge(self.d.wire, body, prov)))
                self._items_cache[items] = r
            self._req_cache[hist] = r
        self._last_state, self._last_request = s, r
        return r

    # ---- successors ----------------------------------------------------------------------------
    def successors(self, s: tuple) -> list[tuple]:
        """[(action, arg, next_state)] for every enabled action, in a fixed order."""
        out: list = []
        ph = s[PH]
        d = self.d
        if ph == IDLE:
            if s[TURNS] > 0:
                out.append(("UserMessage", None, self._user_message(s)))
        elif ph == READY:
            out.append(self._send(s))
        elif ph == STREAM:
            self._stream_actions(s, out)
        elif ph == DRAIN or ph == CANCEL:
            self._drain_actions(s, out)
            if ph == DRAIN and self._may(s[USED], B_INTERRUPT):
                out.append(("Interrupt", None, self._interrupt(s)))
        elif ph == DOWN:
            files = tuple(it for it in s[FILE] if it is not TURN_ABORTED and it[0] != "turn_aborted")
            if d.refuse_unanswered_resume and unanswered_calls(files):
                out.append(("ResumeRefused", None, _set(s, {PH: REFUSED})))
            else:
                out.append(("Resume", None, self._resume(s, files)))
        if ph in (STREAM, DRAIN, CANCEL):
            self._tool_actions(s, out)
        if ph != DOWN and ph != REFUSED and self._may(s[USED], B_CRASH):
            q = s[QUEUE]
            for k in ((len(q),) if self.p.reduce else range(len(q) + 1)):
                out.append(("Crash", k, self._crash(s, k)))
        return out

    # UserMessage: run_task records the user input (memory, then rollout) and starts a turn.
    def _user_message(self, s: tuple) -> tuple:
        u = I.user()
        return (READY, s[HIST] + (u,), s[QUEUE] + (u,), s[FILE], s[TURNS] - 1, s[TURNNO] + 1,
                s[TURNNO] == 0, 0, False, 0, (), 0, s[NEXT], s[NEXT], None, self.p.retries, -1,
                s[USED], False)

    # SendRequest / RefuseRequest: run_turn -> try_run_turn; 400 is InvalidRequest, never retried.
    def _send(self, s: tuple) -> tuple:
        r = self.request(s)
        if r.rejections and self.d.validate_before_send:
            return ("RefuseRequest", None, self._end_turn(s))
        if r.rejections:
            if self.d.retry_rejected:
                return ("SendRequest", "rejected", s)
            return ("SendRequest", "rejected", self._end_turn(s))
        prompt = s[PROMPT] if s[PROMPT] >= 0 else len(s[HIST])
        return ("SendRequest", "accepted", _set(s, {PH: STREAM, NCALLS: 0, REASONED: False, TEXT: 0,
                                                    INFL: (), DRAINED: 0, BASE: s[NEXT], PROMPT: prompt,
                                                    EXIT: None, PTEXT: False}))

    def _end_turn(self, s: tuple) -> tuple:
        return _set(s, {PH: IDLE, CALLS_OK: False, NCALLS: 0, REASONED: False, TEXT: 0, INFL: (),
                        DRAINED: 0, EXIT: None, RETRY: self.p.retries, PROMPT: -1, PTEXT: False})

    def _record(self, s: tuple, *items: tuple) -> dict:
        return {HIST: s[HIST] + items, QUEUE: s[QUEUE] + items}

    def _stream_actions(self, s: tuple, out: list) -> None:
        d = self.d
        text = s[TEXT]
        if not s[CALLS_OK]:
            # A response that cannot carry calls records at most a text item after every output,
            # which no pairing rule can see; faults there only decide whether that text is kept.
            out.append(("StreamCompleted", None, self._completed(s)))
            return
        if text != 2:  # held text ends the stream: only Completed (or a fault) can follow
            if s[CALLS_OK] and not s[REASONED] and s[NCALLS] == 0 and text == 0:
                # handle_output_item_done records reasoning at once
                out.append(("StreamReasoning", None, _set(s, {REASONED: True, **self._record(s, I.reasoning())})))
            if text == 0 and self.p.text:
                if d.text_lands == "as-streamed":
                    out.append(("StreamText", None, _set(s, {TEXT: 1, **self._record(s, I.text())})))
                else:  # sse/chat.rs: aggregated text is emitted when the stream ends
                    out.append(("StreamText", None, _set(s, {TEXT: 2})))
            if s[CALLS_OK] and s[NCALLS] < self.p.calls:
                # handle_output_item_done: record the call, spawn its tool, push to in_flight
                c = I.call(s[NEXT])
                out.append(("StreamToolCall", s[NCALLS] + 1,
                            _set(s, {NCALLS: s[NCALLS] + 1, INFL: s[INFL] + (RUNNING,), NEXT: s[NEXT] + 1,
                                     **self._record(s, c)})))
        out.append(("StreamCompleted", None, self._completed(s)))
        used = s[USED]
        if self._may(used, B_STREAM_ERROR):
            out.append(("StreamError", None, self._stream_error(s)))
        if self._may(used, B_STREAM_CLOSED):
            # `break Err(Stream(..))`: leaves the loop, so the drain runs, then run_turn retries
            t = _set(s, {PH: DRAIN, EXIT: "error", PTEXT: False, USED: used | FAULT_BIT["stream-closed"]})
            out.append(("StreamClosed", None, self._after_drain(t)))
        if self._may(used, B_INTERRUPT):
            out.append(("Interrupt", None, self._interrupt(s)))

    # StreamCompleted: `Completed -> break Ok`; then drain_in_flight; follow up if calls were made.
    def _completed(self, s: tuple) -> tuple:
        held = s[TEXT] == 2
        if held and not self.d.drain_before_completed:
            s = _set(s, self._record(s, I.text()))
            held = False
        t = _set(s, {PH: DRAIN, EXIT: "completed", CALLS_OK: False, PTEXT: held})
        return self._after_drain(t)

    # StreamError: v0.77 `res?` returns at once: in_flight is dropped (tools aborted, no outputs).
    def _stream_error(self, s: tuple) -> tuple:
        used = s[USED] | FAULT_BIT["stream-error"]
        if self.d.drain_on_stream_error:
            return self._after_drain(_set(s, {PH: DRAIN, EXIT: "error", PTEXT: False, USED: used}))
        s = _set(s, {USED: used, **self._lose_in_flight(s)})
        return self._retry_or_end(s)

    def _lose_in_flight(self, s: tuple) -> dict:
        """The calls not yet drained get no output (or a recorded synthetic one, per design)."""
        infl, k = s[INFL], s[DRAINED]
        if self.d.persist_synthetic and k < len(infl):
            lost = tuple(I.output(s[BASE] + i, I.SYNTHETIC) for i in range(k, len(infl)))
            return {INFL: (), DRAINED: 0, **self._record(s, *lost)}
        return {INFL: (), DRAINED: 0}

    def _retry_or_end(self, s: tuple) -> tuple:
        if s[RETRY] > 0:
            prompt = s[PROMPT] if self.d.retry_prompt == "reuse" else -1
            return _set(s, {PH: READY, RETRY: s[RETRY] - 1, PROMPT: prompt, EXIT: None, PTEXT: False,
                            NCALLS: 0, REASONED: False, TEXT: 0})
        return self._end_turn(s)  # retries exhausted: an Error event, the turn ends

    def _interrupt(self, s: tuple) -> tuple:
        # handle_task_abort: cancel the token; the task stops polling the stream and drains
        return _set(s, {PH: CANCEL, PTEXT: False, USED: s[USED] | FAULT_BIT["interrupt"]})

    def _after_drain(self, s: tuple) -> tuple:
        """When the drain has recorded every output, leave the drain (folded into the last step)."""
        if s[DRAINED] < len(s[INFL]) or s[PH] == CANCEL:
            return s
        ex = s[EXIT]
        if ex == "completed":
            if s[PTEXT]:
                s = _set(s, self._record(s, I.text()))
            if s[INFL]:  # needs_follow_up: a new run_turn with a prompt from current history
                return _set(s, {PH: READY, INFL: (), DRAINED: 0, PROMPT: -1, RETRY: self.p.retries,
                                EXIT: None, PTEXT: False, NCALLS: 0, REASONED: False, TEXT: 0})
            return self._end_turn(s)
        return self._retry_or_end(_set(s, {INFL: (), DRAINED: 0}))

    def _drain_actions(self, s: tuple, out: list) -> None:
        infl, k = s[INFL], s[DRAINED]
        if k < len(infl):
            head = infl[k]
            cid = s[BASE] + k
            if head == DONE or head == ABORTED:
                o = I.output(cid, I.OK if head == DONE else I.USER_ABORT)
                out.append(("DrainOutput", cid, self._after_drain(_set(s, {DRAINED: k + 1, **self._record(s, o)}))))
            elif head == FAILED:  # "a future that fails is logged and its call gets no output"
                rec = self._record(s, I.output(cid, I.SYNTHETIC)) if self.d.persist_synthetic else {}
                out.append(("DrainFailed", cid, self._after_drain(_set(s, {DRAINED: k + 1, **rec}))))
            if s[PH] == CANCEL and self.d.hard_abort_drain:
                # the 100 ms grace ran out before the drain finished: the task is aborted
                out.append(("HardAbort", None, _set(s, self._lose_in_flight(s))))
        elif s[PH] == CANCEL:
            # handle_task_abort persists TurnAborted; run_task ends silently
            ev = TURN_ABORTED
            out.append(("TurnAborted", None, _set(s, {PH: IDLE, QUEUE: s[QUEUE] + (ev,), INFL: (), DRAINED: 0,
                                                      TURNS: max(1, s[TURNS]), CALLS_OK: False, NCALLS: 0,
                                                      REASONED: False, TEXT: 0, EXIT: None,
                                                      RETRY: self.p.retries, PROMPT: -1, PTEXT: False})))

    def _tool_actions(self, s: tuple, out: list) -> None:
        infl = s[INFL]
        cancel = s[PH] == CANCEL
        fail_ok = self._may(s[USED], B_TOOL_FAILURE)
        if self.p.reduce:  # only the head of the drain resolves (its completion time is unobservable)
            if s[PH] == STREAM or s[DRAINED] >= len(infl):
                return
            idx = (s[DRAINED],)
        else:
            idx = range(len(infl))
        for i in idx:
            st = infl[i]
            if st != RUNNING:
                continue
            cid = s[BASE] + i
            out.append(("ToolFinish", cid, _set(s, {INFL: infl[:i] + (DONE,) + infl[i + 1:]})))
            if cancel:  # tools/parallel.rs: the tool races the cancellation token
                out.append(("ToolAbort", cid, _set(s, {INFL: infl[:i] + (ABORTED,) + infl[i + 1:]})))
            if fail_ok:
                out.append(("ToolFail", cid, _set(s, {INFL: infl[:i] + (FAILED,) + infl[i + 1:],
                                                      USED: s[USED] | FAULT_BIT["tool-failure"]})))

    # Crash: the process dies; memory, tasks and queued lines are gone; k queued lines had been written.
    def _crash(self, s: tuple, k: int) -> tuple:
        return (DOWN, (), (), s[FILE] + s[QUEUE][:k], s[TURNS], s[TURNNO], False, 0, False, 0, (), 0,
                s[NEXT], s[NEXT], None, self.p.retries, -1, s[USED] | FAULT_BIT["crash"], False)

    # Resume: replay response_items from the rollout into a fresh history, then normalize (in memory).
    def _resume(self, s: tuple, files: tuple) -> tuple:
        hist = normalize(files, self.d.normalization)
        queue: tuple = ()
        if self.d.persist_synthetic:
            queue = tuple(it for it in hist if it[0] == I.OUTPUT and it[2] in I.MADE_UP and it not in files)
        return (IDLE, hist, queue, s[FILE], max(1, s[TURNS]), s[TURNNO], False, 0, False, 0, (), 0,
                s[NEXT], s[NEXT], None, self.p.retries, -1, s[USED], False)


def _set(s: tuple, changes: dict) -> tuple:
    """``s`` with some fields replaced (the one place states are copied)."""
    lst = list(s)
    for k in changes:
        lst[k] = changes[k]
    return tuple(lst)


def is_turn_over(s: tuple) -> bool:
    """Control is back with the user (or the session has ended for good)."""
    return s[PH] in (IDLE, REFUSED)


# Every action, the codex-rs place it stands for, its guard and its effect (docs/SPEC.md is made
# from this table). `fault` marks the environment's misbehaviour: liveness does not rely on it.
ACTIONS: dict[str, dict] = {
    "UserMessage": dict(
        cites="core/src/codex.rs run_task", fault=False,
        guard="the session is idle and the user has a turn left",
        effect="the user message is recorded (history, then the rollout channel); a turn starts"),
    "SendRequest": dict(
        cites="core/src/codex.rs run_turn / try_run_turn; codex-api/src/requests/chat.rs ChatRequestBuilder::build",
        fault=False,
        guard="a request is due (new turn, follow-up after tool outputs, or a retry)",
        effect="the prompt is a normalized clone of history (a v0.77 retry reuses the first attempt's "
               "prompt), built for the wire and judged by the provider; accepted: the stream starts; "
               "rejected (HTTP 400, InvalidRequest): the turn ends with an error, nothing is retried"),
    "RefuseRequest": dict(
        cites="seed fix 2 (validate before send)", fault=False,
        guard="a request is due and the local check finds it would be rejected",
        effect="nothing is sent; the turn ends with an error"),
    "StreamReasoning": dict(
        cites="core/src/stream_events_utils.rs handle_output_item_done", fault=False,
        guard="streaming, first item of a response that may carry calls",
        effect="a reasoning item is recorded"),
    "StreamText": dict(
        cites="core/src/stream_events_utils.rs handle_output_item_done; codex-api/src/sse/chat.rs", fault=False,
        guard="streaming, no text yet in this response",
        effect="as-streamed: the assistant message is recorded at once; at-completed (chat aggregated "
               "mode): it is held and recorded when the stream completes, after any calls"),
    "StreamToolCall": dict(
        cites="core/src/stream_events_utils.rs handle_output_item_done; core/src/tools/parallel.rs",
        fault=False,
        guard="streaming, the response may carry calls and has fewer than N",
        effect="the call is recorded, its tool starts, its future goes to the back of in_flight (FuturesOrdered)"),
    "StreamCompleted": dict(
        cites="core/src/codex.rs try_run_turn (Completed -> break Ok)", fault=False,
        guard="streaming",
        effect="held text is recorded (after the drain under seed fix 1); drain_in_flight runs; with "
               "calls a follow-up request is due, without the turn ends"),
    "StreamError": dict(
        cites="core/src/codex.rs try_run_turn (`Some(res) => res?`); a5783f90c", fault=True,
        guard="streaming, fault enabled",
        effect="v0.77: returns at once, in_flight is dropped and its tools aborted, no outputs; with "
               "drain_on_stream_error the drain runs first; then run_turn retries or the turn ends"),
    "StreamClosed": dict(
        cites="core/src/codex.rs try_run_turn (`break Err(Stream(..))`)", fault=True,
        guard="streaming, fault enabled",
        effect="the loop breaks, drain_in_flight runs, then run_turn retries or the turn ends (on the "
               "chat wire calls reach the loop only at finish_reason, so a close after a call falls "
               "between the finish chunk and [DONE]: narrow, but real)"),
    "ToolFinish": dict(
        cites="core/src/tools/parallel.rs (tool task)", fault=False,
        guard="the tool is running", effect="its future is ready with an output"),
    "ToolFail": dict(
        cites="core/src/codex.rs drain_in_flight (future error is logged)", fault=True,
        guard="the tool is running, fault enabled", effect="its future resolves to an error"),
    "ToolAbort": dict(
        cites="core/src/tools/parallel.rs (cancellation token race)", fault=False,
        guard="the tool is running and the turn is cancelled",
        effect="its future is ready with \"aborted by user\""),
    "DrainOutput": dict(
        cites="core/src/codex.rs drain_in_flight", fault=False,
        guard="draining, and the head of in_flight has finished",
        effect="the head's output is recorded (call order, not completion order)"),
    "DrainFailed": dict(
        cites="core/src/codex.rs drain_in_flight", fault=False,
        guard="draining, and the head of in_flight failed",
        effect="logged; no output (a synthetic one is recorded if the design persists them)"),
    "Interrupt": dict(
        cites="core/src/tasks/mod.rs handle_task_abort", fault=True,
        guard="streaming or draining, fault enabled",
        effect="the cancellation token fires; the stream is no longer read; the drain continues"),
    "HardAbort": dict(
        cites="core/src/tasks/mod.rs handle_task_abort (GRACEFULL_INTERRUPTION_TIMEOUT_MS = 100)", fault=False,
        guard="cancelled, the drain is unfinished when the 100 ms grace runs out, and the design allows it",
        effect="the task is aborted: calls not yet drained get no output (or recorded synthetic ones)"),
    "TurnAborted": dict(
        cites="core/src/tasks/mod.rs handle_task_abort", fault=False,
        guard="cancelled and the task has ended",
        effect="a turn_aborted event is persisted (not a history item); the session is idle"),
    "Crash": dict(
        cites="core/src/rollout/recorder.rs (channel to the writer task, no fsync)", fault=True,
        guard="the process is alive, fault enabled; argument k: queued lines the writer had written",
        effect="memory, tasks and the channel are lost; the file keeps what was written (a clean exit "
               "is Crash with k = all queued lines)"),
    "Resume": dict(
        cites="core/src/rollout/recorder.rs; core/src/context_manager/normalize.rs", fault=False,
        guard="the process was restarted", effect="history is rebuilt from the file's response_items "
        "and normalized in memory (synthetic results are also recorded if the design persists them)"),
    "ResumeRefused": dict(
        cites="seed fix 3", fault=False,
        guard="the process was restarted and the file has a call without output",
        effect="the session is not resumed: it can never send again"),
}
