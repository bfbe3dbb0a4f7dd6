"""The abstraction agrees with the explicit model: every explored step is matched by the abstract
action of the same name, the invariant holds on the proposed design's reachable states, and the
verdicts the abstraction guarantees are the model's (on explored states and on random histories)."""

import random
from functools import lru_cache

import pytest
import z3
from hypothesis import given, settings, strategies as st

from turnproof.model import items as I
from turnproof.model.designs import NAMED, with_knobs
from turnproof.model.explorer import Explorer
from turnproof.model.normalize import MODES, normalize
from turnproof.model.properties import TurnLoopSpec, orphan_results, unanswered_or_duplicated
from turnproof.model.provider import judge
from turnproof.model.turnloop import READY, Params, State, TurnLoop
from turnproof.model.wire import build_request
from turnproof.proofs.abstract import SymbolicParams, alpha, automaton, ok_props, well_formed, z3_value
from turnproof.proofs.agreement import step_matches, verdicts_sound
from turnproof.proofs.induction import CLAUSES
from turnproof.proofs.transitions import Encoding

VALS = {"N": 2, "T": 2, "R": 1}


@lru_cache(maxsize=None)
def explored(name: str, calls: int = 2):
    m = TurnLoop(NAMED[name], Params(calls=calls))
    ex = Explorer(m, TurnLoopSpec(m))
    ex.run(safety_only=True)
    return m, ex.all_states()


def sample(states, k, seed=7, model=None, per_action=10):
    """k random states, plus (with ``model``) states where each action is enabled."""
    rnd = random.Random(seed)
    out = rnd.sample(states, min(k, len(states)))
    if model is not None:
        counts: dict = {}
        for s in rnd.sample(states, len(states)):
            acts = {a for a, _, _ in model.successors(s)}
            if any(counts.get(a, 0) < per_action for a in acts):
                out.append(s)
                for a in acts:
                    counts[a] = counts.get(a, 0) + 1
    return out


@pytest.mark.parametrize("name", list(NAMED))
def test_every_model_step_is_an_abstract_step(name):
    m, states = explored(name)
    enc, p = Encoding(m.d), SymbolicParams.fresh()
    seen_actions = set()
    for s in sample(states, 40, model=m, per_action=6):
        for action, arg, t in m.successors(s):
            seen_actions.add(action)
            assert step_matches(enc, p, VALS, s, action, t), (action, arg, s, t)
    assert {"SendRequest", "StreamToolCall", "DrainOutput", "Crash", "Resume"} <= seen_actions


@pytest.mark.parametrize("name", ["codex-0.77-chat", "turnproof-proposed"])
def test_wrong_targets_are_not_abstract_steps(name):
    # the match is not vacuous: a target with another next call id, or another phase, is refused
    m, states = explored(name)
    enc, p = Encoding(m.d), SymbolicParams.fresh()
    checked = 0
    for s in sample(states, 60, seed=3):
        for action, _arg, t in m.successors(s):
            a_t = alpha(m.d, t)
            assert not step_matches(enc, p, VALS, s, action, t, {**a_t, "next_id": a_t["next_id"] + 1})
            others = {alpha(m.d, u)["phase"] for a2, _, u in m.successors(s) if a2 == action}
            wrong = next(x for x in range(7) if x not in others)
            assert not step_matches(enc, p, VALS, s, action, t, {**a_t, "phase": wrong})
            checked += 1
    assert checked > 50


def test_a_step_under_another_action_name_is_refused():
    m, states = explored("turnproof-proposed")
    enc, p = Encoding(m.d), SymbolicParams.fresh()
    for s in sample(states, 40, seed=5):
        for action, _arg, t in m.successors(s):
            if action == "StreamToolCall":
                assert not step_matches(enc, p, VALS, s, "StreamReasoning", t)
            if action == "DrainOutput":
                assert not step_matches(enc, p, VALS, s, "DrainFailed", t)


@pytest.mark.parametrize("name,calls", [("turnproof-proposed", 2), ("turnproof-proposed", 3),
                                        ("codex-0.122-responses", 2), ("codex-0.77-chat", 2)])
def test_the_inductive_invariant_holds_on_reachable_states(name, calls):
    # the clauses Houdini keeps are true of alpha(s) for every sampled reachable model state
    from turnproof.proofs.induction import prove
    m, states = explored(name, calls)
    kept = set(prove(m.d).kept)
    p = SymbolicParams(z3.IntVal(calls), z3.IntVal(2), z3.IntVal(1))
    clauses = [c for c in CLAUSES if c.name in kept]
    assert len(clauses) >= 10
    for s in sample(states, 300, seed=calls):
        zs = z3_value(alpha(m.d, s))
        for c in clauses:
            assert z3.is_true(z3.simplify(c.fn(m.d, zs, p))), (c.name, s)


@pytest.mark.parametrize("name", list(NAMED))
def test_guaranteed_verdicts_hold_on_explored_requests(name):
    m, states = explored(name)
    ready = [s for s in states if State(*s).phase == READY]
    assert ready
    for s in ready:
        assert verdicts_sound(m, s) == [], s
    if name == "turnproof-proposed":  # not vacuous: the proof's goals are guaranteed everywhere
        assert all(all(v is True for v in ok_props(m.d, alpha(m.d, s)).values()) for s in ready)


# ---- the verdict characterization on random histories -------------------------------------------
@st.composite
def orderly_histories(draw):
    """Histories the automaton calls orderly: ids increase; each group's outputs follow its run in
    call order; the last group may be left partly unanswered."""
    items, nxt = [], 1
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["user", "run"]))
        if kind == "user":
            items.append(I.user())
            continue
        run, ids = [], []
        for _ in range(draw(st.integers(1, 5))):
            k = draw(st.sampled_from(["reasoning", "text", "call", "call"]))
            if k == "call":
                if not ids:  # ids may skip between groups (calls lost in a crash), not inside one
                    nxt += draw(st.integers(0, 2))
                run.append(I.call(nxt))
                ids.append(nxt)
                nxt += 1
            else:
                run.append(I.reasoning() if k == "reasoning" else I.text())
        items += run
        tags = [draw(st.sampled_from([I.OK, I.USER_ABORT, I.SYNTHETIC])) for _ in ids]
        items += [I.output(c, tg) for c, tg in zip(ids, tags)]
    if draw(st.booleans()):  # an open group at the end
        ids = [nxt + i for i in range(draw(st.integers(1, 3)))]
        items += [I.call(c) for c in ids]
        if draw(st.booleans()):
            items.append(I.text())
        items += [I.output(c) for c in ids[: draw(st.integers(0, len(ids) - 1))]]
    return tuple(items)


ITEM = st.one_of(st.just(I.user()), st.just(I.reasoning()), st.just(I.text()),
                 st.builds(I.call, st.integers(1, 4)), st.builds(I.output, st.integers(1, 4)))
WIRINGS = [("chat", "per-call"), ("chat", "consecutive"), ("chat", "response"), ("responses", "consecutive"),
           ("anthropic", "consecutive")]


def _design(wire, grouping, mode):
    return with_knobs(NAMED["codex-0.77-chat"], "x", wire=wire, chat_grouping=grouping, normalization=mode)


def _check_characterization(h):
    for wire, grouping in WIRINGS:
        for mode in MODES:
            d = _design(wire, grouping, mode)
            a = automaton(d, h)
            if not a["orderly"]:
                continue
            req = normalize(h, mode)
            # every normalization keeps the outputs of an orderly record
            assert all(o in req for o in h if o[0] == I.OUTPUT), (h, mode)
            if a["pending_lo"] == a["pending_hi"]:  # paired: unchanged, answered, no orphans
                assert req == h
                assert not unanswered_or_duplicated(req) and not orphan_results(req)
                accepted = not judge(wire, build_request(req, wire, grouping))
                if a["groups_ok"]:
                    assert accepted, (h, wire, grouping)
            elif mode == "ours":  # synthetic outputs for the pending calls, at the end
                tail = tuple(I.output(c, I.SYNTHETIC) for c in range(a["pending_lo"], a["pending_hi"]))
                assert req == h + tail


@settings(max_examples=400, deadline=None)
@given(orderly_histories())
def test_orderly_histories_are_judged_as_the_abstraction_says(h):
    assert automaton(NAMED["turnproof-proposed"], h)["orderly"], h  # the generator makes orderly ones
    _check_characterization(h)


@settings(max_examples=400, deadline=None)
@given(st.lists(ITEM, max_size=10).map(tuple))
def test_random_histories_are_judged_as_the_abstraction_says(h):
    _check_characterization(h)


@st.composite
def well_formed_histories(draw):
    """Call ids increase; each output answers an earlier call not answered yet, in any order."""
    items, nxt, open_ = [], 1, []
    for _ in range(draw(st.integers(0, 12))):
        k = draw(st.sampled_from(["user", "reasoning", "text", "call", "call", "output", "output"]))
        if k == "call":
            nxt += draw(st.integers(0, 1))
            items.append(I.call(nxt))
            open_.append(nxt)
            nxt += 1
        elif k == "output":
            if open_:
                c = open_.pop(draw(st.integers(0, len(open_) - 1)))
                items.append(I.output(c, draw(st.sampled_from([I.OK, I.USER_ABORT, I.SYNTHETIC, I.CODEX_ABORTED]))))
        else:
            items.append({"user": I.user, "reasoning": I.reasoning, "text": I.text}[k]())
    return tuple(items), nxt


@settings(max_examples=400, deadline=None)
@given(well_formed_histories())
def test_well_formed_histories_are_judged_as_the_abstraction_says(hn):
    h, nxt = hn
    assert well_formed(h, nxt)[0]
    for mode in MODES:
        req = normalize(h, mode)
        assert all(o in req for o in h if o[0] == I.OUTPUT), (h, mode)  # L2 for well-formed records
        assert not orphan_results(req)
        if mode != "none":  # the others give every call exactly one output (or drop it: drop-both)
            assert not unanswered_or_duplicated(req), (h, mode)
            assert not judge("responses", build_request(req, "responses")), (h, mode)
            d = _design("responses", "consecutive", mode)
            oks = ok_props(d, {**automaton(d, h), "well_formed": True, "has_prompt": False, "results_in_history": True,
                               "prompt_quiet": True, "prompt_calls_answered": False, "prompt_no_orphans": False,
                               "prompt_wire_valid": False, "unrecorded": False, "removals_whole": True})
            assert oks["wire-valid"] is True and oks["calls-answered"] is True


def test_the_characterization_is_not_vacuous():
    # the #8479 history is orderly and paired, but its run of two calls does not suit per-call chat
    h = (I.user(), I.call(1), I.call(2), I.output(1), I.output(2))
    d = NAMED["codex-0.77-chat"]
    a = automaton(d, h)
    assert a["orderly"] and a["pending_lo"] == a["pending_hi"] and not a["groups_ok"]
    assert judge("chat", build_request(h, "chat", "per-call"))
    assert automaton(NAMED["codex-0.78-chat"], h)["groups_ok"]
    # an output out of call order is not orderly
    assert not automaton(d, (I.user(), I.call(1), I.call(2), I.output(2), I.output(1)))["orderly"]
