"""What the model must show (issue: the turn-loop model): each verdict with its counterexample."""

import pytest

from turnproof.model import items as I
from turnproof.model import turnloop
from turnproof.model.designs import NAMED, get, with_knobs
from turnproof.model.explorer import Explorer
from turnproof.model.properties import PROPERTIES, SOMETIMES, TurnLoopSpec
from turnproof.model.turnloop import ACTIONS, Params, State, TurnLoop
from model_helpers import actions, explore, lengths

MISSING_1 = ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
             "'tool_call_id'. The following tool_call_ids did not have response messages: call_1")


def rejected_items(model, v):
    """The normalized history of the request a wire-valid counterexample ends with."""
    return I.show_all(model.request(v.path[-2][2]).items)


def test_8479_parallel_calls_rejected_on_v077_chat():
    m, r = explore("codex-0.77-chat", 3, "none", text=False)
    v = r.violations["wire-valid"]
    assert v.detail.text == MISSING_1
    assert actions(v.path).count("StreamToolCall") >= 2 and "StreamText" not in actions(v.path)
    assert rejected_items(m, v) == "[U,C1,C2,O1,O2]"  # history is right; the chat builder is not
    assert set(r.violations) == {"wire-valid", "can-proceed"}


def test_8479_resume_rebuilds_the_same_rejected_request():
    m, r = explore("codex-0.77-chat", 3, "crash", text=False)
    v = r.violations["resumable"]
    assert actions(v.path)[-2:] == ["Crash", "Resume"]
    last = v.continuation[-1]
    assert last[:2] == ("SendRequest", "rejected")
    req = m.request(v.continuation[-2][2])
    assert req.rejections[0].text == MISSING_1


def test_v078_passes_the_plain_three_call_case():
    m, r = explore("codex-0.78-chat", 3, "none", text=False)
    assert r.violations == {}
    assert r.sometimes["full-batch-sent"] is not None


def test_v078_residual_text_alongside_calls_is_real():
    m, r = explore("codex-0.78-chat", 3, "none", text=True)
    v = r.violations["wire-valid"]
    assert "StreamText" in actions(v.path)
    assert rejected_items(m, v) == "[U,C1,T,O1]"  # sse/chat.rs holds text until Completed: after the calls
    assert v.detail.rule == "chat-missing-tool-response"


@pytest.mark.parametrize("fault,mechanism", [("tool-failure", "DrainFailed"), ("crash", "Resume"),
                                             ("interrupt", "HardAbort")])
def test_v078_residual_partial_results_split_the_group(fault, mechanism):
    m, r = explore("codex-0.78-chat", 3, fault, text=False)
    v = r.violations["wire-valid"]
    assert mechanism in actions(v.path)
    items = rejected_items(m, v)
    assert items.startswith("[U,C1,C2,O2(aborted),C3")  # normalize.rs: "aborted" at call+1
    assert v.detail.text == MISSING_1


def test_v077_responses_loses_the_results_of_tools_that_ran():
    # issue 19: an early close is an error to the Responses parser; `res?` drops in_flight, finished
    # tools' results are never recorded, and the retry goes out (a5783f90c fixed it)
    m, r = explore("codex-0.77-responses", 3, "all")
    assert set(r.violations) == {"results-recorded"}
    v = r.violations["results-recorded"]
    assert actions(v.path) == ["UserMessage", "SendRequest", "StreamToolCall", "ToolFinish", "StreamClosed",
                               "SendRequest"]
    assert v.path[-2][1] == (1,)  # StreamClosed names the finished tool whose result it dropped
    assert "response.completed" in m.event("StreamClosed")
    m, r = explore("codex-0.122-responses", 3, "all")
    assert r.violations == {}


def test_early_close_is_what_the_parser_makes_of_it():
    # chat.rs completes on a close (rust-v0.78.0 sse/chat.rs:112-117); the Responses parser sends an
    # error (rust-v0.77.0 sse/responses.rs:154-170): the knob as the source says, per named design
    want = {"codex-0.77-chat": "completed", "codex-0.78-chat": "completed", "codex-0.77-responses": "error",
            "codex-0.122-responses": "error"}
    assert {n: get(n).early_close for n in want} == want


@pytest.mark.parametrize("design", ["codex-0.77-chat", "codex-0.77-responses", "codex-0.78-chat",
                                    "seed-fix-1", "seed-fix-2", "seed-fix-3"])
def test_no_v077_v078_counterexample_uses_a_close_its_parser_cannot_produce(design):
    """Every StreamClosed step of every counterexample leads where the design's parser takes a close:
    StreamCompleted's state on chat, StreamError's (same argument) on Responses; never the bare
    `None => break Err(..)` drain that neither parser produces."""
    m, r = explore(design, 3, "all")
    full = TurnLoop(m.d, Params(calls=3, reduce=False))
    closes = 0
    for v in r.violations.values():
        path = v.path + list(v.continuation)
        for (_, _, s), (a, arg, t) in zip(path, path[1:]):
            if a != "StreamClosed":
                continue
            closes += 1
            twin = "StreamCompleted" if m.d.early_close == "completed" else "StreamError"
            assert any(b == twin and (twin == "StreamCompleted" or barg == arg) and u == t
                       for b, barg, u in full.successors(s)), (design, v.prop)
    # a close is reachable in these designs; the explorer would report it where it mattered
    assert m.d.early_close in ("completed", "error")
    if m.d.wire == "responses":
        assert closes


def test_seed_fixes_none_repairs_the_chat_serialization():
    base = explore("codex-0.77-chat", 3, "none", text=False)[1]
    for fix in ("seed-fix-1", "seed-fix-2", "seed-fix-3"):
        m, r = explore(fix, 3, "none", text=False)
        assert "can-proceed" in r.violations, fix  # the plain #8479 session stays stuck
    assert "wire-valid" in explore("seed-fix-1", 3, "none", text=False)[1].violations
    assert "wire-valid" in explore("seed-fix-3", 3, "none", text=False)[1].violations
    assert lengths(base)["wire-valid"] == 10


def test_seed_fix_1_only_moves_held_text_after_the_outputs():
    assert "wire-valid" in explore("codex-0.78-chat", 3, "none")[1].violations
    fixed = with_knobs(get("codex-0.78-chat"), "x", drain_before_completed=True)
    m = TurnLoop(fixed, Params(calls=3, faults=frozenset()))
    assert Explorer(m, TurnLoopSpec(m)).run().violations == {}


def test_seed_fix_2_sends_nothing_invalid_but_cannot_proceed():
    m, r = explore("seed-fix-2", 3, "all")
    assert "wire-valid" not in r.violations
    assert {"can-proceed", "resumable"} <= set(r.violations)
    assert "RefuseRequest" in [a for a, _, _ in r.violations["resumable"].continuation]


def test_seed_fix_3_refuses_to_resume():
    m, r = explore("seed-fix-3", 3, "crash", text=False)
    assert actions(r.violations["resumable"].path)[-1] == "ResumeRefused"


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
@pytest.mark.parametrize("text_lands", ["at-completed", "as-streamed"])
@pytest.mark.parametrize("calls", [1, 2, 3])
def test_proposed_holds_everything(wire, text_lands, calls):
    m, r = explore("turnproof-proposed", calls, "all", wire=wire, text_lands=text_lands)
    assert r.violations == {}
    assert all(r.sometimes.get(k) is not None for k in SOMETIMES)


@pytest.mark.parametrize("wire", ["chat", "responses", "anthropic"])
def test_proposed_holds_everything_four_calls(wire):
    m, r = explore("turnproof-proposed", 4, "all", wire=wire)
    assert r.violations == {}


@pytest.mark.slow
def test_proposed_holds_everything_four_calls_as_streamed():
    m, r = explore("turnproof-proposed", 4, "all", wire="responses", text_lands="as-streamed")
    assert r.violations == {}


def test_liveness_catches_retrying_a_rejected_request():
    d = with_knobs(get("codex-0.77-chat"), "retry-400", retry_rejected=True)
    m = TurnLoop(d, Params(calls=2, faults=frozenset(), text=False))
    r = Explorer(m, TurnLoopSpec(m)).run()
    v = r.violations["turn-ends"]
    assert v.cycle and v.cycle[0][0] == ("SendRequest", "rejected")


def test_every_action_is_taken_by_some_design():
    seen = set()
    for name in NAMED:
        seen |= set(explore(name, 2, "all")[1].coverage)
    for name in ("codex-0.122-compact", "codex-0.122-rollback"):  # the removal steps: a design of the field table
        seen |= set(explore(name, 1, "compaction,rollback")[1].coverage)
    assert seen == set(ACTIONS)


def _same_verdicts_and_lengths(design: str, calls: int) -> None:
    full = explore(design, calls, "all", reduce=False)[1]
    red = explore(design, calls, "all", reduce=True)[1]
    assert lengths(full) == lengths(red)
    assert full.states > red.states


@pytest.mark.parametrize("calls", [1, 2])
@pytest.mark.parametrize("design", list(NAMED))
def test_reductions_keep_verdicts_and_lengths(design, calls):
    """The three reductions (turnloop.py) change the state count, never a verdict or a shortest length."""
    _same_verdicts_and_lengths(design, calls)


@pytest.mark.slow
@pytest.mark.parametrize("design", list(NAMED))
def test_reductions_keep_verdicts_and_lengths_at_calls_3(design):
    _same_verdicts_and_lengths(design, 3)


def test_property_ids_are_the_public_contract():
    assert list(PROPERTIES) == ["calls-answered", "no-orphan-results", "wire-valid", "results-kept",
                                "results-recorded", "resumable", "can-proceed", "turn-ends", "removal-keeps-pairs"]


def test_the_explorer_names_no_property_and_judges_any_it_is_given():
    """Properties carry their judge: a new one needs no change to the explorer."""
    import inspect

    from turnproof.model import explorer
    from turnproof.model.properties import REACHABILITY, Property

    src = inspect.getsource(explorer)
    assert not [pid for pid in list(PROPERTIES) + list(REACHABILITY) if pid in src]

    class WithExtra(TurnLoopSpec):
        properties = TurnLoopSpec.properties + (
            Property("no-follow-up", "always", "No request carries a tool output.", on=frozenset({"SendRequest"}),
                     judge=lambda m, s, action, arg, t: "an output is sent"
                     if any(it[0] == I.OUTPUT for it in State(*s).history) else None),
            Property("never-crashes", "can", "After a user message, a crash stays reachable.",
                     on=frozenset({"UserMessage"}), goal=("Crash", 0), failure="no crash is reachable"),)

    m = TurnLoop(get("codex-0.122-responses"), Params(calls=1, faults=frozenset()))
    r = Explorer(m, WithExtra(m)).run()
    assert r.violations["no-follow-up"].detail == "an output is sent"
    assert r.violations["never-crashes"].detail == "no crash is reachable"  # crashes are off


# ---- mechanisms the audit found missing (issue 11 point 3) ----------------------------------------
def test_empty_content_beside_calls_breaks_v078_even_without_text():
    # raw reasoning shown and "content": "" streamed beside the calls: the raw parser makes an empty
    # assistant message, flushed after the calls (rust-v0.78.0 sse/chat.rs:183-186, :86-90)
    assert explore("codex-0.78-chat", 3, "none", text=False)[1].violations == {}
    m, r = explore("codex-0.78-chat", 3, "none", text=False, empty_content_with_calls=True)
    v = r.violations["wire-valid"]
    assert rejected_items(m, v) == "[U,C1,T(empty),O1]" and v.detail.rule == "chat-missing-tool-response"
    # turnproof-proposed puts a run's text into its assistant message: nothing to split
    assert explore("turnproof-proposed", 3, "all", text=False, empty_content_with_calls=True)[1].violations == {}


def test_a_repeated_empty_message_is_skipped_by_the_chat_builder():
    # requests/chat.rs :175-182: the second round's empty message equals the last assistant text
    m, r = explore("codex-0.78-chat", 1, "none", text=False, empty_content_with_calls=True, rounds=2)
    first = r.violations["wire-valid"]
    assert rejected_items(m, first).count("T(empty)") == 1  # the first round's group is what is rejected


def test_turn_aborted_marker_changes_no_verdict():
    # v0.122 records a <turn_aborted> user message after an interrupt (tasks/mod.rs:604-617); it comes
    # after the drained outputs, so no pairing rule sees it
    for name in ("codex-0.122-responses", "turnproof-proposed"):
        on = explore(name, 2, "all", turn_aborted_marker=True)[1]
        off = explore(name, 2, "all", turn_aborted_marker=False)[1]
        assert set(on.violations) == set(off.violations) == set(), name
        assert on.coverage.get("TurnAborted")


# ---- rounds and call ids (issue 11 point 5) --------------------------------------------------------
def test_ids_that_restart_every_response_collide():
    # a chat provider that omits ids: chat.rs names calls tool-call-{index}, restarting every response
    # (rust-v0.78.0 sse/chat.rs:311); a retry's call then shares the lost call's id, normalization
    # finds "an output" for both (normalize.rs asks by id) and one call is left unanswered
    m, r = explore("codex-0.78-chat", 2, "all", text=False, call_ids="index")
    v = r.violations["calls-answered"]
    assert "call tool-call-0 has 1 results" in v.detail
    assert rejected_items(m, v).count("Ctc0") == 2
    assert "calls-answered" not in explore("codex-0.78-chat", 2, "all", text=False)[1].violations
    # pairing by position does not need ids
    assert explore("turnproof-proposed", 2, "all", call_ids="index")[1].violations == {}


def take_steps(m, steps):
    """Take the named steps (action, arg) from the initial state; the state reached."""
    s = m.init_states()[0]
    for want in steps:
        s = next(t for a, b, t in m.successors(s) if (a, b) == want)
    return s


def test_later_rounds_meet_what_earlier_rounds_left():
    # round 2 is the follow-up after round 1's drain, in the same turn: a failed future left call_1
    # without an output; normalization answers it "aborted" right after it, before round 2's call_2
    m = TurnLoop(get("codex-0.78-chat"), Params(calls=1, text=False, rounds=2, reduce=False))
    s = take_steps(m, [("UserMessage", None), ("SendRequest", "accepted"), ("StreamToolCall", 1),
                 ("StreamCompleted", None), ("ToolFail", 1), ("DrainFailed", 1), ("SendRequest", "accepted"),
                 ("StreamToolCall", 1), ("StreamCompleted", None), ("ToolFinish", 2), ("DrainOutput", 2)])
    assert I.show_all(m.request(s).items) == "[U,C1,O1(aborted),C2,O2]" and not m.request(s).rejections
    # the third response is past the bound: it carries no call
    third = next(t for a, b, t in m.successors(s) if (a, b) == ("SendRequest", "accepted"))
    assert not any(a == "StreamToolCall" for a, _, _ in m.successors(third))
    one = explore("codex-0.78-chat", 1, "all", text=False, rounds=1)[1]
    two = explore("codex-0.78-chat", 1, "all", text=False, rounds=2)[1]
    assert two.states > one.states and two.coverage["StreamToolCall"] > one.coverage["StreamToolCall"]


@pytest.mark.parametrize("design", list(NAMED))
def test_rounds_add_no_violation_to_the_named_designs(design):
    """What the model says about a second round for the named designs (provider ids): nothing new.
    (With ids that restart every response, see test_ids_that_restart_every_response_collide.)"""
    one = explore(design, 2, "all", rounds=1)[1]
    two = explore(design, 2, "all", rounds=2)[1]
    assert set(one.violations) == set(two.violations)


def test_every_codex_action_and_knob_cites_a_line():
    """Issue 11 point 2: each action that stands for Codex code, and each knob that describes it, cites
    the place as path:line (at rust-v0.77.0 unless another tag is named); seed fixes and our own
    choices cite nothing of Codex."""
    import re

    from turnproof.model.designs import KNOB_FIELDS

    for name, a in ACTIONS.items():
        if a.cites.startswith("seed fix"):
            continue
        assert re.search(r"\.rs:\d+", a.cites), name
    ours = {"wire", "provider", "drain_before_completed", "validate_before_send", "refuse_unanswered_resume",
            "persist_synthetic", "late_result"}  # late_result: what the field's agents do (Codex never compacts in flight)
    for k, f in KNOB_FIELDS.items():
        if k in ours:
            continue
        text = f.metadata["doc"] + " " + " ".join(f.metadata["notes"].values())
        assert re.search(r"\.rs:\d+", text), k


@pytest.mark.parametrize("design", list(NAMED))
def test_the_cancel_reduction_alone_keeps_verdicts_lengths_and_reachability(design, monkeypatch):
    """The third reduction (once cancelled, a running tool answers "aborted by user" and does not
    finish), on and off with the other two on: the same verdicts, shortest lengths and reachability
    depths, and fewer states."""
    on_model, on = explore(design, 2, "all")
    with monkeypatch.context() as mp:
        mp.setattr(turnloop, "cancel_reduction_applies", lambda d, p: False)
        off_model, off = explore.__wrapped__(design, 2, "all")  # not the cached search
    assert on_model._cancel_aborts and not off_model._cancel_aborts
    assert lengths(on) == lengths(off) and on.sometimes == off.sometimes
    assert on.states < off.states


def test_the_cancel_reduction_is_off_where_a_design_reads_result_tags():
    base = get("turnproof-proposed")
    p = Params(calls=1)
    assert turnloop.cancel_reduction_applies(base, p)
    assert not turnloop.cancel_reduction_applies(base, Params(calls=1, reduce=False))
    for knobs in ({"call_ids": "index"}, {"truncate_outputs": True}):
        assert not turnloop.cancel_reduction_applies(with_knobs(base, "variant", **knobs), p), knobs
