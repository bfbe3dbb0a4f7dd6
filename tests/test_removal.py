"""History that shrinks (issue 13): the removal policies, the repairs, the rollout lines, and each
field design's incident as a shortest counterexample with the provider's exact text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from turnproof.model import items as I
from turnproof.model.designs import FIELD, FIELD_AGENTS, NAMED, REMOVAL_KNOBS, Design
from turnproof.model.normalize import normalize
from turnproof.model.provider import GEMINI_COUNT, judge
from turnproof.model.properties import SAFETY
from turnproof.model.removal import cuts, remove_first_item, split_pairs, trimmed_requests
from turnproof.model.turnloop import FILE, QUEUE, Params, TurnLoop, drop_last_user_turns, replay
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.wire import build_request
from model_helpers import explore

U, S, T = I.user(), I.user(I.SUMMARY), I.text()
C1, C2, O1, O2 = I.call(1), I.call(2), I.output(1), I.output(2)
REMOVAL = "compaction,rollback"


# ---- the policies, on histories ------------------------------------------------------------------
def test_remove_first_item_takes_the_partner_and_remove_0_does_not():
    h = (C1, O1, U)
    assert remove_first_item(h) == (U,)
    assert dict(trimmed_requests(h, "drop-oldest-items"))[1][0] == O1  # v0.47: the output is left alone
    assert all(it[0] != I.OUTPUT or I.call(it[1]) in req for _, req in trimmed_requests(h, "drop-oldest-pairs")
               for it in req)


def test_codex_summary_keeps_the_user_messages_and_drops_every_pair():
    (label, h), = cuts((U, C1, O1, T, U, C2, O2), "summary")
    assert h == (U, U, S) and not split_pairs((U, C1, O1, T, U, C2, O2), h)


def test_tail_user_never_cuts_inside_a_pair_and_compresses_all_only_after_a_plain_answer():
    h = (U, C1, O1, T, U, C2)  # C2 still running
    assert [lbl for lbl, _ in cuts(h, "tail-user")] == ["keep from 4"]
    assert [lbl for lbl, _ in cuts(h + (O2, T), "tail-user")] == ["keep from 4", "keep from 8"]


def test_cline_range_is_even_from_message_2_and_ends_on_an_assistant_message():
    h = (U, C1, O1, C2, O2)  # messages: U | C1 | O1 | C2 | O2
    assert cuts(h, "cline-range") == [("range 2..3", (U, C1, O2))]
    assert cuts(h, "cline-range-7225") == [("range 2..3", (U, C1))]  # PR #7225: message 2's results go


def test_tail_atomic_cuts_only_where_no_pair_straddles():
    h = (U, C1, C2, O1, O2, U)
    assert [h2 for _, h2 in cuts(h, "tail-atomic")] == [(S,) + h[i:] for i in (1, 5, 6)]


def test_split_pairs_sees_one_side_kept():
    assert split_pairs((U, C1, O1), (U, C1)) == [1]
    assert split_pairs((U, C1, O1), (U,)) == []


# ---- the repairs -------------------------------------------------------------------------------
def test_drop_both_and_placeholder():
    h = (U, C1, C2, O2, U, I.output(3))
    assert normalize(h, "drop-both") == (U, C2, O2, U)
    assert normalize(h, "placeholder") == (U, C1, C2, I.output(1, I.PLACEHOLDER), O2, U, I.output(3))
    assert "[Tool execution was interrupted]" in str(build_request(normalize(h, "placeholder"), "anthropic"))


def test_gemini_rejects_responses_after_a_turn_with_no_calls():
    body = build_request((S, O1), "gemini")
    assert [r.text for r in judge("gemini", body)] == [GEMINI_COUNT]
    assert judge("gemini", build_request((U, C1, O1), "gemini")) == []


# ---- the rollout lines ---------------------------------------------------------------------------
def test_replay_applies_compacted_and_thread_rolled_back_lines():
    lines = (U, C1, O1, (I.COMPACTED, None, (U, S)), U, T, U, T, (I.ROLLED_BACK, None, 1), U)
    assert replay(lines) == (U, S, U, T, U)
    assert drop_last_user_turns((U, C1, O1, U, T), 1) == (U, C1, O1)
    assert replay((U, ("turn_aborted", None, None), T)) == (U, T)


def test_rollback_counts_a_compaction_summary_as_a_user_turn():
    """is_user_turn_boundary (rust-v0.122.0 codex-rs/core/src/context_manager/history.rs:703-710): the
    summary is a plain user message, so it is a turn a rollback drops; the <turn_aborted> marker is
    contextual and is not."""
    assert drop_last_user_turns((U, C1, O1, U, S), 1) == (U, C1, O1, U)
    assert drop_last_user_turns((U, S, U, T), 2) == (U,)
    assert drop_last_user_turns((U, T, I.user(I.TURN_ABORTED_MARKER)), 1) == ()
    from turnproof.reference.rollout import SUMMARY_PREFIX, drop_last_user_turns as ref_drop

    def msg(text):
        return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    items = [msg("hi"), msg(SUMMARY_PREFIX + "so far"), msg("<turn_aborted>x</turn_aborted>")]
    assert ref_drop(items, 1) == items[:1]


def test_a_crash_before_the_compacted_line_resumes_the_whole_history():
    """Memory is replaced before the line is written (the crash window): unreduced, a crash may
    leave the line unwritten, and resume then has the history from before the compaction."""
    m = TurnLoop(FIELD["codex-0.122-compact"], Params(calls=1, faults=frozenset({"compaction", "crash"}),
                                                       reduce=False, turns=1))
    seen = set()
    todo, done = m.init_states(), set()
    while todo:
        s = todo.pop()
        if s in done:
            continue
        done.add(s)
        for a, _arg, t in m.successors(s):
            if a == "Crash" and any(it[0] == I.COMPACTED for it in s[QUEUE]):  # the line was queued
                written = any(it[0] == I.COMPACTED for it in t[FILE])
                seen.add((written, any(it[0] == I.CALL for it in replay(t[FILE]))))
            todo.append(t)
    # the line written: the calls are gone; the window: the whole history, calls included, comes back
    assert {(True, False), (False, True)} <= seen


# ---- the designs ---------------------------------------------------------------------------------
def test_named_designs_remove_nothing_and_field_designs_are_apart():
    default = Design("default")
    for d in NAMED.values():
        assert all(getattr(d, k) == getattr(default, k) for k in REMOVAL_KNOBS) and not d.removes
    assert not set(FIELD) & set(NAMED)
    assert all(d.removes or d.truncate_outputs for d in FIELD.values())
    assert FIELD_AGENTS == set(FIELD) - {n for n in FIELD if n.startswith(("codex-", "turnproof-"))}


def _first_rejection(m, v, rule):
    a, arg = v.path[-1][0], v.path[-1][1]
    r = m.request_at(v.path[-2][2], a, arg)
    return next(x for x in r.rejections if x.rule == rule)


def test_codex_047_reproduces_5385():
    m, r = explore("codex-0.47-compact", 1, "all")
    v = r.violations["calls-answered"]
    assert [a for a, _, _ in v.path[1:]][-1] == "Compact"
    assert _first_rejection(m, v, "responses-missing-output").text == "No tool output found for function call call_1."
    assert "calls-answered" not in explore("codex-0.78-compact", 1, "all")[1].violations


def test_gemini_cli_before_8691_sends_a_response_whose_call_was_compressed_away():
    m, r = explore("gemini-cli-pre-8691", 2, REMOVAL)
    assert _first_rejection(m, r.violations["wire-valid"], "gemini-count-mismatch").text == GEMINI_COUNT
    v = r.violations["removal-keeps-pairs"]  # the compression that runs while the call is awaited
    assert v.path[-1][0] == "Compact" and v.path[-2][2][0] in ("stream", "drain")
    assert not explore("gemini-cli", 2, REMOVAL)[1].violations


def test_cline_before_7225_sends_an_orphan_tool_result_in_message_2():
    m, r = explore("cline-pre-7225", 2, REMOVAL)
    rej = _first_rejection(m, r.violations["wire-valid"], "anthropic-unexpected-result")
    assert rej.text.startswith("messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_")
    fixed = explore("cline", 2, REMOVAL)[1].violations
    assert set(fixed) == {"results-kept", "removal-keeps-pairs"}  # valid requests; message 1's result is lost


def test_keep_last_n_cuts_a_pair_and_the_pair_guard_holds():
    m, r = explore("keep-last-n", 2, REMOVAL)
    assert "unexpected `tool_use_id`" in _first_rejection(m, r.violations["wire-valid"],
                                                          "anthropic-unexpected-result").text
    assert not explore("keep-last-n-paired", 2, REMOVAL)[1].violations


@pytest.mark.parametrize("name", ["opencode", "goose", "openhands", "codex-0.122-rollback"])
def test_pair_aware_policies_hold(name):
    faults = REMOVAL if name in FIELD_AGENTS else "all"
    assert not explore(name, 2 if name in FIELD_AGENTS else 1, faults)[1].violations


def test_truncation_and_rollback_cannot_change_pairing():
    """The property that holds: every TruncateOutput and Rollback step is judged by
    removal-keeps-pairs, and the steps are taken."""
    m, r = explore("codex-0.122-rollback", 2, REMOVAL)
    assert {"TruncateOutput", "Rollback"} <= set(r.coverage) and not r.violations


@pytest.mark.slow
def test_turnproof_proposed_holds_every_property_with_its_removal_policy():
    m, r = explore("turnproof-proposed-compact", 2, "all")
    assert {"Compact", "Rollback", "TruncateOutput"} <= set(r.coverage) and not r.violations


# ---- pinned counts and the reductions, for the field table's designs -----------------------------
FIELD_COUNTS = __import__("json").loads(
    (__import__("pathlib").Path(__file__).parent / "golden" / "field_state_counts.json").read_text())


def _count_cases(slow_codex: bool) -> list:
    return [pytest.param(n, c, marks=pytest.mark.slow) if (n not in FIELD_AGENTS and slow_codex) else (n, c)
            for n, per in FIELD_COUNTS.items() for c in map(int, per)]


@pytest.mark.parametrize("design,calls", _count_cases(slow_codex=False))
def test_field_state_counts_are_pinned(design, calls):
    """Like tests/test_model_counts.py: regenerate tests/golden/field_state_counts.json only for an
    intended change of the model, and say why in the commit."""
    want = FIELD_COUNTS[design][str(calls)]
    m, r = explore(design, calls, want["faults"])
    assert (r.states, r.edges) == (want["states"], want["steps"])
    assert sorted(p for p in r.violations if p in SAFETY) == want["violated"]


@pytest.mark.parametrize("design,calls", _count_cases(slow_codex=True))
def test_reductions_keep_verdicts_and_lengths_with_removal(design, calls):
    """The three reductions (turnloop.py) stay sound with removal: a compaction in flight, a crash in
    the window before the compacted line."""
    faults = FIELD_COUNTS[design][str(calls)]["faults"]
    full = explore(design, calls, faults, reduce=False)[1]
    red = explore(design, calls, faults, reduce=True)[1]
    assert {p: len(v.path) for p, v in full.violations.items()} == {p: len(v.path) for p, v in red.violations.items()}


def _compact_after_turn_aborted(design) -> bool:
    """Some state after a TurnAborted step (an interrupted turn, drained or hard-aborted) can take a
    Compact step: the manual /compact path."""
    m = TurnLoop(design, Params(calls=2, faults=frozenset({"interrupt", "compaction"})))
    todo, seen, found = m.init_states(), set(), False
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        for a, _arg, t in m.successors(s):
            if a == "TurnAborted":
                found |= any(b == "Compact" for b, _, _ in m.successors(t))
            todo.append(t)
    return found


@pytest.mark.parametrize("name", ["codex-0.78-compact", "codex-0.122-compact"])
def test_manual_compact_mid_turn_is_an_interrupt_then_a_compaction_and_holds(name):
    """/compact while a turn runs (app-server thread/compact/start): spawn_task awaits
    abort_all_tasks(Replaced), the interrupt the model has (100 ms grace, hard abort, TurnAborted),
    then the compaction runs between turns (rust-v0.78.0 codex-rs/core/src/tasks/mod.rs:106-112,
    213-239; rust-v0.122.0 :229-237, 576-624). Reachable, and every property holds."""
    d = FIELD[name]
    assert _compact_after_turn_aborted(d)
    r = explore(name, 2, "interrupt,compaction")[1]
    assert not r.violations and {"Interrupt", "HardAbort", "TurnAborted", "Compact"} <= set(r.coverage)


def test_replaced_records_no_turn_aborted_marker_and_that_changes_no_verdict():
    """rust-v0.122.0 records the <turn_aborted> marker for Interrupted only
    (codex-rs/core/src/tasks/mod.rs:604): an abort for Replaced (/compact mid-turn) leaves none. The
    same design without the marker is that path; it is reachable and its verdicts are the same."""
    d = FIELD["codex-0.122-compact"]
    replaced = replace(d, turn_aborted_marker=False)
    assert d.turn_aborted_marker and _compact_after_turn_aborted(replaced)
    faults = frozenset({"interrupt", "compaction", "crash"})
    verdicts = []
    for x in (d, replaced):
        m = TurnLoop(x, Params(calls=2, faults=faults))
        r = Explorer(m, TurnLoopSpec(m)).run()
        assert {"TurnAborted", "Compact"} <= set(r.coverage)
        verdicts.append((sorted(r.violations), r.sometimes))
    assert verdicts[0] == verdicts[1] and not verdicts[0][0]


# ---- remote compaction (the Responses compact endpoint) ------------------------------------------
def test_remote_cuts_what_the_server_was_sent():
    sent = (U, C1, O1, T, U, C2, O2)
    got = dict(cuts(sent, "remote"))
    assert got["remote keeps every call/result"] == sent + (S,)
    assert got["remote drops O1"] == (U, C1, T, U, C2, O2, S) and split_pairs(sent, got["remote drops O1"]) == [1]
    assert got["remote drops every call/result"] == (U, T, U, S) and len(got) == 2 + 4
    # rust-v0.105.0 on: every call and result of the answer is filtered out, whatever the server keeps
    assert cuts(sent, "remote-filtered") == [("remote, calls and results filtered", (U, T, U, S))]
    assert cuts((), "remote") == [] == cuts((), "remote-filtered")  # an empty request gets no answer


def test_codex_078_remote_lets_the_server_split_a_pair_and_the_filter_of_0105_holds():
    m, r = explore("codex-0.78-remote", 2, "all")
    v = r.violations["removal-keeps-pairs"]
    assert v.path[-1][0] == "Compact" and v.path[-1][1].cut.startswith("remote drops ")
    kept = r.violations["results-kept"]  # a recorded result the server dropped, its call kept
    assert any(a == "Compact" and arg.cut.startswith("remote drops O") for a, arg, _ in kept.path[1:])
    # normalization repairs the next request: the provider never sees the split
    assert not {"calls-answered", "no-orphan-results", "wire-valid"} & set(r.violations)
    m, r = explore("codex-0.122-remote", 2, "all")
    assert "Compact" in r.coverage and not r.violations
