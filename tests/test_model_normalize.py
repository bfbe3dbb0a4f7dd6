"""Normalization: Codex's (call+1) and ours (pair by position), on arbitrary histories."""

from hypothesis import given, settings
from hypothesis import strategies as st

from turnproof.model import items as I
from turnproof.model.normalize import normalize, normalize_codex, normalize_ours_report
from turnproof.model.properties import orphan_results, unanswered_or_duplicated
from turnproof.model.provider import judge
from turnproof.model.wire import build_request

item = st.one_of(
    st.just(I.user()), st.just(I.text()), st.just(I.reasoning()),
    st.builds(I.call, st.integers(1, 5)),
    st.builds(I.output, st.integers(1, 6), st.sampled_from([I.OK, I.USER_ABORT])),
)
histories = st.lists(item, max_size=14).map(tuple)


def _unique_calls(h):
    seen = set()
    for it in h:
        if it[0] == I.CALL:
            if it[1] in seen:
                return False
            seen.add(it[1])
    return True


@settings(max_examples=600, deadline=None)
@given(histories)
def test_ours_is_a_fixed_point_that_every_provider_accepts(h):
    out, changes = normalize_ours_report(h)
    assert normalize_ours_report(out) == (out, [])
    assert unanswered_or_duplicated(out) == [] if _unique_calls(out) else True
    assert orphan_results(out) == []
    if _unique_calls(h):
        for wire in ("chat", "responses", "anthropic"):
            assert judge(wire, build_request(out, wire, "response")) == [], (wire, I.show_all(out))


@settings(max_examples=600, deadline=None)
@given(histories)
def test_ours_only_adds_synthetic_results_and_drops_orphans(h):
    out, changes = normalize_ours_report(h)
    # user and assistant items are all kept, in order
    assert [it for it in out if it[0] != I.OUTPUT] == [it for it in h if it[0] != I.OUTPUT]
    added = [it for it in out if it[0] == I.OUTPUT and it[2] == I.SYNTHETIC]
    assert len(added) == sum(1 for c in changes if c.op == "synthesize")
    dropped = {c.index for c in changes if c.op in ("drop-orphan", "drop-duplicate")}
    kept_real = sorted((it[1], it[2]) for i, it in enumerate(h) if it[0] == I.OUTPUT and i not in dropped)
    assert kept_real == sorted((it[1], it[2]) for it in out if it[0] == I.OUTPUT and it[2] != I.SYNTHETIC)
    for c in changes:
        if c.op == "drop-orphan":
            assert not any(it[0] == I.CALL and it[1] == c.call_id for it in h[: c.index])


def test_codex_inserts_aborted_right_after_each_unanswered_call():
    h = (I.user(), I.call(1), I.call(2), I.call(3), I.output(1), I.output(3))
    assert I.show_all(normalize_codex(h)) == "[U,C1,C2,O2(aborted),C3,O1,O3]"
    assert normalize_codex((I.user(), I.output(7))) == (I.user(),)


def test_ours_places_missing_results_after_the_group():
    h = (I.user(), I.call(1), I.call(2), I.call(3), I.output(1), I.output(3), I.user())
    assert I.show_all(normalize(h, "ours")) == "[U,C1,C2,C3,O1,O3,O2(synthetic),U]"


def test_ours_moves_a_result_recorded_after_a_later_message():
    h = (I.user(), I.call(1), I.call(2), I.output(1), I.user(), I.output(2))
    out, changes = normalize_ours_report(h)
    assert I.show_all(out) == "[U,C1,C2,O1,O2,U]"
    assert [c.op for c in changes] == ["move"]
