"""Designs: the choices a turn loop makes, as knobs, and the named designs built from them.

A design is a value, not code: the same state machine (turnloop.py) runs every design, so a
verdict difference between two designs is caused by exactly the knobs that differ. Candidate
fixes are designs too (a base design plus changed knobs; see turnproof/designfile.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable

from .normalize import MODES
from .provider import NAMES as PROVIDER_NAMES
from .wire import GROUPINGS, WIRES


COMPACTION_WHEN = ("never", "between-turns", "after-drain", "in-flight")
COMPACTION_KEEPS = ("summary", "drop-oldest-items", "drop-oldest-pairs", "tail-any", "tail-user", "tail-atomic",
                    "last-n", "cline-range", "cline-range-7225", "remote", "remote-filtered")


def knob(default: object, values: tuple, doc: str, notes: dict | None = None) -> Any:
    """A design knob: its default (codex-0.77-chat's value), the values it may take, what it
    decides, and a note per value where one helps (docs/SPEC.md renders all four)."""
    return field(default=default, metadata={"values": values, "doc": doc, "notes": notes or {}})


@dataclass(frozen=True)
class Hooks:
    """Code where a knob would be: the steps real agents write as functions, given to the model as
    plain callables on item tuples (turnproof/hooks.py makes them from a user's functions on real
    request shapes; the model never imports anything to run them).

    - ``repair(history) -> history``: run where Codex normalizes (every request, and resume), in
      place of the ``normalization`` knob.
    - ``build_request(history) -> (body, items)``: the body for the design's wire, and the history
      items that body carries (the properties judge what is sent), in place of wire.build_request.
    - ``on_lost_output(history, call_id, why) -> items``: what is recorded when a call loses its
      output; ``why`` is failed, stream-error, hard-abort or resume. In place of ``persist_synthetic``.
    """

    repair: Callable[[tuple], tuple] | None = None
    build_request: Callable[[tuple], tuple] | None = None
    on_lost_output: Callable[[tuple, object, str], tuple] | None = None
    names: tuple = ()  # ((step, "module:function"), ...): what reports show

    def __bool__(self) -> bool:
        return bool(self.repair or self.build_request or self.on_lost_output)


@dataclass(frozen=True)
class Design:
    name: str
    # ---- request building
    wire: str = knob("chat", WIRES, "the provider API requests are built for: see Request building and "
                     "Provider rules")
    provider: str = knob("default", ("default",) + PROVIDER_NAMES,
                         "whose rules judge wire-valid (model/provider.py); default: the wire's own (OpenAI "
                         "on chat and responses); `check --provider` and `matrix --provider` set it")
    chat_grouping: str = knob("per-call", GROUPINGS, "how the chat builder groups calls into assistant messages",
                              {"per-call": "v0.77: one assistant message per call (rust-v0.77.0 "
                                           "codex-api/src/requests/chat.rs:201-225)",
                               "consecutive": "v0.78: push_tool_call_message joins a call to the previous "
                                              "message when that is a null-content call message (rust-v0.78.0 "
                                              "codex-api/src/requests/chat.rs:313-336; PR #8556, 649badd10)",
                               "response": "ours"})
    # ---- the turn loop
    text_lands: str = knob("at-completed", ("at-completed", "as-streamed"),
                           "when a response's assistant text is recorded",
                           {"at-completed": "chat: held until the stream completes, so after the calls: by "
                                            "AggregatedStream in the default mode (rust-v0.78.0 "
                                            "codex-api/src/endpoint/chat.rs:118-199, chosen in "
                                            "core/src/client.rs:116-133), by the raw parser otherwise "
                                            "(codex-api/src/sse/chat.rs:75-98)",
                            "as-streamed": "Responses: each output_item.done is recorded as it arrives "
                                           "(codex-api/src/sse/responses.rs:192-203, "
                                           "core/src/stream_events_utils.rs:71-90)"})
    early_close: str = knob("completed", ("completed", "error", "closed"),
                            "what the stream parser makes of a connection that closes before the response is "
                            "complete",
                            {"completed": "chat.rs completes: flush_and_complete (rust-v0.78.0 "
                                          "codex-api/src/sse/chat.rs:112-117; rust-v0.77.0 :72-93)",
                             "error": "the Responses parser sends an error event (rust-v0.77.0 "
                                      "codex-api/src/sse/responses.rs:154-170; rust-v0.122.0 :393-399)",
                             "closed": "the channel ends with no last event, `None => break Err(Stream(..))` "
                                       "(rust-v0.77.0 core/src/codex.rs:2573-2578): no shipped parser does "
                                       "this, only a parser task that dies"})
    call_ids: str = knob("provider", ("provider", "index"), "where call ids come from",
                         {"provider": "the provider sends them (unique)",
                          "index": "a chat provider that omits them: chat.rs names each call tool-call-{index}, "
                                   "its index in the response, so ids restart every response (rust-v0.78.0 "
                                   "codex-api/src/sse/chat.rs:311; rust-v0.77.0 :278)"})
    empty_content_with_calls: bool = knob(False, (False, True),
                                          "show_raw_agent_reasoning on (rust-v0.78.0 core/src/client.rs:122-126) "
                                          "and a chat provider that streams \"content\": \"\" beside tool calls: "
                                          "the raw parser makes an empty assistant message of it "
                                          "(codex-api/src/sse/chat.rs:183-186), flushed after the calls (:86-90); "
                                          "the default aggregated mode drops it (codex-api/src/endpoint/chat.rs:178)")
    turn_aborted_marker: bool = knob(False, (False, True),
                                     "an interrupt records a <turn_aborted> user message into history and the "
                                     "rollout (rust-v0.122.0 core/src/tasks/mod.rs:604-617; b236f1c95, PR #9043, "
                                     "first in rust-v0.88.0)")
    drain_on_stream_error: bool = knob(False, (False, True),
                                       "try_run_turn on a stream error: v0.77 returns at once (`Some(res) => "
                                       "res?`, core/src/codex.rs:2572), dropping in_flight; a5783f90c breaks "
                                       "instead (rust-v0.122.0 core/src/session/turn.rs:1909-1918), so the drain "
                                       "(:2219) always runs")
    retry_prompt: str = knob("reuse", ("reuse", "rebuild"),
                             "the prompt of a retry: v0.77 builds it once, before the retry loop "
                             "(core/src/codex.rs:2404-2410); a5783f90c rebuilds it from current history "
                             "after the first attempt (rust-v0.122.0 core/src/session/turn.rs:1044-1058)")
    drain_before_completed: bool = knob(False, (False, True),
                                        "seed fix 1: drain in_flight when Completed arrives")
    validate_before_send: bool = knob(False, (False, True),
                                      "seed fix 2: judge the request locally, do not send if bad")
    refuse_unanswered_resume: bool = knob(False, (False, True),
                                          "seed fix 3: refuse to resume a file with open calls")
    normalization: str = knob("codex", MODES, "what history goes through before a request or on resume: "
                              "see Normalization",
                              {"codex": "core/src/context_manager/normalize.rs:9-95 (\"aborted\" at call+1), "
                                        ":97-147 (orphans dropped); run on the prompt's clone and on resume "
                                        "(core/src/context_manager/history.rs:67-78, 210-216)",
                               "ours": "pair by position (model/normalize.py)", "none": "as recorded"})
    persist_synthetic: bool = knob(False, (False, True),
                                   "record synthetic results into history and the rollout when a call is "
                                   "left without output (failed future, hard abort, dropped in_flight, resume)")
    hard_abort_drain: bool = knob(True, (False, True),
                                  "handle_task_abort: after the 100 ms grace the task is aborted, even mid-drain "
                                  "(rust-v0.78.0 core/src/tasks/mod.rs:39, :223-231; rust-v0.122.0 :589-597)")
    # ---- removal: history that shrinks (compaction, truncation, rollback); the defaults remove nothing
    compaction: str = knob("never", COMPACTION_WHEN,
                           "when a compaction may run (at most once per session: the `compaction` fault, the "
                           "context window filling up or the user asking for it)",
                           {"never": "no removal from history (the default)",
                            "between-turns": "only while no turn is active: Codex's pre-turn compaction "
                                             "(rust-v0.78.0 codex-rs/core/src/codex.rs:2241-2249) and manual /compact "
                                             "(the TUI offers it only between turns, tui/src/slash_command.rs:72-83). "
                                             "An Op::Compact sent while a turn runs (the app-server's "
                                             "thread/compact/start, rust-v0.122.0 "
                                             "codex-rs/app-server/src/codex_message_processor.rs:3618-3634) is the "
                                             "Interrupt path then a compaction between turns: spawn_task first "
                                             "awaits abort_all_tasks(TurnAbortReason::Replaced) (rust-v0.78.0 "
                                             "codex-rs/core/src/tasks/mod.rs:106-112; rust-v0.122.0 :229-237), "
                                             "handle_task_abort as for an interrupt (100 ms grace, hard abort, "
                                             "TurnAborted: rust-v0.78.0 :213-239; rust-v0.122.0 :576-624), and only "
                                             "then starts CompactTask; one difference: rust-v0.122.0 records the "
                                             "<turn_aborted> marker for Interrupted only (:604), which the model "
                                             "shows changes no verdict (tests/test_removal.py)",
                            "after-drain": "also before a follow-up request, after drain_in_flight has recorded "
                                           "every result: Codex's mid-turn compaction (rust-v0.78.0 "
                                           "codex-rs/core/src/codex.rs:2328-2335, run_turn returns after the drain "
                                           ":2738; rust-v0.122.0 codex-rs/core/src/session/turn.rs:482-525)",
                            "in-flight": "also while tool calls are in flight (streaming or draining): gemini-cli "
                                         "before PR #8691 (\"compress everything while waiting for a "
                                         "functionResponse\")"})
    compaction_keeps: str = knob("summary", COMPACTION_KEEPS, "what a compaction keeps of history",
                                 {"summary": "the user messages and a summary (a user message); every call and "
                                             "result goes: Codex local compaction (rust-v0.78.0 "
                                             "codex-rs/core/src/compact.rs:158-172,209-291; rust-v0.122.0 "
                                             ":252-273,394-531)",
                                  "drop-oldest-items": "the oldest k items go, one by one, partner or not",
                                  "drop-oldest-pairs": "the oldest k items go, each with its partner (goose "
                                                       "OldestFirstTruncation, context_mgmt/truncate.rs)",
                                  "tail-any": "a summary, then the items from any index on",
                                  "tail-user": "a summary, then the items from a user message that holds no result "
                                               "(gemini-cli findCompressSplitPoint after PR #8691); everything only "
                                               "when the last item is an assistant message with no call",
                                  "tail-atomic": "a summary, then the items from a boundary no call/result pair "
                                                 "straddles, a call still running included (OpenHands condenser "
                                                 "View.manipulation_indices)",
                                  "last-n": "a summary, then the last N messages for any N (a message: a run of "
                                            "assistant items, or of user messages and results): OpenHarness "
                                            "`newer = messages[-preserve_recent:]` (HKUDS/OpenHarness #191)",
                                  "cline-range": "messages 0-1 kept, an even-length range from message 2 ending on an "
                                                 "assistant message removed (Cline ContextManager "
                                                 "getNextTruncationRange)",
                                  "cline-range-7225": "cline-range, then the tool_result blocks of the first message "
                                                      "after the range are removed (cline/cline PR #7225)",
                                  "remote": "Codex remote compaction (the compact endpoint of the Responses API, "
                                            "since rust-v0.62.0, openai/codex PR #6879): the server's answer "
                                            "becomes history as it is (rust-v0.78.0 "
                                            "codex-rs/core/src/compact_remote.rs:43-67; rust-v0.99.0 to "
                                            "rust-v0.104.0 drop only developer and non-user-content user "
                                            "messages, compact.rs `_ => true`); the server may keep any "
                                            "subsequence of the request it was sent, bounded to every subset "
                                            "of its calls and results (the other items kept) plus a summary",
                                  "remote-filtered": "remote, with every call, result and reasoning item of the "
                                                     "answer dropped (should_keep_compacted_history_item: "
                                                     "rust-v0.105.0 codex-rs/core/src/compact_remote.rs:186,205; "
                                                     "rust-v0.122.0 :230,249-275): history keeps messages and "
                                                     "the summary, one cut whatever the server keeps"})
    compaction_request: str = knob("none", ("none", "raw", "normalized"),
                                   "the summary request a compaction sends first (judged like every request)",
                                   {"none": "none (a local cut, or not modelled)",
                                    "raw": "history plus the compact prompt, as recorded: rust-v0.47.0 "
                                           "codex-rs/core/src/codex/compact.rs:74-76 (turn_input_with_history, a "
                                           "plain concat, codex.rs:1048-1054; the regular turn's \"aborted\" patch, "
                                           "codex.rs:2128-2180, is not applied)",
                                    "normalized": "through the design's normalization: rust-v0.48.0 "
                                                  "codex-rs/core/src/codex/compact.rs:88 (history.get_history)"})
    compaction_trim: str = knob("none", ("none", "drop-oldest-items", "drop-oldest-pairs"),
                                "what the summary request drops each time the provider answers that the context "
                                "window is exceeded (the request only: history is untouched)",
                                {"none": "nothing",
                                 "drop-oldest-items": "turn_input.remove(0): rust-v0.47.0 "
                                                      "codex-rs/core/src/codex/compact.rs:116-122",
                                 "drop-oldest-pairs": "remove_first_item and remove_corresponding_for: rust-v0.48.0 "
                                                      "codex-rs/core/src/codex/compact.rs:112-117, "
                                                      "conversation_history.rs:37-58,242"})
    late_result: str = knob("append", ("append", "drop"),
                            "a result that arrives after its call was compacted away",
                            {"append": "recorded as any result (gemini-cli before PR #8691: the functionResponse "
                                       "is the next user message)",
                             "drop": "discarded"})
    rollback: bool = knob(False, (False, True),
                          "Op::ThreadRollback: the user drops the last n user turns while no turn is active "
                          "(rust-v0.79.0 codex-rs/core/src/codex.rs:2089-2127, context_manager/history.rs:167-189; "
                          "rust-v0.122.0 codex-rs/core/src/session/handlers.rs:665-775)")
    truncate_outputs: bool = knob(False, (False, True),
                                  "a result's content is truncated when recorded (process_item: rust-v0.78.0 "
                                  "codex-rs/core/src/context_manager/history.rs:227-265; rust-v0.122.0 :375-409): "
                                  "content only, the item stays")
    retry_rejected: bool = knob(False, (False, True),
                                "test-only knob for the liveness check: retry a request the provider rejected "
                                "(Codex never does: a 400 is CodexErr::InvalidRequest, core/src/api_bridge.rs:38-45, "
                                "which run_turn returns, core/src/codex.rs:2446)")
    title: str = ""
    description: str = ""
    hooks: Hooks | None = None  # code in place of knobs (design files' [hooks]); None: the knobs alone

    @property
    def compacts(self) -> bool:
        return self.compaction != "never"

    @property
    def removes(self) -> bool:
        """Some mechanism may remove items from history (compaction or rollback)."""
        return self.compaction != "never" or self.rollback

    def knobs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_KNOBS}


NOT_KNOBS = frozenset(("name", "title", "description", "hooks"))


# the knobs of removal (compaction, rollback, truncation): the named designs leave them at their defaults;
# the reference loop runs the summary compaction, rollback and truncation (reference/designs.py FIELD)
REMOVAL_KNOBS = ("compaction", "compaction_keeps", "compaction_request", "compaction_trim", "late_result",
                 "rollback", "truncate_outputs")

KNOB_FIELDS = {f.name: f for f in fields(Design) if "values" in f.metadata}
KNOB_VALUES: dict[str, tuple] = {k: f.metadata["values"] for k, f in KNOB_FIELDS.items()}
KNOBS = tuple(KNOB_VALUES)
assert set(KNOBS) == {f.name for f in fields(Design)} - NOT_KNOBS


def with_knobs(base: Design, name: str, /, **knobs: object) -> Design:
    """``base`` with some knobs changed; raises ValueError naming the allowed values."""
    for k, v in knobs.items():
        if k not in KNOB_VALUES:
            raise ValueError(f"unknown knob {k!r}; allowed knobs: {', '.join(KNOBS)}")
        allowed = KNOB_VALUES[k]
        if v not in allowed or type(v) is not type(allowed[0]):
            shown = ", ".join(str(a).lower() if isinstance(a, bool) else a for a in allowed)
            raise ValueError(f"bad value {v!r} for knob {k!r}; allowed values: {shown}")
    return replace(base, name=name, **knobs)  # type: ignore[arg-type]  # each value checked above


_077 = Design(
    name="codex-0.77-chat",
    title="Codex rust-v0.77.0 on the chat wire API (openai/codex #8479)",
    description="One assistant message per call; history [C1..Cn,O1..On]; normalization at call+1.",
)

NAMED: dict[str, Design] = {}


def _add(d: Design) -> None:
    NAMED[d.name] = d


_add(_077)
_add(with_knobs(_077, "codex-0.77-responses", wire="responses", text_lands="as-streamed", early_close="error"))
NAMED["codex-0.77-responses"] = replace(
    NAMED["codex-0.77-responses"], title="Codex rust-v0.77.0 on the Responses wire API",
    description="The same loop as codex-0.77-chat; Responses pairs calls and outputs by call_id.")
_add(replace(with_knobs(_077, "codex-0.78-chat", chat_grouping="consecutive"),
             title="Codex rust-v0.78.0 on the chat wire API (PR #8556, commit 649badd10)",
             description="push_tool_call_message groups consecutive calls into one assistant message."))
_add(replace(with_knobs(_077, "codex-0.122-responses", wire="responses", text_lands="as-streamed",
                        early_close="error", drain_on_stream_error=True, retry_prompt="rebuild",
                        turn_aborted_marker=True),
             title="Codex rust-v0.122.0 on the Responses wire API (a5783f90c, PR #17470)",
             description="Stream errors break out of the loop, so the drain always runs; retries "
                         "rebuild the prompt from current history."))
_add(replace(with_knobs(_077, "seed-fix-1", drain_before_completed=True),
             title="Seed fix 1: drain in-flight tools before handling Completed",
             description="codex-0.77-chat, but Completed waits for every tool output first."))
_add(replace(with_knobs(_077, "seed-fix-2", validate_before_send=True),
             title="Seed fix 2: validate the request before sending it",
             description="codex-0.77-chat, but a request that breaks the provider's rules is not sent."))
_add(replace(with_knobs(_077, "seed-fix-3", refuse_unanswered_resume=True),
             title="Seed fix 3: refuse to resume a session with unanswered calls",
             description="codex-0.77-chat, but resume fails when the rollout has a call without output."))
_add(replace(with_knobs(_077, "turnproof-proposed", chat_grouping="response", early_close="error",
                        drain_on_stream_error=True, retry_prompt="rebuild", normalization="ours",
                        persist_synthetic=True),
             title="turnproof-proposed: pair by position, on every path",
             description="Drain on every exit; an early close is an error (retried); retries rebuild "
                         "the prompt; synthetic results are recorded where a call lost its output; "
                         "normalization pairs each call group with its outputs; chat sends one "
                         "assistant message per assistant run."))

# ---- history that shrinks: Codex's removal mechanisms and the field's (`turnproof matrix --field`) ----
# Not in NAMED: the default matrix, its pinned counts and the z3 stage cover the loop without removal
# (z3 encodes the removals that keep pairs whole: `turnproof prove` answers unknown for the other designs).
FIELD: dict[str, Design] = {}


def _field(base: Design, name: str, title: str, description: str, **knobs: object) -> None:
    FIELD[name] = replace(with_knobs(base, name, **knobs), title=title, description=description)


_0122 = NAMED["codex-0.122-responses"]
_CODEX_COMPACT = dict(compaction="after-drain", compaction_keeps="summary", compaction_request="normalized",
                      compaction_trim="drop-oldest-pairs")
_field(NAMED["codex-0.77-responses"], "codex-0.47-compact",
       "Codex rust-v0.47.0 compaction (openai/codex #5385)",
       "Auto-compaction after a turn's items are recorded (codex.rs:1919-1940) and /compact between turns "
       "(codex.rs:1516-1525); the summary request is history plus the prompt as recorded, with no "
       "\"aborted\" patch (codex/compact.rs:74-76), trimmed by remove(0) (:116-122). The regular turn's "
       "patch (codex.rs:2128-2180) is modelled as Codex's normalization.",
       compaction="after-drain", compaction_keeps="summary", compaction_request="raw",
       compaction_trim="drop-oldest-items")
_field(NAMED["codex-0.77-responses"], "codex-0.78-compact",
       "Codex rust-v0.78.0 local compaction on the Responses wire",
       "Pre-turn and mid-turn (after the drain) compaction; the summary request is normalized and trimmed "
       "pair-aware (remove_first_item, since rust-v0.48.0); history keeps the user messages and the summary.",
       **_CODEX_COMPACT)
_field(_0122, "codex-0.122-compact",
       "Codex rust-v0.122.0: local compaction",
       "codex-0.122-responses with local compaction (pre-turn, and mid-turn after the drain); resume replays "
       "the compacted line (the replacement history).",
       **_CODEX_COMPACT)
_REMOTE = dict(compaction="after-drain", compaction_request="normalized", compaction_trim="none")
_field(NAMED["codex-0.77-responses"], "codex-0.78-remote",
       "Codex rust-v0.78.0 remote compaction (the Responses compact endpoint, ChatGPT auth)",
       "Auto-compaction pre-turn and mid-turn after the drain, and /compact, through the compact endpoint when "
       "the provider is OpenAI's and remote_compaction is on (compact.rs:35-40, on by default: features.rs:378-383, "
       "openai/codex PR #6866); the request is history.get_history_for_prompt(), normalized "
       "(context_manager/history.rs:67-78), with no trimming; the answer replaces history as it is "
       "(compact_remote.rs:43-75), so the server decides which calls and results stay.",
       compaction_keeps="remote", **_REMOTE)
_field(_0122, "codex-0.122-remote",
       "Codex rust-v0.122.0: remote compaction, calls and results filtered out",
       "codex-0.122-responses with remote compaction: the request is normalized (for_prompt, "
       "context_manager/history.rs:120-125) after the newest Codex-generated items are trimmed pair-aware to fit "
       "(remove_last_item, :175-183; compact_remote.rs:317-344: not modelled, the request is normalized after it); "
       "every call, result and reasoning item of the answer is dropped (compact_remote.rs:230,249-275) since "
       "rust-v0.105.0.",
       compaction_keeps="remote-filtered", **_REMOTE)
_field(_0122, "codex-0.122-rollback",
       "Codex rust-v0.122.0: thread rollback and tool-output truncation",
       "codex-0.122-responses with thread rollback at user-turn boundaries while no turn is active (since "
       "rust-v0.79.0; resume replays the thread_rolled_back line) and results truncated in content only.",
       rollback=True, truncate_outputs=True)
_field(_0122, "gemini-cli-pre-8691",
       "gemini-cli before PR #8691 (google-gemini/gemini-cli #8586, #3814)",
       "Compression may run while a functionResponse is awaited and may compress everything; the response then "
       "lands as the next user message, after its call was compressed away (PR #8691's description). No repair "
       "before sending. The rest of the loop is Codex's.",
       wire="gemini", compaction="in-flight", compaction_keeps="last-n", normalization="none")
_field(_0122, "gemini-cli",
       "gemini-cli after PR #8691 (findCompressSplitPoint)",
       "The split point is a user content with no functionResponse; everything only when the last content is a "
       "model turn with no functionCall (chatCompressionService.ts). No repair before sending.",
       wire="gemini", compaction="in-flight", compaction_keeps="tail-user", normalization="none")
_field(_0122, "cline-pre-7225",
       "Cline before PR #7225 (native tool calling)",
       "Before a request, getNextTruncationRange removes an even-length range of messages from message 2 "
       "ending on an assistant message; the next user message may hold tool_result blocks for the removed "
       "tool_use blocks. No repair before sending.",
       wire="anthropic", compaction="after-drain", compaction_keeps="cline-range", normalization="none")
_field(_0122, "cline",
       "Cline after PR #7225",
       "The truncation drops the tool_result blocks of the first message after the range; "
       "ensureToolResultsFollowToolUse answers a tool_use left without result with \"result missing\".",
       wire="anthropic", compaction="after-drain", compaction_keeps="cline-range-7225", normalization="placeholder")
_field(_0122, "opencode",
       "opencode: prune and compaction (anomalyco/opencode session/compaction.ts, message-v2.ts)",
       "A call and its result live in one tool part, so the tail kept after a summary (tail_start_id) starts at "
       "a message no pair straddles; prune clears old results' content only; a pending or running tool part "
       "is sent as the error \"[Tool execution was interrupted]\" (toModelMessages).",
       wire="anthropic", compaction="after-drain", compaction_keeps="tail-atomic", normalization="placeholder",
       truncate_outputs=True)
_field(_0122, "goose",
       "goose: OldestFirstTruncation and fix_conversation (aaif-goose/goose context_mgmt)",
       "The oldest messages go, each tool request with its response (by tool id); fix_conversation removes "
       "orphaned tool responses and requests before sending.",
       wire="anthropic", compaction="after-drain", compaction_keeps="drop-oldest-pairs", normalization="drop-both")
_field(_0122, "openhands",
       "OpenHands: atomic-unit condenser (openhands-sdk context/view.py)",
       "Forgetting only between atomic units (an action batch and its observations); unmatched tool calls and "
       "results are filtered out on both sides before sending.",
       wire="chat", chat_grouping="response", compaction="after-drain", compaction_keeps="tail-atomic",
       normalization="drop-both")
_field(_0122, "keep-last-n",
       "A plain keep-the-last-N-messages window (HKUDS/OpenHarness #191)",
       "Compaction keeps a summary and messages[-N:] for whatever N fits, cut at any message, with no pair "
       "guard and no repair.",
       wire="anthropic", compaction="after-drain", compaction_keeps="last-n", normalization="none")
_field(_0122, "keep-last-n-paired",
       "keep-last-N with a pair guard (what OpenHarness #191 asks for; not a shipped release)",
       "The cut moves to a message boundary no call/result pair straddles.",
       wire="anthropic", compaction="after-drain", compaction_keeps="tail-atomic", normalization="none")
_field(NAMED["turnproof-proposed"], "turnproof-proposed-compact",
       "turnproof-proposed with its removal policy",
       "turnproof-proposed, compacting only after the drain (no call in flight; a result whose call is gone is "
       "dropped), keeping user messages and a summary (every pair goes whole), a summary request normalized "
       "and trimmed pair-aware; rollback at user-turn boundaries between turns; results truncated in content "
       "only.",
       compaction="after-drain", compaction_keeps="summary", compaction_request="normalized",
       compaction_trim="drop-oldest-pairs", late_result="drop", rollback=True, truncate_outputs=True)


# The agents other than Codex and turnproof: only their removal is modelled (the rest of the loop is
# Codex's), so the field table explores them with the removal faults only (REMOVAL_FAULTS of turnloop.py).
FIELD_AGENTS = frozenset(n for n in FIELD if not n.startswith(("codex-", "turnproof-")))


def on_provider(d: Design, provider: str) -> Design:
    """``d`` judged by ``provider``, on the wire that provider serves when it does not serve ``d``'s."""
    from .provider import PROVIDERS_BY_NAME

    if provider in ("default", None):
        return d
    p = PROVIDERS_BY_NAME.get(provider)
    if p is None:
        raise ValueError(f"unknown provider {provider!r}; allowed: {', '.join(PROVIDER_NAMES)}")
    wire = d.wire if d.wire in p.wires else p.wires[0]
    return replace(d, provider=provider, wire=wire)


SHIPPED = ("codex-0.77-chat", "codex-0.77-responses", "codex-0.78-chat", "codex-0.122-responses")


def get(name: str) -> Design:
    try:
        return NAMED[name] if name in NAMED else FIELD[name]
    except KeyError:
        raise ValueError(f"unknown design {name!r}; named designs: {', '.join(NAMED)}, "
                         f"{', '.join(FIELD)}") from None
