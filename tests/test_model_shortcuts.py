"""The search's shortcuts give what the code they stand for gives.

The explorer keeps states packed (TurnLoop.pack), judges OpenAI's chat and Responses rules on a
model history without building the body (provider.chat_items_accepted, responses_items_accepted)
and results-kept along the rollout's trie (TurnLoop.real_results); successors skip the actions
refused before in the same control state; normalize_ours skips a history already paired. Each is
compared here with the plain code, on every state or request of real searches and on random
histories.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnproof.model import items as I
from turnproof.model.designs import FIELD, NAMED
from turnproof.model.explorer import Explorer
from turnproof.model.properties import PROPERTIES, TurnLoopSpec, _ids, dropped_results
from turnproof.model.normalize import already_paired, normalize_ours, normalize_ours_report
from turnproof.model.provider import chat_items_accepted, judge, responses_items_accepted
from turnproof.model.turnloop import FAULTS, FILE, QUEUE, Params, TurnLoop
from turnproof.model.wire import build_request

SHORTCUT = [n for n, d in {**NAMED, **FIELD}.items() if d.wire in ("responses", "chat")]


def _search(design, calls: int = 2, faults=None):
    params = Params(calls=calls) if faults is None else Params(calls=calls, faults=faults)
    m = TurnLoop(design, params)
    e = Explorer(m, TurnLoopSpec(m))
    r = e.run(safety_only=True)
    return m, e, r


@pytest.mark.parametrize("name", SHORTCUT)
def test_the_shortcut_agrees_with_the_judge_on_every_request(name):
    d = {**NAMED, **FIELD}[name]
    m, _, _ = _search(d)
    assert m._accepts is not None and m._items_cache
    rejected = 0
    for items, req in m._items_cache.items():
        rejections = judge(d.wire, build_request(items, d.wire, d.chat_grouping, None))
        assert m._accepts(items) == (not rejections), items
        assert req.rejected == bool(rejections)
        assert req.rejections == tuple(rejections)  # found when read, as the body's judgement finds them
        rejected += bool(rejections)
    assert rejected or name in ("turnproof-proposed", "turnproof-proposed-compact", "codex-0.122-responses",
                                "codex-0.77-responses", "seed-fix-2") or name in FIELD


ITEM = st.one_of(
    st.just(I.user()), st.just(I.reasoning()), st.just(I.text()), st.just(I.text(I.EMPTY)),
    st.builds(I.call, st.integers(-3, 4)),
    st.builds(lambda c, tag: (I.OUTPUT, c, tag), st.integers(-3, 4), st.sampled_from([I.OK, I.SYNTHETIC, I.USER_ABORT])),
)


@given(st.lists(ITEM, max_size=12))
def test_the_responses_shortcut_agrees_with_the_judge_on_random_histories(items):
    items = tuple(items)
    assert responses_items_accepted(items) == (not judge("responses", build_request(items, "responses")))


@pytest.mark.parametrize("grouping", ["per-call", "consecutive", "response"])
@given(items=st.lists(ITEM, max_size=12))
def test_the_chat_shortcut_agrees_with_the_judge_on_random_histories(grouping, items):
    items = tuple(items)
    for provider in (None, "deepseek"):
        want = not judge("chat", build_request(items, "chat", grouping, provider), provider)
        assert chat_items_accepted(items, grouping) == want, (grouping, provider)


@pytest.mark.parametrize("grouping", ["per-call", "consecutive", "response"])
def test_the_chat_shortcut_agrees_on_histories_that_pair(grouping):
    """Random lists are mostly rejected: these are the shapes a loop records, mostly accepted."""
    for n in range(1, 4):
        for texts in ((), (I.text(),), (I.text(I.EMPTY),)):
            calls = tuple(I.call(c) for c in range(1, n + 1))
            outs = tuple(I.output(c) for c in range(1, n + 1))
            for items in ((I.user(), I.reasoning()) + texts + calls + outs + (I.user(),),
                          (I.user(),) + calls + texts + outs,
                          (I.user(),) + calls[:1] + texts + calls[1:] + outs + texts,
                          (I.user(),) + calls + outs[::-1] + (I.text(I.EMPTY),) + calls[:1] + outs[:1]):
                want = not judge("chat", build_request(items, "chat", grouping))
                assert chat_items_accepted(items, grouping) == want, (grouping, items)


def test_the_shortcuts_decline_ids_that_are_not_ints():
    assert not responses_items_accepted((I.call("x"), I.output("x")))
    assert not chat_items_accepted((I.call("x"), I.output("x")), "response")


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


@pytest.mark.parametrize("name", sorted({**NAMED, **FIELD}))
def test_successors_that_skip_refused_actions_are_every_actions_successors(name):
    """TurnLoop.successors asks again only the actions that fired before with the same control id,
    head of the drain and running futures (and those whose guards read items): the same steps, in
    the same order, as asking every action of the phase, on every state of a search with every
    fault (the removal ones too), calls 1."""
    d = {**NAMED, **FIELD}[name]
    m, e, r = _search(d, calls=1, faults=frozenset(FAULTS))
    plain = TurnLoop(d, m.p)  # never unpacks, so it asks every action
    for i in range(r.states):
        s = e.state(i)  # unpacked by m: its successors go through the cache
        assert m.successors(s) == plain.successors(s), (name, i)
    # the cache skips something: (control id, head, running) -> the actions still asked there
    assert any(len(acts) < len(m._table[m._ctrls[key >> 4][0]]) for key, acts in m._enabled.items()
               if isinstance(key, int))


def _paired_shapes():
    """Histories a loop records whole: runs of reasoning, text and calls, each answered right after."""
    return st.lists(st.tuples(st.booleans(), st.lists(st.integers(-2, 5), max_size=3, unique=True),
                              st.permutations(range(3)), st.booleans()), max_size=4)


@given(_paired_shapes(), st.lists(ITEM, max_size=3), st.integers(0, 20))
def test_already_paired_histories_are_what_ours_leaves_alone(runs, noise, at):
    """normalize_ours skips its two passes when already_paired says it would change nothing: that
    holds on random histories, on whole ones, and on whole ones with a random item put in."""
    whole: tuple = ()
    for text, ids, order, user in runs:
        whole += ((I.text(),) if text else ()) + tuple(I.call(c) for c in ids)
        whole += tuple(I.output(ids[k]) for k in order if k < len(ids)) + ((I.user(),) if user else ())
    at = min(at, len(whole))
    for items in (whole, whole[:at] + tuple(noise) + whole[at:], tuple(noise)):
        full = normalize_ours_report(items, report=False)[0]
        if already_paired(items):
            assert full == items
        assert normalize_ours(items) == full
    assert already_paired(whole)
