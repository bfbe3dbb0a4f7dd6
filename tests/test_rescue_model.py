"""The rescue (turnproof/lint/rescue.py) proved on the model.

For every named Codex design and every rollout file its explored states can leave behind (the
file plus any prefix of the writer's queue: what a crash at any writer progress leaves; every
fault, 1 to 4 parallel calls), the history laid out for the design's builder, sent through that
design's normalization, request builder and provider, is accepted and carries every recorded
result, and laying it out again changes nothing. Hypothesis adds histories no loop writes
(shuffled, duplicated, cut, orphaned) and checks what the rescue promises whatever the input.
"""

from __future__ import annotations

from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from turnproof.lint.rescue import GROUPED, PER_CALL, AS_RECORDED, layout_for, plan, verify
from turnproof.model import items as I
from turnproof.model.designs import NAMED, SHIPPED
from turnproof.model.normalize import normalize_ours
from turnproof.model.turnloop import FILE, QUEUE, Params, TurnLoop

HISTORY_KINDS = (I.USER, I.REASONING, I.TEXT, I.CALL, I.OUTPUT)
FIXED = ("keep-duplicate",)  # what a second pass may still report: it changes nothing


@lru_cache(maxsize=None)
def rollout_files(design: str, calls: int) -> frozenset:
    """Every history a rollout file of ``design`` can hold: file + queue[:k] in every reachable state."""
    m = TurnLoop(NAMED[design], Params(calls=calls))
    seen = set(m.init_states())
    stack = list(seen)
    files: set = set()
    while stack:
        s = stack.pop()
        q = s[QUEUE]
        for k in range(len(q) + 1):
            files.add(tuple(it for it in s[FILE] + q[:k] if it[0] in HISTORY_KINDS))
        for _, _, t in m.successors(s):
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return frozenset(files)


def check_files(design: str, calls: int) -> tuple[int, int]:
    d = NAMED[design]
    layout = layout_for(d)
    dead = 0
    files = rollout_files(design, calls)
    for f in files:
        dead += not verify(f, d).ok
        new, _ = plan(f, layout)
        v = verify(new, d)
        assert v.ok, (I.show_all(f), I.show_all(new), v)
        again, changes = plan(new, layout)
        assert again == new and all(c.op in FIXED for c in changes), (I.show_all(new), I.show_all(again))
        if layout == AS_RECORDED:  # what `turnproof repair` runs there: the pairing repair (lint/repair.py)
            paired = normalize_ours(f)
            assert verify(paired, d).ok and normalize_ours(paired) == paired, I.show_all(f)
        if d.wire == "chat":  # the per-call layout is sent by every Codex chat builder (unknown releases)
            per_call, _ = plan(f, PER_CALL)
            assert all(verify(per_call, NAMED[n]).ok for n in ("codex-0.77-chat", "codex-0.78-chat")), I.show_all(f)
        # nothing lost: every item of the file is in the rescued history
        rest = list(new)
        for it in f:
            rest.remove(it)
        assert all(it[0] == I.OUTPUT and it[2] == I.SYNTHETIC for it in rest)
    return len(files), dead


@pytest.mark.parametrize("calls", [1, 2, 3])
@pytest.mark.parametrize("design", SHIPPED)
def test_every_explored_rollout_is_rescued(design, calls):
    n, dead = check_files(design, calls)
    assert n > 0
    if NAMED[design].wire == "chat":
        assert dead > 0  # the rescue has work to do: these files are dead as they are


# At four calls the Responses designs reach about 75,000 distinct files each (over two minutes with the
# search): a long run. The chat designs, where the rescue changes the layout, stay in CI.
@pytest.mark.slow
@pytest.mark.parametrize("design", [pytest.param(n, marks=pytest.mark.long) if NAMED[n].wire == "responses" else n
                                    for n in SHIPPED])
def test_every_explored_rollout_is_rescued_four_calls(design):
    check_files(design, 4)


def test_shipped_designs_are_the_named_codex_designs():
    assert set(SHIPPED) == {n for n in NAMED if n.startswith("codex-")}


# ---- the layouts, on the cases ----------------------------------------------------------
U, T = I.user(), I.text()
C1, C2, C3 = I.call(1), I.call(2), I.call(3)
O1, O2, O3 = I.output(1), I.output(2), I.output(3)
S2, S3 = I.output(2, I.SYNTHETIC), I.output(3, I.SYNTHETIC)


def test_8479_per_call_each_result_right_after_its_call():
    d = NAMED["codex-0.77-chat"]
    dead = (U, C1, C2, C3, O1, O2, O3)
    assert not verify(dead, d).accepted
    new, changes = plan(dead, layout_for(d))
    assert new == (U, C1, O1, C2, O2, C3, O3)
    assert [(c.op, c.call_id) for c in changes] == [("move-result", 1), ("move-result", 2), ("move-result", 3)]
    assert verify(new, d).ok
    # and every later Codex builder sends it too
    assert all(verify(new, NAMED[n]).ok for n in SHIPPED)


def test_per_call_held_text_goes_before_its_call():
    """The same placement as the grouped layout and the repair plan (plan.py says why)."""
    d = NAMED["codex-0.77-chat"]
    new, changes = plan((U, C1, T, O1), PER_CALL)
    assert new == (U, T, C1, O1) and verify(new, d).ok
    assert [c.op for c in changes] == ["move-text"]
    new, _ = plan((U, C1, C2, T, O1, O2), PER_CALL)
    assert new == (U, T, C1, O1, C2, O2) and verify(new, d).ok


def test_grouped_held_text_goes_before_the_group():
    d = NAMED["codex-0.78-chat"]
    dead = (U, C1, C2, C3, T, O1, O2, O3)
    assert "did not have response messages" in verify(dead, d).reason
    new, changes = plan(dead, layout_for(d))
    assert new == (U, T, C1, C2, C3, O1, O2, O3) and verify(new, d).ok
    assert [c.op for c in changes] == ["move-text"]


def test_crash_mid_drain_synthetic_results_after_the_group_not_at_call_plus_one():
    d = NAMED["codex-0.78-chat"]
    dead = (U, C1, C2, C3, O1)
    assert not verify(dead, d).accepted  # "aborted" at call+1 splits the group
    new, _ = plan(dead, GROUPED)
    assert new == (U, C1, C2, C3, O1, S2, S3) and verify(new, d).ok
    new, _ = plan(dead, PER_CALL)
    assert new == (U, C1, O1, C2, S2, C3, S3) and verify(new, NAMED["codex-0.77-chat"]).ok


def test_crash_mid_drain_with_text_both_fixes():
    dead = (U, C1, C2, C3, T, O1)
    new, _ = plan(dead, GROUPED)
    assert new == (U, T, C1, C2, C3, O1, S2, S3) and verify(new, NAMED["codex-0.78-chat"]).ok


def test_orphan_goes_as_codex_leaves_it_out_of_every_request():
    ghost = I.output("ghost")
    assert verify((U, ghost, C1, O1), NAMED["codex-0.78-chat"]).ok  # normalize.rs remove_orphan_outputs
    new, changes = plan((U, ghost, C1, O1), GROUPED)
    assert new == (U, C1, O1) and [c.op for c in changes] == ["drop-orphan"]


def test_result_recorded_before_its_call_moves_down_to_it():
    new, changes = plan((U, O1, C1), PER_CALL)
    assert new == (U, C1, O1) and [c.op for c in changes] == ["move-result"]


def test_our_synthetic_result_gives_way_to_a_real_one():
    S1 = I.output(1, I.SYNTHETIC)
    new, changes = plan((U, C1, S1, U, O1), AS_RECORDED)
    assert new == (U, C1, O1, U) and [c.op for c in changes] == ["drop-superseded", "move-result"]


def test_two_real_results_for_one_call_cannot_go_on_chat():
    new, changes = plan((U, C1, O1, O1), PER_CALL)
    assert new == (U, C1, O1, O1) and [c.op for c in changes] == ["keep-duplicate"]
    v = verify(new, NAMED["codex-0.77-chat"])
    assert not v.accepted and "preceeding message with 'tool_calls'" in v.reason


# ---- hypothesis: any history -----------------------------------------------------------------
def _histories():
    item = st.one_of(
        st.just(I.user()), st.just(I.text()), st.just(I.reasoning()), st.just(I.text(I.EMPTY)),
        st.integers(1, 4).map(I.call),
        st.tuples(st.integers(1, 5), st.sampled_from([I.OK, I.USER_ABORT, I.SYNTHETIC])).map(lambda t: I.output(*t)))
    return st.lists(item, max_size=14).map(tuple)


def _mutated():
    """Explored rollouts of the chat designs, cut, with items swapped, doubled or removed."""
    files = sorted(rollout_files("codex-0.78-chat", 2), key=I.show_all)
    ops = st.lists(st.tuples(st.sampled_from(["swap", "dup", "del"]), st.integers(0, 30), st.integers(0, 30)),
                   max_size=4)

    def mutate(args):
        f, todo = args
        f = list(f)
        for op, a, b in todo:
            if not f:
                break
            a, b = a % len(f), b % len(f)
            if op == "swap":
                f[a], f[b] = f[b], f[a]
            elif op == "dup":
                f.insert(b, f[a])
            else:
                del f[a]
        return tuple(f)
    return st.tuples(st.sampled_from(files), ops).map(mutate)


def _promises(h: tuple) -> None:
    for name in SHIPPED:
        d = NAMED[name]
        layout = layout_for(d)
        new, changes = plan(h, layout)
        # items move; only orphans and our own superseded synthetic results go
        rest = list(new)
        called = {it[1] for it in h if it[0] == I.CALL}
        for it in h:
            if it in rest:
                rest.remove(it)
            else:
                assert it[0] == I.OUTPUT and (it[2] == I.SYNTHETIC or it[1] not in called), (h, new)
        assert all(it[0] == I.OUTPUT and it[2] == I.SYNTHETIC for it in rest)
        # user messages and calls keep their order; texts stay in their run
        assert [it for it in new if it[0] in (I.USER, I.CALL)] == [it for it in h if it[0] in (I.USER, I.CALL)]
        again, ch2 = plan(new, layout)
        assert again == new and all(c.op in FIXED for c in ch2)
        # accepted unless a second real result for a call is kept (which no chat request can carry)
        # or an orphan shares an id with a call (which normalization keeps)
        v = verify(new, d)
        if not v.ok:
            assert any(c.op in FIXED for c in changes) or _reused_while_open(h), \
                (name, I.show_all(h), I.show_all(new), v)


def _reused_while_open(h: tuple) -> bool:
    """A call id used again before its call has a result: the rollout reader refuses such a file
    (which result answers which is ambiguous), and one assistant message cannot carry an id twice."""
    open_ids: set = set()
    for kind, cid, _ in h:
        if kind == I.CALL:
            if cid in open_ids:
                return True
            open_ids.add(cid)
        elif kind == I.OUTPUT:
            open_ids.discard(cid)
    return False


@settings(max_examples=300, deadline=None)
@given(_histories())
def test_any_history_is_rescued_or_the_reason_is_a_kept_result(h):
    _promises(h)


@settings(max_examples=300, deadline=None)
@given(_mutated())
def test_mutated_explored_histories(h):
    _promises(h)
