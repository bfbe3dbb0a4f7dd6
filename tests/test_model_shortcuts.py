"""The search's shortcuts give what the code they stand for gives.

The explorer keeps states packed (TurnLoop.pack), judges OpenAI's Responses rules on a model
history as a comparison of id sets (provider.responses_items_accepted) and results-kept along the
rollout's trie (TurnLoop.real_results). Each is compared here with the plain code, on every state
or request of real searches and on random histories.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnproof.model import items as I
from turnproof.model.designs import FIELD, NAMED
from turnproof.model.explorer import Explorer
from turnproof.model.properties import PROPERTIES, TurnLoopSpec, _ids, dropped_results
from turnproof.model.provider import judge, responses_items_accepted
from turnproof.model.turnloop import FILE, QUEUE, Params, TurnLoop
from turnproof.model.wire import build_request

RESPONSES = [n for n, d in {**NAMED, **FIELD}.items() if d.wire == "responses"]


def _search(design, calls: int = 2, faults=None):
    params = Params(calls=calls) if faults is None else Params(calls=calls, faults=faults)
    m = TurnLoop(design, params)
    e = Explorer(m, TurnLoopSpec(m))
    r = e.run(safety_only=True)
    return m, e, r


@pytest.mark.parametrize("name", RESPONSES)
def test_the_responses_shortcut_agrees_with_the_judge_on_every_request(name):
    d = {**NAMED, **FIELD}[name]
    m, _, _ = _search(d)
    assert m._fast_accept and m._items_cache
    for items, req in m._items_cache.items():
        body = build_request(items, d.wire, d.chat_grouping, None)
        rejections = judge(d.wire, body)
        assert responses_items_accepted(items) == (not rejections), items
        assert bool(req.rejections) == bool(rejections)


ITEM = st.one_of(
    st.just(I.user()), st.just(I.reasoning()), st.just(I.text()),
    st.builds(I.call, st.integers(-3, 4)),
    st.builds(lambda c, tag: (I.OUTPUT, c, tag), st.integers(-3, 4), st.sampled_from([I.OK, I.SYNTHETIC, I.USER_ABORT])),
)


@given(st.lists(ITEM, max_size=12))
def test_the_responses_shortcut_agrees_with_the_judge_on_random_histories(items):
    items = tuple(items)
    assert responses_items_accepted(items) == (not judge("responses", build_request(items, "responses")))


def test_the_responses_shortcut_declines_ids_that_are_not_ints():
    assert not responses_items_accepted((I.call("x"), I.output("x")))


@pytest.mark.parametrize("name", ["turnproof-proposed", "codex-0.77-responses", "codex-0.78-chat"])
def test_packed_states_unpack_to_themselves(name):
    m, e, r = _search(NAMED[name])
    seen = set()
    for i in range(r.states):
        s = e.state(i)
        assert m.pack(s) == e._states[i] and m.unpack(m.pack(s)) == s
        seen.add(s)
    assert len(seen) == r.states  # distinct keys are distinct states


@pytest.mark.parametrize("name,violated", [("turnproof-proposed", False), ("codex-0.122-compact", False),
                                            ("cline", True), ("cline-pre-7225", True)])
def test_results_kept_along_the_trie_is_dropped_results(name, violated):
    d = {**NAMED, **FIELD}[name]
    faults = frozenset(("crash", "compaction", "rollback", "stream-error")) if name in FIELD else None
    m, e, r = _search(d, faults=faults)
    judge_kept = PROPERTIES["results-kept"].judge
    lost_somewhere = False
    for i in range(r.states):
        s = e.state(i)
        if s[0] != "ready":
            continue
        lost = dropped_results(s[FILE] + s[QUEUE], m.request(s).items)
        got = judge_kept(m, s, "SendRequest", "accepted", s)
        assert got == ("results recorded for the rollout but not in this request: " + _ids(m, lost) if lost else None)
        lost_somewhere |= bool(lost)
    assert lost_somewhere == violated
