"""The abstract transitions: one per model action, same names, guard first, then effect.

Each action maps (design, state, params, choices) to a list of cases ``(guard, next_state)``.
``choices`` are the action's free arguments (the tool index, whether the provider accepts, facts
the abstraction cannot compute); a step exists when some choice satisfies a case's guard. Each
method is the z3 reading of the model method of the same name in model/turnloop.py, and uses the
model's field names and its named resets (``RESPONSE_RESET``, ``REQUEST_RESET``, ``TURN_RESET``,
translated once below). Effects are written with Python values; ``_set`` makes them z3 terms.

Faults are not counted here: the model allows each kind once and at most ``max_faults``; the
abstraction allows every enabled fault at any time, which only adds behaviour. The same goes for
the model's bound on later rounds (one call, no text): unreduced, the abstraction lets every round
carry any number of calls and text, and K (rounds) is a free constant, so a proof covers any number
of rounds; ``reduced`` (BMC, transition agreement) keeps the model's bounds exactly.
"""

from __future__ import annotations

import z3

from ..model import turnloop as M
from ..model.designs import Design
from .abstract import (A_BASE, A_OUTS, A_RUN, H_INIT, ABORTED, CANCEL, DONE, DOWN, DRAIN, EXITS, FAILED, HIST_FIELDS, IDLE, READY, REFUSED,
                       RUNNING, STREAM, USED, X_COMPLETED, X_ERROR, SymbolicParams, fresh_prompt, fresh_state,
                       _close_run, h_assistant, h_call, h_close, h_outputs, h_user, merge, ok_props, term)

ACTION_NAMES = tuple(M.ACTIONS)
TEXT_HELD, TEXT_RECORDED = M.TEXT_HELD, M.TEXT_RECORDED


def _abstract_reset(reset: dict) -> dict:
    """A model reset (field index -> value) in the abstract state's fields."""
    out: dict = {}
    for k, v in reset.items():
        name = M.FIELD_NAMES[k]
        if k == M.IN_FLIGHT:
            out["in_flight_len"] = 0  # the array's cells past the length are never read
        elif k == M.PROMPT_LEN:
            out["has_prompt"] = v != M.NO_PROMPT
        elif k == M.EXIT:
            out["exit"] = EXITS.index(v)
        elif k == M.UNRECORDED:
            out["unrecorded"] = bool(v)
        else:
            out[name] = v
    return out


RESPONSE_RESET = _abstract_reset(M.RESPONSE_RESET)
REQUEST_RESET = _abstract_reset(M.REQUEST_RESET)
TURN_RESET = _abstract_reset(M.TURN_RESET)  # and retries_left = R


def _set(s: dict, **fields) -> dict:
    """``s`` with some fields replaced (Python values become z3 terms)."""
    out = dict(s)
    for k, v in fields.items():
        out[k] = term(v)
    return out


def _hist(s: dict) -> dict:
    return {k: s[k] for k in ("orderly",) + HIST_FIELDS}


class Choices:
    """The free arguments of one action (fresh z3 constants, named after the action)."""

    def __init__(self, action: str, tag: str = ""):
        self.action, self.tag = action, tag
        self.vars: dict = {}

    def int(self, name: str):
        return self.vars.setdefault(name, z3.Int(f"{self.action}.{name}{self.tag}"))

    def bool(self, name: str):
        return self.vars.setdefault(name, z3.Bool(f"{self.action}.{name}{self.tag}"))


class Encoding:
    """The abstract transition relation of one design."""

    def __init__(self, design: Design, faults: frozenset = frozenset(M.FAULTS), reduced: bool = False,
                 max_faults: int | None = None):
        self.d = design
        self.faults = frozenset(faults)
        # max_faults: the model's budget (each kind once, at most this many); None: no budget
        self.max_faults = max_faults
        # reduced: the model's first reduction (only the head of the drain resolves), for BMC, and its
        # third where the design has it (once cancelled, a running tool aborts and does not finish)
        self.reduced = reduced
        self.cancel_aborts = reduced and M.cancel_reduction_applies(design, M.Params())

    def may(self, fault: str) -> bool:
        return fault in self.faults

    def cid(self, s: dict, i):
        """TurnLoop.cid: provider ids count from base_id; index ids are -1-i in every response."""
        return -1 - i if self.d.call_ids == "index" else s["base_id"] + i

    def counted_fault(self, action: str) -> str | None:
        """The fault bit an action sets: its own, except an early close, which is what the parser
        makes of it (TurnLoop.StreamClosed): no fault when it completes, the stream error when it
        is an error."""
        if action == "StreamClosed":
            return {"completed": None, "error": "stream-error", "closed": "stream-closed"}[self.d.early_close]
        return M.ACTIONS[action].fault

    # ---- shared effects (the model's helpers of the same names) ----------------------------------
    def record(self, s: dict, kind: str, cid=None, count=None, real: bool = True, turn_start: bool = False) -> dict:
        """_record: the item goes to the history and to the rollout queue."""
        h = _hist(s)
        if kind == "user":
            h = h_user(self.d, h)
            if turn_start:  # calls still in flight would now lie before the last turn start
                h["flight_in_turn"] = s["in_flight_len"] == 0
        elif kind in ("reasoning", "text"):
            h = h_assistant(self.d, h, kind == "text")
        elif kind == "call":
            h = h_call(self.d, h, cid)
            # a removed result's call must not come back: its id lies below removed_below (an
            # obligation of StreamToolCall, proved with removed-below-next: calls take next_id)
            if self.d.removes:
                h["removals_whole"] = z3.And(s["removals_whole"], cid >= s["removed_below"])
        else:
            h = h_outputs(self.d, h, cid, 1 if count is None else count)
        out = _set(s, **h)
        if kind == "output":
            n = 1 if count is None else count
            # outputs answer calls in flight (recorded, per in_flight_recorded) that no output answered yet
            fits = z3.And(s["in_flight_recorded"], s["base_id"] <= cid, cid + n <= s["base_id"] + s["in_flight_len"])
            below, rollout_below = s["outputs_below"], s["rollout_outputs_below"]
            wf = z3.And(s["well_formed"], fits, cid >= below)
            rwf = z3.And(s["rollout_well_formed"], fits, cid >= rollout_below)
            # the calls answered are in flight, after the last turn start (of the history, and of
            # the rollout when it has the same turns)
            out = _set(out, well_formed=wf, rollout_well_formed=rwf,
                       outputs_below=z3.If(cid + n > below, cid + n, below),
                       rollout_outputs_below=z3.If(cid + n > rollout_below, cid + n, rollout_below),
                       turns_paired=z3.And(s["turns_paired"], wf, s["flight_in_turn"]),
                       rollout_turns_paired=z3.And(s["rollout_turns_paired"], rwf, s["flight_in_turn"],
                                                   s["rollout_like_history"]))
            if real:
                out = _set(out, prompt_quiet=False)
        return out

    def end_turn(self, s: dict, p: SymbolicParams) -> dict:
        return _set(s, **TURN_RESET, phase=IDLE, retries_left=p.R)

    def lose_in_flight(self, s: dict) -> dict:
        """_lose_in_flight: undrained calls get no output, or recorded synthetic ones."""
        t = _set(s, in_flight_len=0, drained=0)
        if not self.d.persist_synthetic:
            return t
        lost = s["drained"] < s["in_flight_len"]
        rec = self.record(s, "output", self.cid(s, s["drained"]), s["in_flight_len"] - s["drained"], real=False)
        return merge(lost, _set(rec, in_flight_len=0, drained=0), t)

    def retry_or_end(self, s: dict, p: SymbolicParams) -> dict:
        has_prompt = s["has_prompt"] if self.d.retry_prompt == "reuse" else False
        again = _set(s, **RESPONSE_RESET, phase=READY, retries_left=s["retries_left"] - 1, has_prompt=has_prompt)
        return merge(s["retries_left"] > 0, again, self.end_turn(s, p))

    def after_drain(self, s: dict, p: SymbolicParams) -> dict:
        """_after_drain: leave the drain once every output is recorded (unless cancelled)."""
        wait = z3.Or(s["drained"] < s["in_flight_len"], s["phase"] == CANCEL)
        t = merge(s["text_after_drain"], self.record(s, "text"), s)
        rounds = z3.If(t["rounds_left"] > 1, t["rounds_left"] - 1, 0)  # the next round, if one is left
        follow = _set(t, **REQUEST_RESET, phase=READY, has_prompt=False, retries_left=p.R, rounds_left=rounds,
                      calls_ok=rounds > 0)
        completed = merge(t["in_flight_len"] > 0, follow, self.end_turn(t, p))
        error = self.retry_or_end(_set(s, in_flight_len=0, drained=0), p)
        return merge(wait, s, merge(s["exit"] == X_COMPLETED, completed, error))

    def accepted(self, s: dict, c: Choices):
        """Whether the provider accepts: free, except where the abstraction knows the verdict."""
        acc = c.bool("accepted")
        fr = fresh_prompt(self.d, s)
        ok = ok_props(self.d, s)["wire-valid"]
        # a reused prompt was accepted before (the stream started); the same body is accepted again
        return acc, z3.And(z3.Implies(z3.And(fr, ok), acc), z3.Implies(z3.Not(fr), acc))

    # ---- the actions (model/turnloop.py, in the order of ACTIONS) ---------------------------------
    def UserMessage(self, s, p, c):
        g = z3.And(s["phase"] == IDLE, s["turns_left"] > 0)
        t = _set(self.record(s, "user", turn_start=True), **{**TURN_RESET, "calls_ok": s["first_turn_next"],
                                            "rounds_left": z3.If(s["first_turn_next"], p.K, 0)},
                 phase=READY, turns_left=s["turns_left"] - 1, first_turn_next=False, base_id=s["next_id"],
                 retries_left=p.R)
        return [(g, t)]

    def SendRequest(self, s, p, c):
        acc, known = self.accepted(s, c)
        g = z3.And(s["phase"] == READY, known)
        fr = fresh_prompt(self.d, s)
        ok = ok_props(self.d, s)
        stream = _set(s, **REQUEST_RESET, phase=STREAM, base_id=s["next_id"], has_prompt=True,
                      in_flight_recorded=True, unrecorded=False)
        remembered = _set(stream, prompt_quiet=True, prompt_calls_answered=ok["calls-answered"],
                          prompt_no_orphans=ok["no-orphan-results"], prompt_wire_valid=ok["wire-valid"])
        cases = [(z3.And(g, acc), merge(fr, remembered, stream) if fr is not True else remembered)]
        if not self.d.validate_before_send:
            rejected = _set(s if self.d.retry_rejected else self.end_turn(s, p), unrecorded=False)
            cases.append((z3.And(g, z3.Not(acc)), rejected))
        return cases

    def RefuseRequest(self, s, p, c):
        if not self.d.validate_before_send:
            return []
        acc, known = self.accepted(s, c)
        return [(z3.And(s["phase"] == READY, known, z3.Not(acc)), self.end_turn(s, p))]

    def _streaming(self, s):
        return z3.And(s["phase"] == STREAM, s["calls_ok"], s["text"] != TEXT_HELD)

    def _first_round(self, s, p):
        """Text and reasoning come in the first round only, under the model's bounds."""
        return s["rounds_left"] == p.K if self.reduced else z3.BoolVal(True)

    def StreamReasoning(self, s, p, c):
        g = z3.And(self._streaming(s), self._first_round(s, p), z3.Not(s["reasoned"]), s["ncalls"] == 0,
                   s["text"] == M.NO_TEXT)
        return [(g, _set(self.record(s, "reasoning"), reasoned=True))]

    def StreamText(self, s, p, c):
        g = z3.And(self._streaming(s), self._first_round(s, p), s["text"] == M.NO_TEXT)
        if self.d.text_lands == "as-streamed":
            return [(g, _set(self.record(s, "text"), text=TEXT_RECORDED))]
        return [(g, _set(s, text=TEXT_HELD))]  # sse/chat.rs holds aggregated text to the end

    def StreamToolCall(self, s, p, c):
        cap = z3.If(s["rounds_left"] == p.K, p.N, 1) if self.reduced else p.N  # later rounds: one call
        g = z3.And(self._streaming(s), s["ncalls"] < cap)
        index = self.d.call_ids == "index"
        t = _set(self.record(s, "call", self.cid(s, s["ncalls"]) if index else s["next_id"]),
                 ncalls=s["ncalls"] + 1, in_flight=z3.Store(s["in_flight"], s["in_flight_len"], RUNNING),
                 in_flight_len=s["in_flight_len"] + 1, next_id=s["next_id"] + (0 if index else 1))
        return [(g, t)]

    def complete(self, s, p):
        """TurnLoop._complete: held text (or, with empty_content_with_calls, an empty message after
        a response's calls) is recorded, then the drain."""
        held = s["text"] == TEXT_HELD
        if self.d.drain_before_completed:
            t, after_drain = s, held
        else:
            t, after_drain = merge(held, self.record(s, "text"), s), False
        if self.d.empty_content_with_calls:
            empty = z3.And(z3.Not(held), s["ncalls"] > 0, s["text"] == M.NO_TEXT)
            t = merge(empty, self.record(t, "text"), t)
        return self.after_drain(_set(t, phase=DRAIN, exit=X_COMPLETED, calls_ok=False,
                                     text_after_drain=after_drain), p)

    def StreamCompleted(self, s, p, c):
        return [(s["phase"] == STREAM, self.complete(s, p))]

    def _faultable_stream(self, s):
        return z3.And(s["phase"] == STREAM, s["calls_ok"])

    def fail(self, s, p, c, g):
        """TurnLoop._fail: drain first, or drop in_flight; a tool that had finished loses its result
        (``unrecorded``), a choice with an undrained future as witness."""
        if self.d.drain_on_stream_error:
            return [(g, self.after_drain(_set(s, phase=DRAIN, exit=X_ERROR, text_after_drain=False), p))]
        # a witness: an undrained future that is done, or running (it may finish as the stream
        # fails: the model's reduction folds that ToolFinish into this step)
        lost, j = c.bool("lost"), c.int("j")
        witness = z3.And(s["drained"] <= j, j < s["in_flight_len"],
                         z3.Or(s["in_flight"][j] == DONE, s["in_flight"][j] == RUNNING))
        t = _set(s, unrecorded=z3.Or(s["unrecorded"], lost))
        return [(z3.And(g, z3.Implies(lost, witness)), self.retry_or_end(self.lose_in_flight(t), p))]

    def StreamError(self, s, p, c):
        if not self.may("stream-error"):
            return []
        return self.fail(s, p, c, self._faultable_stream(s))

    def StreamClosed(self, s, p, c):
        if not self.may("stream-closed"):
            return []
        g = self._faultable_stream(s)
        if self.d.early_close == "completed":  # the chat parser completes on a close
            return [(g, self.complete(s, p))]
        if self.d.early_close == "error":  # the Responses parser makes it the stream error
            return self.fail(s, p, c, g)
        t = _set(s, phase=DRAIN, exit=X_ERROR, text_after_drain=False)
        return [(g, self.after_drain(t, p))]

    def _tool(self, s, c, extra, status):
        """A running future resolves; unreduced any of them (the model's reduction picks the head)."""
        i = c.int("i")
        g = z3.And(z3.Or(s["phase"] == STREAM, s["phase"] == DRAIN, s["phase"] == CANCEL), 0 <= i,
                   i < s["in_flight_len"], s["in_flight"][i] == RUNNING, extra)
        if self.reduced:
            g = z3.And(g, s["phase"] != STREAM, i == s["drained"])
        return [(g, _set(s, in_flight=z3.Store(s["in_flight"], i, status)))]

    def ToolFinish(self, s, p, c):
        return self._tool(s, c, s["phase"] != CANCEL if self.cancel_aborts else True, DONE)

    def ToolFail(self, s, p, c):
        return self._tool(s, c, True, FAILED) if self.may("tool-failure") else []

    def ToolAbort(self, s, p, c):
        return self._tool(s, c, s["phase"] == CANCEL, ABORTED)

    def _draining(self, s):
        return z3.And(z3.Or(s["phase"] == DRAIN, s["phase"] == CANCEL), s["drained"] < s["in_flight_len"])

    def DrainOutput(self, s, p, c):
        head = s["in_flight"][s["drained"]]
        g = z3.And(self._draining(s), z3.Or(head == DONE, head == ABORTED))
        t = _set(self.record(s, "output", self.cid(s, s["drained"])), drained=s["drained"] + 1)
        cases = [(g, self.after_drain(t, p))]
        if self.d.late_result == "drop":  # nothing recorded if its call is gone: only if not known recorded
            gone = _set(s, drained=s["drained"] + 1)
            cases.append((z3.And(g, z3.Not(s["in_flight_recorded"])), self.after_drain(gone, p)))
        return cases

    def DrainFailed(self, s, p, c):
        if not self.may("tool-failure"):  # only ToolFail makes a future fail: never in the model without it
            return []
        g = z3.And(self._draining(s), s["in_flight"][s["drained"]] == FAILED)
        t = self.record(s, "output", self.cid(s, s["drained"]), real=False) if self.d.persist_synthetic else s
        return [(g, self.after_drain(_set(t, drained=s["drained"] + 1), p))]

    def Interrupt(self, s, p, c):
        if not self.may("interrupt"):
            return []
        g = z3.Or(self._faultable_stream(s), s["phase"] == DRAIN)
        return [(g, _set(s, phase=CANCEL, text_after_drain=False))]

    def HardAbort(self, s, p, c):
        if not self.d.hard_abort_drain:
            return []
        g = z3.And(s["phase"] == CANCEL, s["drained"] < s["in_flight_len"])
        return [(g, self.lose_in_flight(s))]

    def TurnAborted(self, s, p, c):
        g = z3.And(s["phase"] == CANCEL, s["drained"] >= s["in_flight_len"])
        t = self.record(s, "user") if self.d.turn_aborted_marker else s  # v0.122's <turn_aborted> message
        return [(g, _set(self.end_turn(t, p), turns_left=z3.If(s["turns_left"] > 1, s["turns_left"], 1)))]

    def Crash(self, s, p, c):  # the writer caught up (the model's second reduction)
        if not self.may("crash"):
            return []
        g = z3.And(s["phase"] != DOWN, s["phase"] != REFUSED)
        # the file now holds what the rollout held: the record is still known if it equalled history
        t = _set(self.end_turn(s, p), phase=DOWN, base_id=s["next_id"],
                 orderly=z3.And(s["orderly"], s["rollout_is_history"]), results_in_history=True,
                 rollout_is_history=True, well_formed=s["rollout_well_formed"],
                 outputs_below=s["rollout_outputs_below"], in_flight_recorded=True, unrecorded=False,
                 turns_paired=s["rollout_turns_paired"], rollout_like_history=True, flight_in_turn=True)
        return [(g, t)]

    def _unanswered(self, s, c):
        """The file has a call with no output: known exactly for an orderly record."""
        return z3.If(s["orderly"], s["pending_lo"] < s["pending_hi"], c.bool("unanswered"))

    def Resume(self, s, p, c):  # history = normalize(file), in memory
        g = s["phase"] == DOWN
        if self.d.refuse_unanswered_resume:
            g = z3.And(g, z3.Not(self._unanswered(s, c)))
        # every normalization of a well-formed file is well formed, and so is the file plus the
        # made-up outputs it queues (they answer its unanswered calls); ids stay below next_id
        opened = s["pending_lo"] < s["pending_hi"]
        mode = self.d.normalization
        # Every normalization keeps a call's outputs in its turn: codex puts "aborted" right after the
        # call, ours and placeholder at the end of its run, drop-both and none add nothing. What
        # resume queues (persisted made-up outputs) goes to the end of the file: in the call's turn
        # only if the file is orderly (its pending calls are in its last turn).
        queued_late = z3.Not(s["orderly"]) if self.d.persist_synthetic and mode != "none" else False
        # the history equals the file up to made-up outputs: codex and placeholder add only those
        # (and a well-formed file has no orphan for codex to drop); drop-both also drops unanswered
        # calls; ours also moves results, except on an orderly file
        like = {"none": True, "codex": s["rollout_well_formed"], "placeholder": s["rollout_well_formed"],
                "ours": s["orderly"], "drop-both": z3.And(s["orderly"], z3.Not(opened))}[mode]
        t = _set(s, **TURN_RESET, phase=IDLE, turns_left=z3.If(s["turns_left"] > 1, s["turns_left"], 1),
                 base_id=s["next_id"], retries_left=p.R, well_formed=s["rollout_well_formed"],
                 outputs_below=s["next_id"], rollout_outputs_below=s["next_id"], in_flight_recorded=True,
                 turns_paired=s["rollout_turns_paired"], flight_in_turn=True, rollout_like_history=like,
                 rollout_turns_paired=z3.And(s["rollout_turns_paired"], z3.Not(queued_late)))

        def unknown():  # a record that is not orderly: what normalization made of it is a free choice
            return _set(t, orderly=False, rollout_is_history=c.bool("rollout_is_history"),
                        results_in_history=z3.Or(s["rollout_well_formed"], c.bool("results_in_history")))

        if mode == "none":
            t = _set(t, results_in_history=True, rollout_is_history=True)
        elif mode == "ours":  # an orderly file gets synthetic outputs for its pending calls, at the end
            closed = _set(t, **h_close(self.d, _hist(s)))
            queued_all = z3.Or(z3.Not(opened), self.d.persist_synthetic)
            t = merge(s["orderly"], _set(closed, results_in_history=True, rollout_is_history=queued_all), unknown())
        else:  # codex: "aborted" right after each unanswered call splits the group
            t = merge(s["orderly"], _set(t, orderly=z3.Not(opened), results_in_history=True,
                                         rollout_is_history=z3.Not(opened)), unknown())
        return [(g, t)]

    def ResumeRefused(self, s, p, c):
        if not self.d.refuse_unanswered_resume:
            return []
        return [(z3.And(s["phase"] == DOWN, self._unanswered(s, c)), _set(s, phase=REFUSED))]

    # ---- removal (model/removal.py) --------------------------------------------------------------
    # Exact where pairs stay whole: compaction between turns or after the drain (no future in flight)
    # keeping the user messages and a summary, the oldest items each with its partner
    # (drop-oldest-pairs) or a summary and a tail from a boundary no pair straddles (tail-atomic);
    # a summary and a tail from a user turn's start, in flight too (tail-user: ``turn_tail``);
    # rollback at a user-turn boundary between turns; output truncation (content only: an identity
    # step of the abstraction). Every other compaction (a cut that may split a pair: any tail, the
    # last N messages, Cline's ranges, remove(0); other compactions while calls are in flight) is an
    # over-approximation (``split_cut``): the history left is any part of the old one, in order, and
    # no pairing fact survives it, so the goals that need one are refuted by the explorer or stay
    # unknown, never proved on a guess. Index call ids and hooks raise NotImplementedError for a
    # design that removes: turnproof prove answers unknown for it.
    PAIR_CUTS = ("summary", "remote-filtered", "drop-oldest-pairs", "tail-atomic")
    # every call and result goes: Codex's local summary, and its remote compaction since rust-v0.105.0
    # (the server's answer filtered to messages and the summary: model/removal.py _remote)
    NO_PAIR_LEFT = ("summary", "remote-filtered")

    def split_cut(self) -> bool:
        """This design's compaction may split a pair, or runs while calls are in flight (except the
        tail from a user turn, which keeps the calls in flight: ``turn_tail``)."""
        d = self.d
        if self.turn_tail():
            return False
        return d.compaction == "in-flight" or d.compaction_keeps not in self.PAIR_CUTS

    def turn_tail(self) -> bool:
        """gemini-cli after PR #8691: a summary and the items from a user turn's start, anywhere the
        compaction runs (in flight too); everything only after an assistant message with no call."""
        return self.d.compaction_keeps == "tail-user"

    def summary_exact(self) -> bool:
        """The summary request's verdicts follow from the record: normalized (or raw: an orderly record
        with nothing pending is its own normalization), trimmed pair-aware if at all."""
        d = self.d
        return d.compaction_trim != "drop-oldest-items"

    def compact_encoded(self) -> bool:
        return self.removal_encoded()

    def removal_encoded(self) -> bool:
        """Removal is encoded on provider call ids, with no hooks."""
        return self.d.call_ids == "provider" and self.d.hooks is None

    def compact_phase(self, s: dict, p: SymbolicParams):
        """Where the model's Compact guard lets a compaction run (TurnLoop.Compact; the phase table asks
        it in idle, ready, stream and drain)."""
        w = self.d.compaction
        ready = z3.And(s["phase"] == READY, s["retries_left"] == p.R) if w in ("after-drain", "in-flight") else False
        flight = z3.Or(s["phase"] == STREAM, s["phase"] == DRAIN) if w == "in-flight" else False
        return z3.Or(s["phase"] == IDLE, ready, flight)

    def _not_encoded(self, used: bool, what: str) -> list:
        if used:
            raise NotImplementedError(f"design {self.d.name}: the z3 encoding has no {what} step")
        return []

    def _sub_record(self, s: dict, c: Choices, ends_as_before, settled: bool):
        """The automaton fields of a record cut from an orderly one (with nothing pending, if
        ``settled``), keeping every pair whole or neither side (a rollback's prefix, a pair-aware
        compaction): orderly with nothing pending, its last call id (so the pending bound) no higher;
        ``ends_as_before`` constrains its last run. Free choices where the original is orderly; kept
        as they were where it is not (they are then no fact: refines reads them only while orderly)."""
        h = {"automaton": c.int("automaton"), "run_calls": c.int("run_calls"),
             "run_text_after_call": c.bool("run_text_after_call"), "groups_ok": c.bool("groups_ok")}
        v = c.int("pending")
        h.update(pending_lo=v, pending_hi=v)
        known = z3.And(s["orderly"], s["pending_lo"] == s["pending_hi"]) if settled else s["orderly"]
        shape = z3.And(z3.Or(h["automaton"] == A_BASE, h["automaton"] == A_RUN, h["automaton"] == A_OUTS),
                       1 <= v, v <= s["pending_hi"], ends_as_before(h))
        return {k: z3.If(known, term(x), term(s[k])) for k, x in h.items()}, z3.Implies(known, shape)

    def Compact(self, s, p, c):
        if not self.d.compacts:
            return []
        if not self.compact_encoded():
            return self._not_encoded(True, "compaction (index call ids or hooks)")
        g = self.compact_phase(s, p)
        if self.split_cut():
            # Any part of the old history, in order (a summary in front is no turn start): nothing
            # about its pairs is known; calls in flight may be gone (their results land as orphans,
            # late_result append, or are dropped); a turn start can only go, so the calls in flight
            # still follow the last one.
            t = _set(s, orderly=False, well_formed=False, rollout_well_formed=False, turns_paired=False,
                     rollout_turns_paired=False, removals_whole=False)
            t = _set(t, rollout_is_history=True, results_in_history=True, rollout_like_history=True,
                     in_flight_recorded=False, has_prompt=False)
        elif self.turn_tail():
            # A tail from a turn start: no pair of a turn-paired record spans it, and the calls in
            # flight come after the last turn start (flight_in_turn), so they stay, with their pending
            # range. Read from the turn start, the automaton ends as the old record did (same last run),
            # except the pending bound when nothing is pending, and groups_ok (fewer runs closed).
            # Everything goes (the summary alone) only after an assistant message with no call: an
            # orderly record then ends in a run with no call and nothing pending, and nothing is in
            # flight (calls in flight are recorded in the last message, or their outputs follow them).
            everything, v, go = c.bool("everything"), c.int("pending"), c.bool("groups_ok")
            opened = s["pending_lo"] < s["pending_hi"]
            last_run_bare = z3.And(s["automaton"] == A_RUN, s["run_calls"] == 0, z3.Not(opened))
            g = z3.And(g, z3.Implies(everything, s["in_flight_len"] == 0),
                       z3.Implies(z3.And(everything, s["orderly"]), last_run_bare),
                       z3.Implies(z3.And(z3.Not(everything), s["orderly"], z3.Not(opened)),
                                  z3.And(1 <= v, v <= s["pending_hi"])),
                       z3.Implies(s["groups_ok"], go))
            tail = _set(s, pending_lo=z3.If(opened, s["pending_lo"], v), pending_hi=z3.If(opened, s["pending_hi"], v),
                        groups_ok=go, in_flight_recorded=z3.And(s["in_flight_recorded"], s["flight_in_turn"]))
            alone = _set(s, **H_INIT)
            wf = s["turns_paired"]
            t = _set(merge(everything, alone, tail), well_formed=wf, rollout_well_formed=wf,
                     rollout_outputs_below=s["outputs_below"], rollout_turns_paired=wf,
                     removals_whole=z3.And(s["removals_whole"], wf, s["results_in_history"]),
                     rollout_is_history=True, results_in_history=True, rollout_like_history=True, has_prompt=False)
        elif self.d.compaction_keeps in self.NO_PAIR_LEFT:
            # History becomes the user messages plus a summary (remote-filtered: the assistant messages
            # too, the summary last): no call and no result is left, so the automaton reads messages
            # only, ending on a user item (orderly, nothing pending: H_INIT after them), the record
            # is well formed with no output, and every pair went whole. Results that went are excused
            # (their calls went too: removals_whole), and later calls take fresh provider ids (next_id),
            # so none of them brings a removed result's call back.
            t = _set(s, **H_INIT, well_formed=True, outputs_below=1, rollout_well_formed=True,
                     rollout_outputs_below=1, removals_whole=True, turns_paired=True, rollout_turns_paired=True)
        else:
            # drop-oldest-pairs: remove_first_item takes item 0 (never an output of a well-formed record)
            # with the one output answering it; tail-atomic: no pair straddles the boundary, so every
            # output of the tail answers a call of the tail. Either way a well-formed record loses whole
            # pairs only, and an orderly one with nothing pending stays so: its last item is the old
            # one (an output: OUTS as before) unless it ends in a run, which is a part of the old last
            # run or holds no call (its calls went with their outputs); groups left are parts of old ones.
            def ends(h):
                run_before = z3.And(s["automaton"] == A_RUN, 0 <= h["run_calls"], h["run_calls"] <= s["run_calls"],
                                    z3.Implies(h["run_text_after_call"], s["run_text_after_call"]))
                no_call = z3.And(h["run_calls"] == 0, z3.Not(h["run_text_after_call"]))
                return z3.And(z3.Implies(h["automaton"] == A_RUN, z3.Or(run_before, no_call)),
                              z3.Implies(h["automaton"] == A_OUTS, s["automaton"] == A_OUTS),
                              z3.Implies(s["groups_ok"], h["groups_ok"]))
            h, shape = self._sub_record(s, c, ends, settled=True)
            g = z3.And(g, shape)
            wf = s["well_formed"]
            t = _set(s, **h, orderly=z3.And(s["orderly"], s["pending_lo"] == s["pending_hi"]),
                     rollout_well_formed=wf, rollout_outputs_below=s["outputs_below"],
                     removals_whole=z3.And(s["removals_whole"], wf, s["results_in_history"]),
                     rollout_turns_paired=s["turns_paired"])
        if not (self.split_cut() or self.turn_tail()):
            # the compacted line makes the replayed rollout equal to the new history; in flight is
            # empty here (idle or ready), and the prompt is rebuilt
            t = _set(t, rollout_is_history=True, results_in_history=True, rollout_like_history=True,
                     in_flight_recorded=s["in_flight_len"] == 0, flight_in_turn=True, has_prompt=False)
        # every result taken has an id below the next call id (outputs answer calls already made)
        t = _set(t, removed_below=s["next_id"])
        if self.d.compaction_request == "none":
            return [(g, t)]
        # the summary request may be rejected (its verdicts are goals: proofs/induction.py); the
        # compaction then fails and a turn in progress ends
        acc = c.bool("accepted")
        failed = merge(s["phase"] == IDLE, s, self.end_turn(s, p))
        return [(z3.And(g, acc), t), (z3.And(g, z3.Not(acc)), failed)]

    def Rollback(self, s, p, c):
        """drop_last_user_turns: history is cut before a user turn, between turns (no prompt is kept
        there), and the rollout's thread_rolled_back line cuts its replay at the same turn."""
        if not self.d.rollback:
            return []
        if not self.removal_encoded():
            return self._not_encoded(True, "rollback (index call ids or hooks)")
        # The prefix before a user message of an orderly record is orderly with nothing pending, and
        # closing its last run is a step the old record took (groups_ok only falls along a record).
        # Turn starts are the same in the history and the replayed rollout when they are alike, so
        # both lose the same turns; with no pair across a turn start (turns_paired), every result cut
        # goes with its call.
        h, shape = self._sub_record(s, c, lambda h: z3.Implies(s["groups_ok"], _close_run(self.d, h)), settled=False)
        g = z3.And(s["phase"] == IDLE, z3.Not(s["has_prompt"]), shape)
        like = s["rollout_like_history"]
        t = _set(s, **h, turns_left=z3.If(s["turns_left"] > 1, s["turns_left"], 1), results_in_history=like,
                 removals_whole=z3.And(s["removals_whole"], like, s["turns_paired"], s["rollout_turns_paired"]),
                 in_flight_recorded=z3.And(s["in_flight_recorded"], s["in_flight_len"] == 0),
                 removed_below=s["next_id"])
        return [(g, t)]

    def TruncateOutput(self, s, p, c):
        """Content only: every fact of the abstraction reads a result by its key (items.result_key: a
        truncated result is the whole one), so the step changes no abstract field."""
        if not self.d.truncate_outputs:
            return []
        if not self.removal_encoded():
            return self._not_encoded(True, "output truncation (index call ids or hooks)")
        return [(s["phase"] == IDLE, s)]

    # ---- the relation ------------------------------------------------------------------------------
    # Phases only a fault enters (model/turnloop.py: cancel only by Interrupt, down and refused only
    # by Crash): without that fault the actions that need them never happen in the model either.
    PHASE_FAULT = {"HardAbort": "interrupt", "TurnAborted": "interrupt", "ToolAbort": "interrupt",
                   "Resume": "crash", "ResumeRefused": "crash"}

    def cases(self, action: str, s: dict, p: SymbolicParams, tag: str = "") -> tuple[list, Choices]:
        c = Choices(action, tag)
        needs = self.PHASE_FAULT.get(action)
        cases = getattr(self, action)(s, p, c) if needs is None or self.may(needs) else []
        fault = self.counted_fault(action)
        spent = z3.Sum(*[z3.If(s[x], 1, 0) for x in USED.values()])
        if fault is not None:  # the fault is recorded as used; with a budget, it must be left
            u = USED[fault]
            budget = z3.BoolVal(True)
            if self.max_faults is not None:
                budget = z3.And(z3.Not(s[u]), spent < self.max_faults)
            cases = [(z3.And(g, budget), _set(t, **{u: True})) for g, t in cases]
        elif M.ACTIONS[action].fault is not None and self.max_faults is not None:  # a close that completes
            cases = [(z3.And(g, spent < self.max_faults), t) for g, t in cases]
        return cases, c

    def actions(self) -> list[str]:
        """The actions this design can take at all (e.g. RefuseRequest only with validate_before_send)."""
        probe, pp = fresh_state("_probe"), SymbolicParams.fresh("_probe")
        return [a for a in ACTION_NAMES if self.cases(a, probe, pp)[0]]
