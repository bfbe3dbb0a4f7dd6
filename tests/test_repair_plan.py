"""The repair plan (turnproof/lint/plan.py) on generated histories: nothing a provider needs is lost,
every call ends up answered inside its group, and repairing twice changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from turnproof.lint.plan import GROUPINGS, Conflict, plan, with_grouping
from turnproof.model.items import CALL, OUTPUT, REASONING, SYNTHETIC, TEXT, USER
from turnproof.model.normalize import normalize_ours, normalize_ours_report


@st.composite
def histories(draw, max_len: int = 24):
    """Items with unique tags; call ids never reused while the first call waits (readers refuse that)."""
    kinds = draw(st.lists(st.sampled_from([USER, REASONING, TEXT, CALL, CALL, OUTPUT, OUTPUT]), max_size=max_len))
    out, waiting, used = [], set(), []
    for i, k in enumerate(kinds):
        free = [c for c in ("a", "b", "c", "d", "e", "f") if c not in waiting]
        if k == CALL and free:
            cid = draw(st.sampled_from(free))
            waiting.add(cid)
            used.append(cid)
            out.append((CALL, cid, i))
        elif k == OUTPUT:
            cid = draw(st.sampled_from(["a", "b", "c", "d", "e", "f", "ghost"]))
            waiting.discard(cid)
            out.append((OUTPUT, cid, i))
        else:
            out.append((k if k != CALL else TEXT, None, i))
    return tuple(out)


def _outputs_by_call(order: tuple) -> list:
    """Per call, in order: the ids answered by the results directly after its group."""
    return [it for it in order if it[0] == OUTPUT]


def _grouped_ok(order: tuple, grouping: str) -> bool:
    """Every call is followed, right after its group, by exactly one result."""
    seq = with_grouping(order, grouping)
    return normalize_ours_report(seq)[1] == []


@settings(max_examples=400, deadline=None)
@given(histories(), st.sampled_from(GROUPINGS), st.booleans())
def test_plan_keeps_everything_and_answers_every_call(items, grouping, stateful):
    try:
        p = plan(items, grouping=grouping, stateful=stateful)
    except Conflict as c:  # two results for one call, neither a copy of the other
        outs = [it for it in items if it[0] == OUTPUT and it[1] == c.call_id]
        assert len(outs) >= 2
        return
    order = p.order
    # user and assistant items: all there, in their order but for held text moved before its group
    assert p.texts <= {it[2] for it in items if it[0] == TEXT} and (grouping == "calls" or not p.texts)
    kept = [it for it in items if it[0] != OUTPUT]
    assert [it for it in order if it[0] != OUTPUT and it[2] not in p.texts] == \
        [it for it in kept if it[2] not in p.texts]
    assert sorted(map(repr, (it for it in order if it[0] != OUTPUT))) == sorted(map(repr, kept))
    # every result is in the order, kept in place, or dropped for a reason
    called = {it[1] for it in items if it[0] == CALL}
    for it in items:
        if it[0] != OUTPUT:
            continue
        if it[2] in p.dropped:
            d = p.dropped[it[2]]
            assert d.op in ("drop-orphan", "drop-duplicate", "drop-synthetic")
            assert d.op == "drop-orphan", "no copies or synthetic results without same()/made_up()"
            assert it[1] not in called and not stateful
        elif it[2] in p.kept:
            assert stateful and it[1] not in called
        else:
            assert it in order
    if grouping == "set":  # only results recorded before their call move; each call answered once, later
        assert all(d == "down" for d in p.moved.values())
        waiting = {}
        for it in order:
            if it[0] == CALL:
                waiting[it[1]] = waiting.get(it[1], 0) + 1
            elif it[0] == OUTPUT:
                assert waiting.get(it[1], 0) > 0, order
                waiting[it[1]] -= 1
        assert not any(waiting.values())
        stay = [it for it in items if it[2] not in p.dropped and it[2] not in p.kept and it[2] not in p.moved]
        assert [it for it in order if it[2] != SYNTHETIC and it[2] not in p.moved] == stay
    else:  # each call answered exactly once, right after its group
        assert _grouped_ok(order, grouping)
    # idempotent
    again = plan(order, grouping=grouping, stateful=stateful)
    assert not again.changed and again.order == order


@settings(max_examples=300, deadline=None)
@given(histories())
def test_plan_is_turnproof_proposed_normalization_when_nothing_is_early(items):
    """No second result and nothing early: the plan is turnproof-proposed's normalization."""
    seen, clean = set(), True
    answered = set()
    for it in items:
        if it[0] == CALL:
            seen.add(it[1])
        elif it[0] == OUTPUT:
            if it[1] in answered or (it[1] not in seen and any(x[0] == CALL and x[1] == it[1] for x in items)):
                clean = False  # a second result, or a result before its call
            answered.add(it[1])
    if not clean:
        return
    assert plan(items).order == normalize_ours(items)


def test_result_before_its_call_moves_down_instead_of_being_dropped():
    items = ((USER, None, 0), (OUTPUT, "a", 1), (CALL, "a", 2), (USER, None, 3))
    p = plan(items)
    assert p.order == ((USER, None, 0), (CALL, "a", 2), (OUTPUT, "a", 1), (USER, None, 3))
    assert p.moved == {1: "down"} and not p.dropped


def test_second_result_kept_unless_a_copy():
    items = ((USER, None, 0), (CALL, "a", 1), (OUTPUT, "a", 2), (OUTPUT, "a", 3))
    with pytest.raises(Conflict):
        plan(items)
    p = plan(items, same=lambda x, y: True)
    assert p.order == items[:3] and p.dropped[3].op == "drop-duplicate"


def test_real_result_replaces_a_synthetic_one():
    items = ((USER, None, 0), (CALL, "a", 1), (OUTPUT, "a", 2), (USER, None, 3), (OUTPUT, "a", 4))
    p = plan(items, made_up=lambda t: t == 2)
    assert p.order == ((USER, None, 0), (CALL, "a", 1), (OUTPUT, "a", 4), (USER, None, 3))
    assert p.dropped[2].op == "drop-synthetic" and p.moved == {4: "up"}


def test_stateful_orphans_stay_untouched():
    items = ((OUTPUT, "server_call", 0), (USER, None, 1))
    p = plan(items, stateful=True)
    assert not p.changed and p.kept == {0} and p.order == ((USER, None, 1),)


@pytest.mark.parametrize("grouping, expect", [
    ("run", "T Ca T Cb Oa Ob"), ("calls", "T T Ca Cb Oa Ob"), ("set", "T Ca T Cb Oa Ob")])
def test_groupings(grouping, expect):
    def parse(s):
        return tuple((TEXT, None, k) if t == "T" else (CALL if t[0] == "C" else OUTPUT, t[1], t)
                     for k, t in enumerate(s.split()))

    items = parse("T Ca T Cb Oa Ob")
    got = plan(items, grouping=grouping).order
    assert " ".join("T" if k == TEXT else ("C" if k == CALL else "O") + c for k, c, _ in got) == expect


def test_a_huge_group():
    """100k parallel calls, half answered after a user message (timings: benchmarks/bench_repair.py)."""
    n = 100_000
    items = tuple((CALL, f"c{i}", i) for i in range(n)) + ((USER, None, "u"),) + \
        tuple((OUTPUT, f"c{i}", n + i) for i in range(0, n, 2))
    p = plan(items)
    assert p.synthesized == n // 2 and len(p.moved) == n // 2


# ---- the repaired history on the Responses wire ------------------------------------------------------
from turnproof.model.provider import judge_responses  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(histories())
def test_repaired_history_is_accepted_on_responses(items):
    try:
        order = plan(items, grouping="set").order
    except Conflict:
        return
    body = [{"type": "function_call", "call_id": c, "name": "f", "arguments": "{}"} if k == CALL else
            {"type": "function_call_output", "call_id": c, "output": "o"} if k == OUTPUT else
            {"role": "assistant" if k == TEXT else "user", "content": "x"} if k != REASONING else
            {"type": "reasoning", "summary": []} for k, c, _ in order]
    assert judge_responses(body) == []


# ---- held text: one placement, the plan's and rescue.py's -----------------------------------------
from turnproof.lint import rescue  # noqa: E402
from turnproof.lint.plan import sep  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(histories())
def test_held_text_goes_where_rescue_puts_it(items):
    """Where a group is cut at text (``calls``), the plan lays a history out as rescue.py's grouped
    layout does for Codex 0.78+ chat: held text before the group. (The two pair a second result
    differently: the plan refuses a conflict, rescue.py keeps it in place; so results are left out.)"""
    try:
        p = plan(items, grouping="calls")
    except Conflict:
        return
    new, changes = rescue.plan(items, rescue.GROUPED)
    assert [it for it in p.order if it[0] != OUTPUT] == [it for it in new if it[0] != OUTPUT]
    assert p.texts == {items[c.index][2] for c in changes if c.op == "move-text"}


def test_held_text_message_moves_before_its_call_message():
    """A chat body [assistant{a,b}, assistant{text}, tool a, tool b]: the text message goes first."""
    A, B, T = (CALL, "a", (0, 0)), (CALL, "b", (0, 1)), (TEXT, None, (1, "text"))
    Oa, Ob = (OUTPUT, "a", 2), (OUTPUT, "b", 3)
    p = plan((A, B, sep(1), T, Oa, Ob))
    assert p.order == (T, A, B, Oa, Ob) and p.texts == {T[2]} and p.moved == {T[2]: "up"}
    # a message with text and calls is a group of its own: nothing moves but results
    C = (CALL, "c", (1, 0))
    p = plan((A, sep(1), T, C, Oa, (OUTPUT, "c", 4)))
    assert p.order == (A, Oa, T, C, (OUTPUT, "c", 4)) and not p.texts
