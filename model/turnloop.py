"""The Codex turn loop as a state machine: one session, every interleaving of stream, tools,
user, writer and machine.

The module reads top to bottom as the specification: the faults, the state (``State``: every
field with its type and a sentence), the named resets, then ``TurnLoop`` with one method per
action, named as the action, whose docstring says its guard and its effect and whose ``@action``
decorator carries the codex-rs function it stands for and the fault that enables it (``ACTIONS``,
and so docs/SPEC.md, is read from these), the phase table (which actions each phase asks, in a
fixed order) and ``successors``, a loop over that table. States are plain tuples in ``State``'s
field order (hashing and copying tuples is what keeps the search fast); the three item sequences
(history, queue, file) are interned ``Seq`` values (seq.py) that read like tuples and hash by
identity, so a state hashes in time independent of its history; ``State(*s)`` is the read-only
view for code outside the search. Parameters (how many parallel calls, turns, which
faults) live in ``Params``; design choices in ``Design`` (designs.py).

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
  which a design may forbid. ``TurnAborted`` persists the event (v0.122 also records a
  ``<turn_aborted>`` user message: knob ``turn_aborted_marker``; it lands after the drained
  outputs, where no pairing rule sees it, so it changes no verdict of the named designs, and v0.122
  flushes the rollout before the event, which only narrows where a crash can land: not modelled).
- A stream that ends early is what the design's parser makes of it (knob ``early_close``): the
  chat parser completes (StreamClosed then is StreamCompleted, and no fault), the Responses parser
  sends an error (StreamClosed then is the session's stream error, counted as one). Faults are
  counted by what the loop sees. The bare ``None => break Err(Stream(..))`` of try_run_turn, which
  drains and retries, is reachable with neither parser (only if the parser task dies), so it is
  the third value, ``closed``, used by no named design.
- Tools that had finished when a stream error drops in_flight lose their real results
  (``unrecorded``, judged by results-recorded at the next request); a crash and a hard abort are
  excused (properties.py says why).
- How likely a fault is: each fault step names the real event it stands for (``Action.event``,
  ``TurnLoop.event``): a tool future fails only on FunctionCallError::Fatal or a panic, a hard abort
  is a timing race, an early close is whatever the parser makes of it.
- Chat-builder details that can change a verdict are in wire.py: the Codex groupings skip an
  assistant text equal to the last one (requests/chat.rs :175-182). Every modelled text is a new
  text, so only an empty message (knob ``empty_content_with_calls``: raw reasoning shown and a
  provider that streams ``"content": ""`` beside calls) can repeat; the first such message already
  splits its calls from their results, which is what the model reports.
- Bounds: in the session's first turn, the first ``rounds`` responses may carry calls: the first
  response (up to ``calls`` parallel calls, with reasoning and text) and each follow-up after a
  drain while rounds are left, a later round with one call and no text or reasoning (a retry stays
  in its round). What a later round adds is its meeting with what earlier rounds left behind (a
  synthetic "aborted", an unanswered call, results recorded after a prompt was built) and, when a
  chat provider omits call ids (knob ``call_ids``: chat.rs's ``tool-call-{index}`` restarts every
  response), an id that collides with an earlier one; one call shows both. Text and more calls in
  a later round only change that round's own group, which every pairing rule judges by itself,
  the way it judges the first round's. Other responses complete with no items, as a text item
  after every output is invisible to every pairing rule, and so are faults in a stream that
  cannot carry calls. Each kind of fault happens at most once per session and at most
  ``max_faults`` (2) in all: every counterexample the matrix finds needs at most two, stream
  errors are retried ``retries`` times (Codex: 5; every retry is the same step), and after a
  crash or an interrupt the user always gets one more turn, so `resumable` is decided inside
  the bound.

Three reductions, on by default (``Params.reduce``), off for conformance and for the cross-check
test that compares verdicts with and without them:

- Tools resolve only when they reach the head of the drain. FuturesOrdered makes completion order
  unobservable: an output is recorded only when its call is the head, and the outcomes a tool can
  have at that moment (done, failed, or aborted by user once cancelled) are the same as if it had
  resolved earlier. Only two steps read a tool's status outside the drain: a crash and a hard
  abort drop every undrained future whatever its state, and a stream error without the drain
  drops them too, but results-recorded asks whether one had finished; reduced, that step has two
  outcomes, none had finished or one had (standing for any nonempty set: the verdict only asks
  whether the set is empty), and ``concretize`` turns the second back into ToolFinish steps.
- A crash finds the writer caught up (k = all queued lines). Crashing at a later state with the
  writer k lines behind ends in the same file as crashing at the earlier state where the k-th line
  was recorded, with the writer caught up; from there, the later state's session has no more turns
  left, no fewer faults used and the same history, so everything it can do the earlier one can.
- Once the turn is cancelled, a tool still running at the head of the drain answers "aborted by
  user" (ToolAbort) or fails (ToolFail), and does not finish (ToolFinish). Finishing in that race
  instead records the same call's result tagged ok rather than aborted-by-user, and nothing else
  differs: both are real results (items.is_real_output), and the normalizations, the removal
  cuts, the chat groupings and every provider rule read a result's kind and id, never its text
  (wire.py gives both a nonempty one), while the properties compare results as values. With
  provider call ids, unique in a session, retagging that one result throughout a run maps each
  run through ToolFinish onto a run through ToolAbort of the same length with the same verdict at
  every step, and back (a bisimulation), so no verdict or shortest length changes. Off for the
  designs that read tags: one that truncates results (TruncateOutput takes only an ok one), one
  with code hooks, and chat.rs's index ids (tool-call-0 in every response, so two results could
  become equal). ToolAbort is the branch kept because it is what Codex does: when the token fires,
  every pending tool answers at once (rust-v0.77.0 codex-rs/core/src/tools/parallel.rs:73-78).
  turnproof-proposed, every fault, calls 8: 1,125,511 states without it, 338,759 with it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache, partial
from operator import itemgetter
from typing import Annotated, Any, Callable, Mapping, NamedTuple, get_type_hints

from . import items as I
from .designs import Design
from .normalize import normalize, unanswered_calls
from .provider import Rejection, chat_items_accepted, judge, responses_items_accepted
from .removal import PROMPT, REMOTE, cuts, trimmed_requests
from .seq import EMPTY, Seq, seq
from .wire import build_request

# The items the model records, each made once: a search records the same few hundred items hundreds
# of thousands of times, and one object each keeps the trie's nodes and the requests small
_user, _text, _reasoning, _call, _output = (lru_cache(maxsize=None)(f)
                                            for f in (I.user, I.text, I.reasoning, I.call, I.output))

# ---- faults: the environment's misbehaviour, each enabling one action (``@action(fault=...)``) ----
# compaction and rollback are events of the environment too (the context window fills up, the user
# asks): each happens at most once per session, counts as a fault, and only in designs that have it
FAULTS = ("stream-error", "stream-closed", "tool-failure", "interrupt", "crash", "compaction", "rollback")
FAULT_BIT = {f: 1 << i for i, f in enumerate(FAULTS)}  # faults_used is a bit set in this order
STREAM_ERROR, STREAM_CLOSED, TOOL_FAILURE, INTERRUPT, CRASH, COMPACTION, ROLLBACK = (FAULT_BIT[f] for f in FAULTS)
REMOVAL_FAULTS = ("compaction", "rollback")

# ---- the values a field takes ---------------------------------------------------------------------
# phase
IDLE, READY, STREAM, DRAIN, CANCEL, DOWN, REFUSED = (
    "idle", "ready", "stream", "drain", "cancel", "down", "refused")
PHASES = (IDLE, READY, STREAM, DRAIN, CANCEL, DOWN, REFUSED)
# text: the assistant text of the current response
NO_TEXT, TEXT_RECORDED, TEXT_HELD = 0, 1, 2
# prompt_len before a first attempt has built a prompt
NO_PROMPT = -1
# exit: why the stream loop ended (None while it runs)
LOOP_COMPLETED, LOOP_ERROR = "completed", "error"
# in_flight: the status of each tool future
RUNNING, DONE, FAILED, ABORTED = "running", "done", "failed", "aborted"
# the turn_aborted event line: in the rollout, never in history
TURN_ABORTED = ("turn_aborted", None, None)


# ---- the state --------------------------------------------------------------------------------
class State(NamedTuple):
    """One state of the session. The search keeps states as plain tuples in this field order;
    ``State(*s)`` is a read-only view with names, for code outside the search."""

    phase: Annotated[str, "where the session is: idle, ready (a request is due), stream, drain, cancel "
                          "(interrupted, still draining), down (crashed), refused (resume refused for good)"]
    history: Annotated[Seq, "the history items in memory (the context manager), in record order"]
    queue: Annotated[Seq, "items recorded but not yet known to be on disk: the rollout writer's channel "
                          "(and turn_aborted events)"]
    file: Annotated[Seq, "the rollout file: what the writer has written"]
    turns_left: Annotated[int, "user turns still to come"]
    turn_no: Annotated[int, "user turns taken so far"]
    calls_ok: Annotated[bool, "the response being streamed may carry tool calls (the bound: only the "
                              "first turn's first `rounds` responses and their retries do)"]
    ncalls: Annotated[int, "calls streamed in the current response"]
    reasoned: Annotated[bool, "a reasoning item was streamed in the current response"]
    text: Annotated[int, "assistant text of the current response: 0 none, 1 recorded, 2 held until the "
                         "stream completes"]
    in_flight: Annotated[tuple, "one status per spawned tool future, in push order (FuturesOrdered): "
                                "running, done, failed or aborted"]
    drained: Annotated[int, "how many futures at the head of in_flight the drain has taken"]
    base_id: Annotated[int, "the call id of in_flight's first future"]
    next_id: Annotated[int, "the id the next call gets"]
    exit: Annotated[str | None, "why the stream loop ended: completed, error, or unset"]
    retries_left: Annotated[int, "stream retries left for the current request"]
    prompt_len: Annotated[int, "how much of history the first attempt's prompt was built from (-1: none "
                               "yet); a v0.77 retry reuses it"]
    faults_used: Annotated[int, "the faults that have happened so far (each kind at most once)"]
    text_after_drain: Annotated[bool, "held assistant text to record once the drain ends (seed fix 1)"]
    rounds_left: Annotated[int, "responses that may still carry calls in this turn, the one being streamed "
                                "included (first turn only; 0 otherwise)"]
    unrecorded: Annotated[tuple, "ids of tools that had finished when their futures were dropped (a stream "
                                 "error without the drain), since the last request was sent: their real "
                                 "results were never recorded (results-recorded)"]



FIELD_NAMES = State._fields
FIELD_MEANING: dict[str, str] = {name: hint.__metadata__[0]
                                 for name, hint in get_type_hints(State, include_extras=True).items()}

# a tool future's status as a small int (successors' cache key)
_STATUS_CODE = {RUNNING: 1, DONE: 2, FAILED: 3, ABORTED: 4}

# the index of each field in a state tuple (the search reads ``s[PHASE]``, not ``s.phase``)
(PHASE, HISTORY, QUEUE, FILE, TURNS_LEFT, TURN_NO, CALLS_OK, NCALLS, REASONED, TEXT, IN_FLIGHT, DRAINED,
 BASE_ID, NEXT_ID, EXIT, RETRIES_LEFT, PROMPT_LEN, FAULTS_USED, TEXT_AFTER_DRAIN, ROUNDS_LEFT,
 UNRECORDED) = range(len(FIELD_NAMES))
assert all(globals()[name.upper()] == i for i, name in enumerate(FIELD_NAMES)), "index constants out of order"

# ---- the named resets -------------------------------------------------------------------------
# a new attempt at a response: nothing of it streamed yet
RESPONSE_RESET = {NCALLS: 0, REASONED: False, TEXT: NO_TEXT, EXIT: None, TEXT_AFTER_DRAIN: False}
# a new request: no tool futures either (spawned or drained)
REQUEST_RESET = {**RESPONSE_RESET, IN_FLIGHT: (), DRAINED: 0}
# the turn is over: the next response comes with a new turn (and retries_left is reset to
# Params.retries, which TurnLoop adds)
TURN_RESET = {**REQUEST_RESET, CALLS_OK: False, PROMPT_LEN: NO_PROMPT, ROUNDS_LEFT: 0}

_KEEP = object()


def compile_reset(reset: Mapping[int, object]) -> Callable[..., tuple]:
    """``f(s, **fields)``: the state ``s`` with ``reset`` applied, then ``fields`` (by field name).

    Compiled once into a single tuple display, as namedtuple compiles its constructor: resets run
    on a large share of the steps, and a copy through a dict costs several times as much."""
    params, parts = [], []
    env: dict = {"_KEEP": _KEEP}
    for i, name in enumerate(FIELD_NAMES):
        if i in reset:
            env[f"_{name}"] = reset[i]
            params.append(f"{name}=_{name}")
            parts.append(name)
        else:
            params.append(f"{name}=_KEEP")
            parts.append(f"s[{i}] if {name} is _KEEP else {name}")
    exec(f"def reset(s, *, {', '.join(params)}):\n    return ({', '.join(parts)},)\n", env)
    return env["reset"]


def _set(s: tuple, changes: dict) -> tuple:
    """``s`` with some fields replaced (the one place states are copied)."""
    lst = list(s)
    for k, v in changes.items():
        lst[k] = v
    return tuple(lst)


# TurnLoop.pack's key is (history, queue, file, in_flight, control id), the control tuple the other
# fields in order: taken by one itemgetter, put back by one tuple display (both compiled once)
_KEY_FIELDS = (HISTORY, QUEUE, FILE, IN_FLIGHT)
_CONTROL_FIELDS = tuple(i for i in range(len(FIELD_NAMES)) if i not in _KEY_FIELDS)
_control = itemgetter(*_CONTROL_FIELDS)
_env: dict = {}
exec("def _unpacked(k, c):\n    return (" + ", ".join(
    f"k[{_KEY_FIELDS.index(i)}]" if i in _KEY_FIELDS else f"c[{_CONTROL_FIELDS.index(i)}]"
    for i in range(len(FIELD_NAMES))) + ",)\n", _env)
_unpacked: Callable[[tuple, tuple], tuple] = _env["_unpacked"]


def _first(f: Callable, *args: object) -> Any:
    return f(*args)[0]


def _build_request_for(wire: str, grouping: str, provider: str | None, items: tuple) -> list[dict]:
    return build_request(items, wire, grouping, provider)


def drop_last_user_turns(hist: tuple, n: int) -> tuple:
    """drop_last_n_user_turns: history cut before the n-th user turn from the end (rust-v0.79.0
    codex-rs/core/src/context_manager/history.rs:167-189; rust-v0.122.0 :240-263)."""
    starts = [i for i, it in enumerate(hist) if I.is_rollback_boundary(it)]
    return hist[:starts[-n]] if 0 < n <= len(starts) else hist


def replay(lines: tuple | Seq) -> tuple:
    """History rebuilt from rollout lines: items are appended, a `compacted` line replaces history
    with its replacement, a `thread_rolled_back` line drops the last n user turns, turn_aborted
    events are skipped (rust-v0.78.0 codex-rs/core/src/codex.rs:1193-1226; rust-v0.122.0
    codex-rs/core/src/session/rollout_reconstruction.rs:110-133,236-284)."""
    if not any(it[0] in _MARKERS for it in lines):
        return tuple(it for it in lines if it[0] != "turn_aborted")
    hist: tuple = ()
    for it in lines:
        if it[0] == I.COMPACTED:
            hist = it[2]
        elif it[0] == I.ROLLED_BACK:
            hist = drop_last_user_turns(hist, it[2])
        elif it[0] != "turn_aborted":
            hist += (it,)
    return hist


_MARKERS = frozenset((I.COMPACTED, I.ROLLED_BACK))


def _response_items(s: tuple) -> tuple:
    """The history the rollout file resumes to (turn_aborted events are not replayed)."""
    return replay(s[FILE])


def cancel_reduction_applies(design: Design, params: Params) -> bool:
    """Whether the third reduction (the module docstring) is on: reduced, and the design reads no
    result's tag (no truncation, no code hooks, provider call ids)."""
    return params.reduce and not design.truncate_outputs and not design.hooks and design.call_ids == "provider"


def is_turn_over(s: tuple) -> bool:
    """Control is back with the user (or the session has ended for good)."""
    return s[PHASE] in (IDLE, REFUSED)


def param(default: object, doc: str, bounds: tuple[int, int] | None = None, flag: str = "") -> Any:
    """A bound of the search: its default, what it means, and for a number its range and option."""
    return field(default=default, metadata={"doc": doc, "bounds": bounds, "flag": flag})


@dataclass(frozen=True)
class Params:
    """The bounds of one search (``turnproof check`` options); docs/SPEC.md renders the metadata."""

    calls: int = param(3, "parallel tool calls the first response may carry (`--calls`)", (1, 8), "--calls")
    turns: int = param(2, "user turns (`--turns`); a crash or an interrupt always grants one more", (1, 4),
                       "--turns")
    faults: frozenset = field(default_factory=lambda: frozenset(FAULTS),
                              metadata={"doc": "the faults that may happen (`--faults`)"})
    retries: int = param(1, "stream retries per request (`--retries`; Codex: stream_max_retries = 5)", (0, 5),
                         "--retries")
    max_faults: int = param(2, "faults per session, each kind at most once (`--max-faults`)", (0, len(FAULTS)),
                            "--max-faults")
    text: bool = param(True, "a response with calls may also carry assistant text (`--no-text` turns it off)")
    rounds: int = param(2, "responses with calls in the first turn: the first, then each follow-up after the "
                           "drain while rounds are left (a retry stays in its round); later rounds carry one "
                           "call and no text (`--rounds`)", (1, 4), "--rounds")
    # Sound reductions for the search (argued in the module docstring); conformance tests and the
    # cross-check test run with reduce=False.
    reduce: bool = param(True, "the three sound reductions below (`--no-reduce` turns them off)")

    def __post_init__(self) -> None:
        for f in fields(self):
            bounds = f.metadata.get("bounds")
            value = getattr(self, f.name)
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise ValueError(f"{f.metadata['flag']} must be between {bounds[0]} and {bounds[1]}, not {value}")
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


@dataclass(frozen=True, slots=True)  # tens of thousands per search: no __dict__ each
class Request:
    """What a SendRequest step sent (or, for RefuseRequest, would have sent)."""

    items: tuple  # the normalized history
    rejected: bool  # the provider's rules find something wrong with it (``rejections`` says what)
    # builds the body again: a search judges tens of thousands of requests, and their bodies (lists
    # of dicts) were most of its memory; only a report reads one
    make_body: Callable[[tuple], list] = field(repr=False, compare=False)  # the model's builder, one for all
    source: tuple = field(default=(), repr=False, compare=False)  # the items it builds the body from
    # the properties' verdicts on it, filled by properties.TurnLoopSpec.judge (judged once per request)
    verdicts: dict = field(default_factory=dict, repr=False, compare=False)
    # the provider's rules on a body: a search decides most requests without building their bodies
    # (TurnLoop._accepts), so a rejection's words are found only when something reads them
    judge_body: Callable[[list], list] | None = field(default=None, repr=False, compare=False)

    @property
    def body(self) -> list:
        """As built for the wire."""
        return self.make_body(self.source)

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        """What the provider finds wrong with it, in its own words (empty if accepted)."""
        if not self.rejected:
            return ()
        got = self.verdicts.get(_REJECTIONS)
        if got is None:
            assert self.judge_body is not None
            got = self.verdicts[_REJECTIONS] = tuple(self.judge_body(self.body))
        return got


def _int_ids(items: tuple) -> bool:
    """Every call and result in ``items`` has an int id (the model's own; a hook's may not)."""
    return all(type(it[1]) is int for it in items if it[0] == I.CALL or it[0] == I.OUTPUT)


_REJECTIONS = ("rejections",)  # where a Request keeps its rejections, beside the properties' verdicts


# ---- actions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """One action of the state machine, as the spec documents it (read from its method)."""

    name: str
    cites: str  # the codex-rs place it stands for
    fault: str | None  # the fault (FAULTS) that enables it; None for the loop's own steps
    guard: str
    effect: str
    # a boolean knob of the design (or flag of Params) without which the action never happens
    needs: str | None = None
    # for the environment's steps (faults, and the hard abort): the real event the step stands for
    # and how likely it is (TurnLoop.event gives the design's own, where that depends on a knob)
    event: str | None = None


def action(cites: str, fault: str | None = None, needs: str | None = None, event: str | None = None) -> Callable:
    """Marks a TurnLoop method as the action of the same name, citing its codex-rs source."""

    def mark(method: Callable) -> Callable:
        method.action_info = (cites, fault, needs, event)  # type: ignore[attr-defined]
        return method

    return mark


class CompactArg(NamedTuple):
    """A Compact step's argument: where it cut, and, when a summary request is sent, how many
    context-window errors trimmed it (None: no request) and whether the provider accepted it."""

    cut: str
    trimmed: int | None = None
    accepted: bool = True

    def __str__(self) -> str:
        if self.trimmed is None:
            return self.cut
        req = "summary request" + (f" trimmed {self.trimmed}" if self.trimmed else "")
        return f"{self.cut}; {req}" if self.accepted else f"{req} rejected"


# What an early close is, per the design's early_close knob (StreamClosed's event)
CLOSE_EVENTS = {
    "completed": "the connection closed before the response was complete; the chat parser completes "
                 "(flush_and_complete), so this is StreamCompleted (rust-v0.78.0 "
                 "codex-rs/codex-api/src/sse/chat.rs:112-117)",
    "error": "the connection closed before response.completed; the Responses parser sends an error "
             "event, so this is a stream error (rust-v0.77.0 codex-rs/codex-api/src/sse/responses.rs:163-168)",
    "closed": "the event channel ended with no last event (`None => break Err(Stream(..))`, rust-v0.77.0 "
              "codex-rs/core/src/codex.rs:2573-2578): only a parser task that dies does this",
}


class TurnLoop:
    """The model: ``init_states`` and ``successors`` (the phase table's actions, in order)."""

    def __init__(self, design: Design, params: Params):
        self.d = design
        self.p = params
        enabled = sum(FAULT_BIT[f] for f in params.faults)
        # the faults that can still happen, given those used: enabled, each kind once, max_faults
        self.allowed = tuple(enabled & ~used if used.bit_count() < params.max_faults else 0
                             for used in range(1 << len(FAULTS)))
        self.turn_reset = compile_reset({**TURN_RESET, RETRIES_LEFT: params.retries})
        self.request_reset = compile_reset(REQUEST_RESET)
        self.response_reset = compile_reset(RESPONSE_RESET)
        # The phase table, bound to this model. Left out, because their guards would refuse them
        # in every state: an action whose fault is not enabled or whose knob is off, and, reduced,
        # the tools while streaming (only the head of the drain resolves).
        never = {a.name for a in ACTIONS.values()
                 if (a.fault and not enabled & FAULT_BIT[a.fault])
                 or (a.needs and not getattr(design, a.needs, getattr(params, a.needs, None)))}
        # the third reduction (module docstring): once cancelled, a running tool only aborts
        self._cancel_aborts = cancel_reduction_applies(design, params)
        self._table = {ph: tuple(getattr(self, a) for a in names if a not in never
                                 and not (params.reduce and ph == STREAM and a.startswith("Tool")))
                       for ph, names in self.PHASE_TABLE.items()}
        # the code steps of a design with hooks (designs.Hooks), else the knobs' functions
        hooks = design.hooks
        self._repair = (hooks.repair if hooks and hooks.repair
                        else partial(normalize.__wrapped__, mode=design.normalization))  # memoized per history here
        self._build = hooks.build_request if hooks and hooks.build_request else None
        self._on_lost = hooks.on_lost_output if hooks and hooks.on_lost_output else None
        self._req_cache: dict = {}
        # OpenAI's Responses rules on a model history are a comparison of two id sets (provider.py)
        prov = getattr(design, "provider", "default")
        self._provider = None if prov == "default" else prov
        # builds a request's body again when a report asks (a search keeps none: they were most of its memory)
        self._make_body: Callable[[tuple], list] = (
            partial(_first, self._build) if self._build is not None
            else partial(_build_request_for, design.wire, design.chat_grouping, self._provider))
        # OpenAI's rules on a model history, answered without building the body (provider.py)
        self._accepts: Callable[[tuple], bool] | None = None
        if not self._build and prov in ("default", "openai", "azure-openai"):
            if design.wire == "responses":
                self._accepts = responses_items_accepted
            elif design.wire == "chat":
                self._accepts = partial(chat_items_accepted, grouping=design.chat_grouping)
        elif not self._build and prov == "deepseek" and design.wire == "chat":
            self._accepts = partial(chat_items_accepted, grouping=design.chat_grouping)
        self._real_cache: dict = {}  # rollout lines -> their real results (real_results)
        self._resume_cache: dict = {}  # file -> what resuming from it gives (_resumed)
        self._summary_cache: dict = {}  # history -> its summary requests (_summary_requests)
        self._ctrl_id: dict = {}  # (phase, turns_left, ...): its id in _ctrls (pack)
        self._ctrls: list = []  # id -> (phase, turns_left, ... without in_flight)
        self._infl: dict = {}  # in_flight -> itself (pack: equal ones are one tuple)
        self._items_cache: dict = {}
        # successors: (control id, the head of the drain, a future running), packed in an int -> the
        # phase's actions that can fire there (see successors); also each such tuple -> itself
        self._enabled: dict = {}
        self._unpacked: tuple | None = None  # the last state unpack made ...
        self._unpacked_key: tuple = ()  # ... and its key
        self._last_state: tuple | None = None
        self._last_request: Request | None = None

    def init_states(self) -> list[tuple]:
        s = State(phase=IDLE, history=EMPTY, queue=EMPTY, file=EMPTY, turns_left=self.p.turns, turn_no=0,
                  calls_ok=False, ncalls=0, reasoned=False, text=NO_TEXT, in_flight=(), drained=0,
                  base_id=1, next_id=1, exit=None, retries_left=self.p.retries, prompt_len=NO_PROMPT,
                  faults_used=0, text_after_drain=False, rounds_left=0, unrecorded=())
        return [tuple(s)]

    # ---- the state table's compact form (explorer.py) ------------------------------------------
    # A state is 21 fields (a 208-byte tuple), but the fields other than the three item sequences
    # and the tool futures take few combinations (thousands over a search of a million states):
    # those are interned once, and the state table holds (history, queue, file, in_flight, control
    # id), 80 bytes; in_flight, the field that varies most besides the sequences, is interned apart.
    def pack(self, s: tuple) -> tuple:
        """The key the explorer's state table holds for ``s``."""
        c = _control(s)
        cid = self._ctrl_id.get(c)
        if cid is None:
            cid = self._ctrl_id[c] = len(self._ctrls)
            self._ctrls.append(c)
        infl = s[IN_FLIGHT]
        return (s[HISTORY], s[QUEUE], s[FILE], self._infl.setdefault(infl, infl), cid)

    def unpack(self, k: tuple) -> tuple:
        """The state ``pack`` made ``k`` from."""
        s = self._unpacked = _unpacked(k, self._ctrls[k[4]])
        self._unpacked_key = k  # successors(s) reads the control id from it
        return s

    # ---- the request a state sends --------------------------------------------------------------
    def request(self, s: tuple) -> Request:
        """The request SendRequest builds in state ``s`` (run_turn: prompt from a normalized clone)."""
        if s is self._last_state and self._last_request is not None:
            return self._last_request  # SendRequest, its checks and the coverage probe ask in a row
        hist = s[HISTORY]
        if self.d.retry_prompt == "reuse" and s[PROMPT_LEN] != NO_PROMPT:
            hist = hist[: s[PROMPT_LEN]]  # v0.77: a retry reuses the prompt built before attempt 1
        r = self._req_cache.get(hist)
        if r is None:
            r = self._req_cache[hist] = self._judged(self._repair(hist.read()))
        self._last_state, self._last_request = s, r
        return r

    def real_results(self, kept: Seq) -> tuple:
        """The real results among rollout lines ``kept``, in order (results-kept)."""
        cache = self._real_cache
        r = cache.get(kept)
        if r is not None:
            return r
        chain = []  # judged along the trie: a sequence's results are its parent's, plus its last item
        node: Seq | None = kept
        while node is not None and (r := cache.get(node)) is None:
            chain.append(node)
            node = node.parent
        got: tuple = r or ()
        for node in reversed(chain):
            it: Any = node.last
            if node.parent is not None and I.is_real_output(it):
                got += (it,)
        cache[kept] = got  # kept for this sequence only (its descendants walk up to it)
        return got

    def _judged(self, items: tuple) -> Request:
        """The request that carries ``items`` (already normalized), built for the wire and judged."""
        r = self._items_cache.get(items)
        if r is None:
            make = self._make_body
            # judged without building the body (the shortcut's False is a rejection only when every
            # id is an int: a hook's items may carry others)
            accepts = self._accepts if self._build is None else None
            ok = accepts is not None and accepts(items)
            if ok or (accepts is not None and _int_ids(items)):
                r = self._items_cache[items] = Request(items, not ok, make, items, judge_body=self._judge_body)
                return r
            if self._build is not None:  # a build_request hook: judge the items its body carries
                body, sent = self._build(items)
            else:
                body, sent = make(items), items
            rejections = tuple(self._judge_body(body))
            r = Request(sent, bool(rejections), make, items)
            r.verdicts[_REJECTIONS] = rejections
            self._items_cache[items] = r
        return r

    def _judge_body(self, body: list) -> list:
        return judge(self.d.wire, body, self._provider)

    def compact_request(self, s: tuple, trimmed: int) -> Request:
        """The summary request a compaction sends in state ``s`` after ``trimmed`` context-window
        errors: history plus the compact prompt, trimmed (knob compaction_trim), normalized or raw."""
        return self._summary_requests(s[HISTORY])[trimmed]

    def _summary_requests(self, hist: Seq) -> list[Request]:
        """The summary request from ``hist`` after 0, 1, ... context-window errors (once per history)."""
        reqs = self._summary_cache.get(hist)
        if reqs is None:
            norm = self.d.compaction_request == "normalized"
            reqs = self._summary_cache[hist] = [
                self._judged(self._repair(items) if norm else items)
                for _, items in trimmed_requests(hist.read(), self.d.compaction_trim)]
        return reqs

    def request_at(self, s: tuple, action: str, arg: object) -> Request | None:
        """The request a step sends: SendRequest's (and RefuseRequest's), or a compaction's summary
        request (None when the design's compaction sends none)."""
        if action == "Compact":
            if not isinstance(arg, CompactArg) or arg.trimmed is None:
                return None
            return self.compact_request(s, arg.trimmed)
        return self.request(s)

    # ---- effects shared by several actions ----------------------------------------------------
    def _record(self, s: tuple, *items: tuple) -> dict:
        """Record items: to history, then to the rollout writer's channel."""
        return {HISTORY: s[HISTORY] + items, QUEUE: s[QUEUE] + items}

    def _end_turn(self, s: tuple) -> tuple:
        return self.turn_reset(s, phase=IDLE)

    def cid(self, s: tuple, i: int) -> int:
        """The call id of in_flight's i-th future: provider ids count through the session; without
        them (call_ids = index) chat.rs's tool-call-{i}, encoded as -1-i, restarts every response."""
        return -1 - i if self.d.call_ids == "index" else s[BASE_ID] + i

    def event(self, action: str) -> str | None:
        """The real event an environment step (a fault, the hard abort) stands for, in this design."""
        if action == "StreamClosed":
            return CLOSE_EVENTS[self.d.early_close]
        a = ACTIONS.get(action)
        return a.event if a else None

    def _lost_outputs(self, hist: tuple, cids, why: str) -> tuple:
        """What is recorded for calls that lost their output (``why``: failed, stream-error,
        hard-abort, resume): the on_lost_output hook's items, else a synthetic output per call if
        the design persists them, else nothing."""
        if self._on_lost is None:
            return tuple(_output(c, I.SYNTHETIC) for c in cids) if self.d.persist_synthetic else ()
        out: tuple = ()
        for c in cids:
            out += self._on_lost(tuple(hist) + out, c, why)
        return out

    def _lose_in_flight(self, s: tuple, why: str) -> tuple:
        """The calls not yet drained get no output (or what _lost_outputs records)."""
        infl, k = s[IN_FLIGHT], s[DRAINED]
        lost = self._lost_outputs(s[HISTORY], [self.cid(s, i) for i in range(k, len(infl))], why) \
            if k < len(infl) else ()
        if lost:
            return _set(s, {IN_FLIGHT: (), DRAINED: 0, **self._record(s, *lost)})
        return _set(s, {IN_FLIGHT: (), DRAINED: 0})

    def _finished_dropped(self, s: tuple) -> list[tuple]:
        """The ids of finished tools whose futures are being dropped (one set per successor): every
        undrained future that is done; reduced, the tools have not resolved while streaming, so
        either none had finished or (standing for any nonempty set) the first undrained one had."""
        infl, k = s[IN_FLIGHT], s[DRAINED]
        if self.p.reduce:
            return [(), (self.cid(s, k),)] if k < len(infl) else [()]
        return [tuple(self.cid(s, i) for i in range(k, len(infl)) if infl[i] == DONE)]

    def _complete(self, s: tuple) -> tuple:
        """`Completed -> break Ok`: held text is recorded (after the drain under seed fix 1), then
        drain_in_flight. With empty_content_with_calls, a response with calls and no text also
        ends with an empty assistant message (recorded at completion even under seed fix 1)."""
        held = s[TEXT] == TEXT_HELD
        if held and not self.d.drain_before_completed:
            s = _set(s, self._record(s, _text()))
            held = False
        elif self.d.empty_content_with_calls and s[NCALLS] > 0 and s[TEXT] == NO_TEXT:
            s = _set(s, self._record(s, _text(I.EMPTY)))
        t = _set(s, {PHASE: DRAIN, EXIT: LOOP_COMPLETED, CALLS_OK: False, TEXT_AFTER_DRAIN: held})
        return self._after_drain(t)

    def _fail(self, s: tuple) -> list[tuple]:
        """A stream error: v0.77 `res?` returns at once, dropping in_flight (finished tools lose their
        results); with drain_on_stream_error the loop breaks and drains. Then retry or end.
        [(arg, state)]: the argument names the finished tools whose results were dropped, if any."""
        if self.d.drain_on_stream_error:
            return [(None, self._after_drain(_set(s, {PHASE: DRAIN, EXIT: LOOP_ERROR, TEXT_AFTER_DRAIN: False})))]
        return [(lost or None, self._retry_or_end(self._lose_in_flight(_set(s, {UNRECORDED: s[UNRECORDED] + lost}), "stream-error")))
                for lost in self._finished_dropped(s)]

    def _retry_or_end(self, s: tuple) -> tuple:
        """run_turn after a stream error: retry the request, or end the turn once retries run out."""
        if s[RETRIES_LEFT] > 0:
            prompt = s[PROMPT_LEN] if self.d.retry_prompt == "reuse" else NO_PROMPT
            return self.response_reset(s, phase=READY, retries_left=s[RETRIES_LEFT] - 1, prompt_len=prompt)
        return self._end_turn(s)  # retries exhausted: an Error event, the turn ends

    def _after_drain(self, s: tuple) -> tuple:
        """When the drain has recorded every output, leave the drain (folded into the last step)."""
        if s[DRAINED] < len(s[IN_FLIGHT]) or s[PHASE] == CANCEL:
            return s
        if s[EXIT] == LOOP_COMPLETED:
            if s[TEXT_AFTER_DRAIN]:
                s = _set(s, self._record(s, _text()))
            if s[IN_FLIGHT]:  # needs_follow_up: a new run_turn with a prompt from current history
                rounds = max(0, s[ROUNDS_LEFT] - 1)  # the next round, if one is left
                return self.request_reset(s, phase=READY, prompt_len=NO_PROMPT, retries_left=self.p.retries,
                                          calls_ok=rounds > 0, rounds_left=rounds)
            return self._end_turn(s)
        return self._retry_or_end(_set(s, {IN_FLIGHT: (), DRAINED: 0}))

    def _resolvable(self, s: tuple) -> tuple | range:
        """The tool futures that may resolve now: every one still running, or, reduced, the head of
        the drain once the stream has ended (its completion time is unobservable)."""
        infl = s[IN_FLIGHT]
        if self.p.reduce:
            k = s[DRAINED]
            if s[PHASE] == STREAM or k >= len(infl) or infl[k] != RUNNING:
                return ()
            return (k,)
        return tuple(i for i in range(len(infl)) if infl[i] == RUNNING)

    def _resolve(self, s: tuple, i: int, status: str, also: dict = {}) -> tuple:  # noqa: B006 (read only)
        """Tool future ``i`` resolves to ``status``."""
        infl = s[IN_FLIGHT]
        return _set(s, {IN_FLIGHT: infl[:i] + (status,) + infl[i + 1:], **also})

    # ---- the actions: guard (an early return), then effect ----------------------------------------
    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:2214 run_task (user input recorded :2254-2257, "
            "record_conversation_items :1176-1184); rust-v0.122.0 codex-rs/core/src/session/turn.rs:130 run_turn")
    def UserMessage(self, s: tuple, out: list) -> None:
        """Guard: the session is idle (`phase`) and the user has a turn left (`turns_left`).
        Effect: the user message is recorded (history, then the rollout channel); a turn starts; only
        in the first turn (`turn_no`) may its responses carry calls, for `rounds` rounds."""
        if not s[TURNS_LEFT] > 0:
            return
        u = _user()
        first = s[TURN_NO] == 0
        out.append(("UserMessage", None, self.turn_reset(
            s, phase=READY, history=s[HISTORY] + (u,), queue=s[QUEUE] + (u,), turns_left=s[TURNS_LEFT] - 1,
            turn_no=s[TURN_NO] + 1, calls_ok=first, base_id=s[NEXT_ID],
            rounds_left=self.p.rounds if first else 0)))

    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:2374 run_turn (prompt built once :2404-2410, "
            "400 not retried :2446), :2513 try_run_turn; the prompt: :2283-2287 "
            "(context_manager/history.rs:74-78 get_history_for_prompt); the body: "
            "codex-api/src/requests/chat.rs:58 ChatRequestBuilder::build; rust-v0.122.0 "
            "codex-rs/core/src/session/turn.rs:1003 run_sampling_request (prompt rebuilt :1044-1058)")
    def SendRequest(self, s: tuple, out: list) -> None:
        """Guard: a request is due (`phase` ready: a new turn, a follow-up after tool outputs, or a
        retry), unless the design validates before sending and the request built from `history`
        (a v0.77 retry: its first `prompt_len` items) would be rejected.
        Effect: the prompt is a normalized clone of history (a v0.77 retry reuses the first attempt's
        prompt), built for the wire and judged by the provider; accepted: the stream starts; rejected
        (HTTP 400, InvalidRequest): the turn ends with an error, nothing is retried. Either way the
        request was sent: the results it lacks (`unrecorded`) are judged, and forgotten."""
        r = self.request(s)
        if r.rejected and self.d.validate_before_send:
            return
        if r.rejected:
            t = s if self.d.retry_rejected else self._end_turn(s)
            out.append(("SendRequest", "rejected", _set(t, {UNRECORDED: ()}) if t[UNRECORDED] else t))
            return
        prompt = s[PROMPT_LEN] if s[PROMPT_LEN] != NO_PROMPT else len(s[HISTORY])
        out.append(("SendRequest", "accepted", self.request_reset(s, phase=STREAM, base_id=s[NEXT_ID],
                                                                  prompt_len=prompt, unrecorded=())))

    @action("seed fix 2 (validate before send)", needs="validate_before_send")
    def RefuseRequest(self, s: tuple, out: list) -> None:
        """Guard: a request is due (`phase` ready), the design validates before sending, and the request
        built from `history` (a v0.77 retry: its first `prompt_len` items) would be rejected.
        Effect: nothing is sent; the turn ends with an error."""
        r = self.request(s)
        if not (r.rejected and self.d.validate_before_send):
            return
        out.append(("RefuseRequest", None, self._end_turn(s)))

    @action("rust-v0.77.0 codex-rs/core/src/stream_events_utils.rs:43 handle_output_item_done (non-tool items "
            "recorded at once :71-90)")
    def StreamReasoning(self, s: tuple, out: list) -> None:
        """Guard: streaming (`phase`) a response that may carry calls (`calls_ok`) in the turn's first
        round (`rounds_left`), as its first item: not `reasoned`, no `ncalls`, no `text`.
        Effect: a reasoning item is recorded at once."""
        if not (s[CALLS_OK] and s[ROUNDS_LEFT] == self.p.rounds and not s[REASONED] and s[NCALLS] == 0
                and s[TEXT] == NO_TEXT):
            return
        out.append(("StreamReasoning", None, _set(s, {REASONED: True, **self._record(s, _reasoning())})))

    @action("rust-v0.77.0 codex-rs/core/src/stream_events_utils.rs:71-90 (recorded as it arrives); held on "
            "chat: rust-v0.78.0 codex-rs/codex-api/src/endpoint/chat.rs:103-199 AggregatedStream (the default, "
            "core/src/client.rs:116-133; swallowed :124-137, emitted before Completed :158-199) and "
            "codex-api/src/sse/chat.rs:75-98,286-315 (the raw parser flushes text only at the end)", needs="text")
    def StreamText(self, s: tuple, out: list) -> None:
        """Guard: streaming (`phase`) a response that may carry calls (`calls_ok`) in the turn's first
        round (`rounds_left`), with no `text` yet, and responses with calls may carry text
        (`--no-text` is off).
        Effect: as-streamed: the assistant message is recorded at once; at-completed (chat aggregated
        mode): it is held and recorded when the stream completes, after any calls."""
        if not (s[CALLS_OK] and s[ROUNDS_LEFT] == self.p.rounds and s[TEXT] == NO_TEXT and self.p.text):
            return
        if self.d.text_lands == "as-streamed":
            out.append(("StreamText", None, _set(s, {TEXT: TEXT_RECORDED, **self._record(s, _text())})))
        else:  # sse/chat.rs: aggregated text is emitted when the stream ends
            out.append(("StreamText", None, _set(s, {TEXT: TEXT_HELD})))

    @action("rust-v0.77.0 codex-rs/core/src/stream_events_utils.rs:52-69 (call recorded, tool future made), "
            "core/src/codex.rs:2599-2601 (in_flight.push_back), core/src/tools/parallel.rs:49-105 (the tool task, "
            "AbortOnDropHandle :71); on chat every call of a response arrives at finish_reason: "
            "codex-api/src/sse/chat.rs:253-281 (rust-v0.78.0 :286-315)")
    def StreamToolCall(self, s: tuple, out: list) -> None:
        """Guard: streaming (`phase`) a response that may carry calls (`calls_ok`) and has fewer than N
        (`ncalls`; one in a later round, `rounds_left`), and no `text` is held (held text ends the
        stream: only Completed or a fault can follow).
        Effect: the call is recorded with the next id (`next_id`, or its index in the response when
        the provider omits ids), its tool starts, its future goes to the back of in_flight
        (FuturesOrdered); the argument is the call's number in the response."""
        cap = self.p.calls if s[ROUNDS_LEFT] == self.p.rounds else 1
        if not (s[CALLS_OK] and s[TEXT] != TEXT_HELD and s[NCALLS] < cap):
            return
        c = _call(self.cid(s, s[NCALLS]) if self.d.call_ids == "index" else s[NEXT_ID])
        out.append(("StreamToolCall", s[NCALLS] + 1, _set(s, {
            NCALLS: s[NCALLS] + 1, IN_FLIGHT: s[IN_FLIGHT] + (RUNNING,),
            NEXT_ID: s[NEXT_ID] + (self.d.call_ids != "index"), **self._record(s, c)})))

    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:2620-2632 try_run_turn (`Completed -> break Ok`), "
            "drain_in_flight after the loop :2700; rust-v0.122.0 codex-rs/core/src/session/turn.rs:2219")
    def StreamCompleted(self, s: tuple, out: list) -> None:
        """Guard: streaming (`phase`). A response that cannot carry calls records at most a text item
        after every output, which no pairing rule can see, so it only completes.
        Effect: held `text` is recorded (after the drain under seed fix 1); with
        empty_content_with_calls a response with calls (`ncalls`) and no text ends with an empty
        assistant message; drain_in_flight runs; with calls a follow-up request is due (the next
        round while `rounds_left`), without the turn ends."""
        out.append(("StreamCompleted", None, self._complete(s)))

    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:2572 try_run_turn (`Some(res) => res?`: returns "
            "without drain_in_flight; rust-v0.78.0 :2603); fixed by a5783f90c (PR #17470): "
            "rust-v0.122.0 codex-rs/core/src/session/turn.rs:1909-1918 (`Some(Err(err)) => break Err(err)`)",
            fault="stream-error",
            event="a transport error or idle timeout in the middle of a response (the retry shows "
                  "\"Reconnecting... n/5\"); common on flaky networks")
    def StreamError(self, s: tuple, out: list) -> None:
        """Guard: streaming (`phase`) a response that may carry calls (`calls_ok`), and
        `faults_used` leaves room for a stream error.
        Effect: v0.77: returns at once, in_flight is dropped and its tools aborted, no outputs (tools
        that had finished lose their results: `unrecorded`, and the argument names them); with
        drain_on_stream_error the drain runs first; then run_turn retries (`retries_left`) or the turn
        ends."""
        if not (s[CALLS_OK] and self.allowed[s[FAULTS_USED]] & STREAM_ERROR):
            return
        for arg, t in self._fail(_set(s, {FAULTS_USED: s[FAULTS_USED] | STREAM_ERROR})):
            out.append(("StreamError", arg, t))

    @action("what the parser makes of a close (design knob early_close): chat completes, rust-v0.77.0 "
            "codex-rs/codex-api/src/sse/chat.rs:72-93, rust-v0.78.0 :112-117; Responses sends an error, "
            "rust-v0.77.0 codex-rs/codex-api/src/sse/responses.rs:154-170, rust-v0.78.0 :162-178, "
            "rust-v0.122.0 :393-399; a bare close is `None => break Err(Stream(..))`, rust-v0.77.0 "
            "codex-rs/core/src/codex.rs:2573-2578 (dead with both parsers)", fault="stream-closed")
    def StreamClosed(self, s: tuple, out: list) -> None:
        """Guard: streaming (`phase`) a response that may carry calls (`calls_ok`), and `faults_used`
        leaves room for a stream that closes early (and, when the parser makes it an error, for a
        stream error: it is the session's stream error).
        Effect: as the design's parser makes of it (early_close): completed, as StreamCompleted (no
        fault: the loop sees a completion); error, as StreamError; closed (no shipped parser), the
        loop breaks, drain_in_flight runs, then run_turn retries or the turn ends."""
        used = s[FAULTS_USED]
        if not (s[CALLS_OK] and self.allowed[used] & STREAM_CLOSED):
            return
        # Faults are counted by what the loop sees: a close the parser completes is no fault, one it
        # turns into an error is the session's stream error (so the two lead to the same states)
        if self.d.early_close == "completed":
            out.append(("StreamClosed", None, self._complete(s)))
        elif self.d.early_close == "error":
            if used & STREAM_ERROR:
                return
            for arg, t in self._fail(_set(s, {FAULTS_USED: used | STREAM_ERROR})):
                out.append(("StreamClosed", arg, t))
        else:
            s = _set(s, {FAULTS_USED: used | STREAM_CLOSED})
            out.append(("StreamClosed", None, self._after_drain(
                _set(s, {PHASE: DRAIN, EXIT: LOOP_ERROR, TEXT_AFTER_DRAIN: False}))))

    @action("rust-v0.77.0 codex-rs/core/src/tools/parallel.rs:79-90 (the tool task's work; handler errors "
            "are outputs too: core/src/tools/router.rs:154-162)")
    def ToolFinish(self, s: tuple, out: list) -> None:
        """Guard: streaming, draining or cancelled (`phase`), and the tool is running (`in_flight`;
        reduced: only the head of the drain, `drained`, once the stream has ended, and not once
        cancelled where the result's text is all it changes: see the module docstring).
        Effect: its future is ready with an output."""
        idx = self._resolvable(s)
        if not idx or (self._cancel_aborts and s[PHASE] == CANCEL):
            return
        for i in idx:
            out.append(("ToolFinish", self.cid(s, i), self._resolve(s, i, DONE)))

    @action("rust-v0.77.0 codex-rs/core/src/tools/parallel.rs:94-103 (a FunctionCallError::Fatal or a "
            "JoinError fails the future), logged by drain_in_flight core/src/codex.rs:2497-2499",
            fault="tool-failure",
            event="a tool future that fails: FunctionCallError::Fatal (a payload of the wrong kind, a handler "
                  "with no output: core/src/tools/registry.rs:98,137) or a panic in the tool task; rare, since "
                  "every other tool error is an output (core/src/tools/router.rs:154-162); error_or_panic then "
                  "panics in a debug build (core/src/util.rs:44-50)")
    def ToolFail(self, s: tuple, out: list) -> None:
        """Guard: streaming, draining or cancelled (`phase`), the tool is running (`in_flight`;
        reduced: only the head of the drain, `drained`, once the stream has ended), and
        `faults_used` leaves room for a tool failure.
        Effect: its future resolves to an error."""
        idx = self._resolvable(s)
        if not (idx and self.allowed[s[FAULTS_USED]] & TOOL_FAILURE):
            return
        used = s[FAULTS_USED] | TOOL_FAILURE
        for i in idx:
            out.append(("ToolFail", self.cid(s, i), self._resolve(s, i, FAILED, {FAULTS_USED: used})))

    @action("rust-v0.77.0 codex-rs/core/src/tools/parallel.rs:73-78 (the tool races the cancellation "
            "token; \"aborted by user\" :129-135)")
    def ToolAbort(self, s: tuple, out: list) -> None:
        """Guard: the turn is cancelled (`phase`) and the tool is running (`in_flight`; reduced: only
        the head of the drain, `drained`).
        Effect: its future is ready with "aborted by user"."""
        idx = self._resolvable(s)
        if not idx:
            return
        for i in idx:
            out.append(("ToolAbort", self.cid(s, i), self._resolve(s, i, ABORTED)))

    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:2486-2496 drain_in_flight (FuturesOrdered: call order); "
            "rust-v0.122.0 codex-rs/core/src/session/turn.rs:1810-1827")
    def DrainOutput(self, s: tuple, out: list) -> None:
        """Guard: draining or cancelled (`phase`), and the head of `in_flight` (after the `drained`
        ones) has finished or was aborted by the user.
        Effect: the head's output is recorded (call order, not completion order); with late_result
        drop, not if its call is no longer in history (compacted away)."""
        infl, k = s[IN_FLIGHT], s[DRAINED]
        if not (k < len(infl) and (infl[k] == DONE or infl[k] == ABORTED)):
            return
        cid = self.cid(s, k)
        o = _output(cid, I.OK if infl[k] == DONE else I.USER_ABORT)
        if self.d.late_result == "drop" and _call(cid) not in s[HISTORY]:  # its call was compacted away
            out.append(("DrainOutput", cid, self._after_drain(_set(s, {DRAINED: k + 1}))))
            return
        out.append(("DrainOutput", cid, self._after_drain(_set(s, {DRAINED: k + 1, **self._record(s, o)}))))

    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:2497-2499 drain_in_flight (`error_or_panic`, no "
            "output); rust-v0.122.0 codex-rs/core/src/session/turn.rs:1828-1830")
    def DrainFailed(self, s: tuple, out: list) -> None:
        """Guard: draining or cancelled (`phase`), and the head of `in_flight` (after the `drained`
        ones) failed.
        Effect: logged; no output ("a future that fails is logged and its call gets no output"; a
        synthetic one is recorded if the design persists them)."""
        infl, k = s[IN_FLIGHT], s[DRAINED]
        if not (k < len(infl) and infl[k] == FAILED):
            return
        cid = self.cid(s, k)
        lost = self._lost_outputs(s[HISTORY], (cid,), "failed")
        rec = self._record(s, *lost) if lost else {}
        out.append(("DrainFailed", cid, self._after_drain(_set(s, {DRAINED: k + 1, **rec}))))

    @action("rust-v0.78.0 codex-rs/core/src/tasks/mod.rs:213-220 handle_task_abort (the token is "
            "cancelled); try_run_turn breaks with TurnAborted and drains, core/src/codex.rs:2599,2738",
            fault="interrupt", event="the user interrupts the turn (Esc)")
    def Interrupt(self, s: tuple, out: list) -> None:
        """Guard: streaming a response that may carry calls (`phase`, `calls_ok`) or draining, and
        `faults_used` leaves room for an interrupt.
        Effect: the cancellation token fires; the stream is no longer read; the drain continues."""
        if not ((s[PHASE] == DRAIN or s[CALLS_OK]) and self.allowed[s[FAULTS_USED]] & INTERRUPT):
            return
        out.append(("Interrupt", None, _set(s, {PHASE: CANCEL, TEXT_AFTER_DRAIN: False,
                                                FAULTS_USED: s[FAULTS_USED] | INTERRUPT})))

    @action("rust-v0.78.0 codex-rs/core/src/tasks/mod.rs:223-231 handle_task_abort (GRACEFULL_INTERRUPTION_TIMEOUT_MS "
            "= 100 at :39, then task.handle.abort()); the same at rust-v0.122.0 :589-597", needs="hard_abort_drain",
            event="a timing race: after an interrupt every pending tool answers \"aborted by user\" at once "
                  "(core/src/tools/parallel.rs:73-78), so the drain outlasts the 100 ms grace only if recording "
                  "itself stalls (the rollout channel holds 256 lines, core/src/rollout/recorder.rs:170)")
    def HardAbort(self, s: tuple, out: list) -> None:
        """Guard: cancelled (`phase`), the drain is unfinished (`drained` < `in_flight`) when the 100 ms
        grace runs out, and the design allows it.
        Effect: the task is aborted: calls not yet drained get no output (or recorded synthetic ones)."""
        if not (s[DRAINED] < len(s[IN_FLIGHT]) and self.d.hard_abort_drain):
            return
        out.append(("HardAbort", None, self._lose_in_flight(s, "hard-abort")))

    @action("rust-v0.78.0 codex-rs/core/src/tasks/mod.rs:238-239 handle_task_abort (the event is persisted: "
            "core/src/rollout/policy.rs); rust-v0.122.0 core/src/tasks/mod.rs:604-617 also records a "
            "<turn_aborted> user message (:68-80) into history and the rollout")
    def TurnAborted(self, s: tuple, out: list) -> None:
        """Guard: cancelled (`phase`) and the task has ended: every future `drained` (`in_flight`).
        Effect: a turn_aborted event is persisted (not a history item), after, with
        turn_aborted_marker (v0.122), a <turn_aborted> user message recorded in history and the
        rollout; the session is idle, and the user gets at least one more turn (`turns_left`)."""
        if not s[DRAINED] >= len(s[IN_FLIGHT]):
            return
        marker = (_user(I.TURN_ABORTED_MARKER),) if self.d.turn_aborted_marker else ()
        out.append(("TurnAborted", None, self.turn_reset(
            s, phase=IDLE, history=s[HISTORY] + marker, queue=s[QUEUE] + marker + (TURN_ABORTED,),
            turns_left=max(1, s[TURNS_LEFT]))))

    @action("rust-v0.77.0 codex-rs/core/src/rollout/recorder.rs:167-175 (a 256-line channel to a writer task), "
            ":417-423 (write_all and flush, no fsync)", fault="crash",
            event="the process dies (killed, out of memory, the machine goes down); queued lines may not "
                  "have reached the file")
    def Crash(self, s: tuple, out: list) -> None:
        """Guard: the process is alive (`phase`), and `faults_used` leaves room for a crash; argument k:
        the queued lines the writer had written (reduced: all of them).
        Effect: memory, tasks and the channel are lost; the file keeps what was written (a clean exit
        is Crash with k = all queued lines)."""
        if not self.allowed[s[FAULTS_USED]] & CRASH:
            return
        q = s[QUEUE]
        for k in ((len(q),) if self.p.reduce else range(len(q) + 1)):
            out.append(("Crash", k, self.turn_reset(
                s, phase=DOWN, history=EMPTY, queue=EMPTY, file=s[FILE] + q[:k], base_id=s[NEXT_ID],
                faults_used=s[FAULTS_USED] | CRASH, unrecorded=())))

    @action("rust-v0.77.0 codex-rs/core/src/codex.rs:766-812 record_initial_history -> :1186-1219 "
            "reconstruct_history_from_rollout -> core/src/context_manager/history.rs:67-70,210-216 (normalize: "
            "core/src/context_manager/normalize.rs:9-37); rust-v0.78.0 core/src/codex.rs:764, :1193-1226")
    def Resume(self, s: tuple, out: list) -> None:
        """Guard: the process was restarted (`phase` down), unless the design refuses to resume a
        `file` with a call without output.
        Effect: history is rebuilt from the file's response_items and normalized in memory
        (synthetic results are also recorded if the design persists them); the user gets at least
        one more turn."""
        resumed = self._resumed(s)
        if resumed is None:
            return
        hist, queue = resumed
        out.append(("Resume", None, self.turn_reset(s, phase=IDLE, history=hist, queue=queue,
                                                    turns_left=max(1, s[TURNS_LEFT]), base_id=s[NEXT_ID])))

    def _resumed(self, s: tuple) -> tuple[Seq, Seq] | None:
        """Resuming from `file`: (history, queue), or None when the design refuses (once per file)."""
        got = self._resume_cache.get(s[FILE], _KEEP)
        if got is not _KEEP:
            return got
        files = _response_items(s)
        if self.d.refuse_unanswered_resume and unanswered_calls(files):
            self._resume_cache[s[FILE]] = None
            return None
        queue: tuple = ()
        if self._on_lost is not None:  # the hook says what a call left without output gets
            queue = self._lost_outputs(files, unanswered_calls(files), "resume")
        hist = seq(self._repair(files + queue))
        if self._on_lost is None and self.d.persist_synthetic:
            queue = tuple(it for it in hist if it[0] == I.OUTPUT and it[2] in I.MADE_UP and it not in files)
        done = self._resume_cache[s[FILE]] = (hist, seq(queue))
        return done

    @action("seed fix 3", needs="refuse_unanswered_resume")
    def ResumeRefused(self, s: tuple, out: list) -> None:
        """Guard: the process was restarted (`phase` down), the design refuses to resume a file with
        unanswered calls, and the `file` has a call without output.
        Effect: the session is not resumed: it can never send again."""
        if not (self.d.refuse_unanswered_resume and unanswered_calls(_response_items(s))):
            return
        out.append(("ResumeRefused", None, _set(s, {PHASE: REFUSED})))

    # ---- removal: compaction, rollback, truncation (designs.py's removal knobs) --------------------
    @action("rust-v0.78.0 codex-rs/core/src/compact.rs:64-103 (the summary request, drain_to_completed), :121-131 "
            "(context window exceeded: remove_first_item on the request's clone), :158-179 (history replaced, then "
            "the Compacted line); triggers codex.rs:2241-2249 (pre-turn), :2328-2335 (mid-turn, after the drain); "
            "rust-v0.122.0 codex-rs/core/src/compact.rs:151-283, session/turn.rs:148-157,482-525; rust-v0.47.0 "
            "codex-rs/core/src/codex/compact.rs:74-76,116-122 (the request raw, remove(0)); remote: rust-v0.78.0 "
            "codex-rs/core/src/compact_remote.rs:39-75, codex.rs:2375-2379; rust-v0.122.0 "
            "codex-rs/core/src/compact_remote.rs:112-231,249-275",
            fault="compaction", needs="compacts",
            event="the context window fills up (auto-compaction at 90% of it: rust-v0.78.0 "
                  "codex-rs/core/src/models_manager/model_family.rs:142-149), or the user asks for /compact")
    def Compact(self, s: tuple, out: list) -> None:
        """Guard: the design compacts at this point (`phase` idle: every compacting design; ready for a
        new request, not a retry (`retries_left` whole): after the drain or in flight; stream or drain:
        in flight only), `history` has something to cut, and `faults_used` leaves room for a compaction.
        Effect: with a summary request (compaction_request), history plus the compact prompt is sent,
        trimmed after k context-window errors (compaction_trim), raw or normalized, and judged like
        every request; rejected, the compaction fails (an error ends the turn). Otherwise history is
        replaced by what compaction_keeps leaves (one successor per cut), the prompt is rebuilt from
        it, and a `compacted` line with the replacement goes to the rollout writer after the memory
        replace; a remote compaction cuts what the server was sent (the request, normalized when the
        design's is). Tools in flight keep running; their results land after it (late_result)."""
        ph, w = s[PHASE], self.d.compaction
        if not (ph == IDLE or (ph == READY and w in ("after-drain", "in-flight") and s[RETRIES_LEFT] == self.p.retries)
                or (ph != READY and w == "in-flight")):
            return
        keeps = self.d.compaction_keeps
        options = cuts(self._remote_sent(s, 0) if keeps in REMOTE else tuple(s[HISTORY]), keeps)
        if not (options and self.allowed[s[FAULTS_USED]] & COMPACTION):
            return
        used = s[FAULTS_USED] | COMPACTION
        if self.d.compaction_request == "none":
            for label, h in options:
                out.append(("Compact", CompactArg(label), self._compacted(s, h, used)))
            return
        for k, req in enumerate(self._summary_requests(s[HISTORY])):
            if req.rejected:
                t = _set(s, {FAULTS_USED: used})
                out.append(("Compact", CompactArg("", k, False), t if ph == IDLE else self._end_turn(t)))
                continue
            if keeps in REMOTE and k:  # the server answers the request it was sent
                options = cuts(self._remote_sent(s, k), keeps)
            for label, h in options:
                out.append(("Compact", CompactArg(label, k), self._compacted(s, h, used)))

    def _remote_sent(self, s: tuple, trimmed: int) -> tuple:
        """A remote compaction's request as the server reads it: history (trimmed, normalized when
        the design's request is), without the compact prompt (the payload's instructions carry it)."""
        items = tuple(it for it in trimmed_requests(tuple(s[HISTORY]), self.d.compaction_trim)[trimmed][1]
                      if it != PROMPT)
        return tuple(self._repair(items)) if self.d.compaction_request == "normalized" else items

    def _compacted(self, s: tuple, hist: tuple, used: int) -> tuple:
        return _set(s, {HISTORY: seq(hist), QUEUE: s[QUEUE] + ((I.COMPACTED, None, hist),), FAULTS_USED: used,
                        PROMPT_LEN: NO_PROMPT})

    @action("rust-v0.79.0 codex-rs/core/src/codex.rs:2089-2127 thread_rollback (refused while a turn is active), "
            "context_manager/history.rs:167-189 drop_last_n_user_turns, resume :1238-1274; rust-v0.122.0 "
            "codex-rs/core/src/session/handlers.rs:665-775, context_manager/history.rs:240-263",
            fault="rollback", needs="rollback",
            event="the user rolls the thread back n turns (TUI Esc-Esc, rust-v0.122.0 "
                  "codex-rs/tui/src/app_backtrack.rs:190-218)")
    def Rollback(self, s: tuple, out: list) -> None:
        """Guard: no turn is active (`phase` idle), `history` has a user turn, and `faults_used`
        leaves room for a rollback; argument n: the turns dropped.
        Effect: history is cut before the n-th user turn from the end; a `thread_rolled_back` line
        goes to the rollout writer; the user gets at least one more turn (`turns_left`)."""
        turns = sum(1 for it in s[HISTORY] if I.is_rollback_boundary(it))
        if not (turns and self.allowed[s[FAULTS_USED]] & ROLLBACK):
            return
        for n in range(1, turns + 1):
            hist = seq(drop_last_user_turns(tuple(s[HISTORY]), n))
            out.append(("Rollback", n, _set(s, {HISTORY: hist, QUEUE: s[QUEUE] + ((I.ROLLED_BACK, None, n),),
                                                 FAULTS_USED: s[FAULTS_USED] | ROLLBACK,
                                                 TURNS_LEFT: max(1, s[TURNS_LEFT])})))

    @action("rust-v0.78.0 codex-rs/core/src/context_manager/history.rs:227-265 process_item (truncate.rs:14-81); "
            "rust-v0.122.0 codex-rs/core/src/context_manager/history.rs:375-409,459-476", needs="truncate_outputs")
    def TruncateOutput(self, s: tuple, out: list) -> None:
        """Guard: between turns (`phase` idle), the design truncates results, `history` holds a
        result whose content is whole and none truncated yet. (Codex truncates every result at record
        time; pairing never reads content, so one truncated result between turns stands for all, and
        keeps the states few.)
        Effect: the oldest such result's content is truncated in history (the item stays; the rollout
        keeps the whole content, and resume truncates again)."""
        h = tuple(s[HISTORY])
        i = next((i for i, it in enumerate(h) if it[0] == I.OUTPUT and it[2] == I.OK), None)
        if i is None or any(it[2] == I.TRUNCATED for it in h if it[0] == I.OUTPUT):
            return
        cut = h[:i] + (_output(h[i][1], I.TRUNCATED),) + h[i + 1:]
        out.append(("TruncateOutput", h[i][1], _set(s, {HISTORY: seq(cut)})))

    # ---- counterexamples --------------------------------------------------------------------------
    def concretize(self, path: list) -> list:
        """A path of the reduced search, [(action, arg, state)] from an initial state, as a path of
        the model without reductions: before a stream error that drops finished tools (reduced,
        tools do not resolve while streaming, so the step only says which had finished), their
        ToolFinish steps. Every step is checked to be a step of the unreduced model."""
        if not self.p.reduce:
            return list(path)
        full = TurnLoop(self.d, replace(self.p, reduce=False))
        out = [path[0]]
        s = path[0][2]

        def take(action: str, arg: object, want: tuple | None) -> tuple:
            for a, b, t in full.successors(s):
                if a == action and b == arg and (want is None or t == want):
                    out.append((a, b, t))
                    return t
            raise AssertionError(f"not a step of the unreduced model: {action}({arg}) after {len(out) - 1} steps")

        for action, arg, t in path[1:]:
            if action in ("StreamError", "StreamClosed") and arg:
                for cid in arg:
                    s = take("ToolFinish", cid, None)
            s = take(action, arg, t)
        return out

    # ---- the phase table: which actions each phase asks, in this order ------------------------
    # (the order of successors, so it decides which of several shortest counterexamples the search
    # reports: keep it stable)
    PHASE_TABLE: dict[str, tuple[str, ...]] = {
        IDLE: ("UserMessage", "Crash", "Compact", "Rollback", "TruncateOutput"),
        READY: ("SendRequest", "RefuseRequest", "Crash", "Compact"),
        STREAM: ("StreamReasoning", "StreamText", "StreamToolCall", "StreamCompleted", "StreamClosed",
                 "StreamError", "Interrupt", "ToolFinish", "ToolFail", "Crash", "Compact"),
        DRAIN: ("DrainOutput", "DrainFailed", "Interrupt", "ToolFinish", "ToolFail", "Crash", "Compact"),
        CANCEL: ("DrainOutput", "DrainFailed", "HardAbort", "TurnAborted", "ToolFinish", "ToolAbort", "ToolFail",
                 "Crash"),
        DOWN: ("Resume", "ResumeRefused"),
        REFUSED: (),
    }

    def successors(self, s: tuple) -> list[tuple]:
        """[(action, arg, next_state)] for every enabled action, in the phase table's order.

        Most actions' guards read only the control fields (``pack``'s control id) and, of
        in_flight, the future at the head of the drain and whether one is running (the key below):
        for a state the explorer has just unpacked, the actions whose guards refused an earlier
        state with the same of those are not asked again. The actions whose guards read an item
        sequence (ITEM_GUARDS) are always asked. tests/test_model_shortcuts.py compares this with
        asking every action, on every state of the named and field designs' searches."""
        out: list = []
        if s is not self._unpacked:
            for act in self._table[s[PHASE]]:
                act(s, out)
            return out
        infl, d = s[IN_FLIGHT], s[DRAINED]
        key = self._unpacked_key[4] << 4 | (_STATUS_CODE[infl[d]] if d < len(infl) else 0) << 1 | (RUNNING in infl)
        acts = self._enabled.get(key)
        if acts is not None:
            for act in acts:
                act(s, out)
            return out
        fired = []
        for act in self._table[s[PHASE]]:
            n = len(out)
            act(s, out)
            if len(out) > n or act.__name__ in ITEM_GUARDS:
                fired.append(act)
        acts = tuple(fired)
        self._enabled[key] = self._enabled.setdefault(acts, acts)  # equal lists: one tuple
        return out


def _describe(method: Callable) -> Action:
    cites, fault, needs, event = method.action_info  # type: ignore[attr-defined]
    doc = inspect.cleandoc(method.__doc__ or "")
    guard, sep, effect = doc.partition("Effect:")
    if not (guard.startswith("Guard:") and sep):
        raise AssertionError(f"{method.__name__}: the docstring must read 'Guard: ... Effect: ...'")
    return Action(method.__name__, cites, fault, " ".join(guard[len("Guard:"):].split()), " ".join(effect.split()),
                  needs, event)


# The actions whose guards read history, the queue or the file (a request's verdict, what can be
# cut, the resumed file): every other guard reads only the control fields and in_flight (successors)
ITEM_GUARDS = frozenset(("SendRequest", "RefuseRequest", "Compact", "Rollback", "TruncateOutput", "Resume",
                         "ResumeRefused"))

# Every action, in the order the spec lists them (the order the methods are defined in).
ACTIONS: dict[str, Action] = {name: _describe(m) for name, m in vars(TurnLoop).items()
                              if hasattr(m, "action_info")}
FAULT_ACTION: dict[str, str] = {a.fault: a.name for a in ACTIONS.values() if a.fault}  # fault -> action
FAULT_ACTIONS = frozenset(FAULT_ACTION.values())
# the steps that shrink history (designs.py's removal knobs); the reference loop takes them for the
# Codex-shaped removal designs (tests/test_conformance_removal.py); z3 encodes the removals that keep
# pairs whole (proofs/transitions.py Compact, Rollback, TruncateOutput)
REMOVAL_ACTIONS = frozenset(("Compact", "Rollback", "TruncateOutput"))
assert tuple(sorted(FAULT_ACTION)) == tuple(sorted(FAULTS)), "each fault enables exactly one action"
assert {a for names in TurnLoop.PHASE_TABLE.values() for a in names} == set(ACTIONS), "an action no phase asks"
