"""What the model must show (issue: the turn-loop model): each verdict with its counterexample."""

import pytest

from turnproof.model import items as I
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


def test_v077_responses_only_loses_results_on_a_retry():
    m, r = explore("codex-0.77-responses", 3, "all")
    assert set(r.violations) == {"results-kept"}
    assert "StreamClosed" in actions(r.violations["results-kept"].path)
    m, r = explore("codex-0.122-responses", 3, "all")
    assert r.violations == {}


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
    assert seen == set(ACTIONS)


@pytest.mark.parametrize("design", list(NAMED))
def test_reductions_keep_verdicts_and_lengths(design):
    """The two reductions (turnloop.py) change the state count, never a verdict or a shortest length."""
    full = explore(design, 2, "all", reduce=False)[1]
    red = explore(design, 2, "all", reduce=True)[1]
    assert lengths(full) == lengths(red)
    assert full.states > red.states


def test_property_ids_are_the_public_contract():
    assert list(PROPERTIES) == ["calls-answered", "no-orphan-results", "wire-valid", "results-kept",
                                "resumable", "can-proceed", "turn-ends"]


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
