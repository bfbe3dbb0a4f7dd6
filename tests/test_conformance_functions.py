"""The reference's pure parts against the model's, on random histories: normalization (every
mode), request building (every wire and chat grouping) and the stub provider's verdict, with the
exact error text. Histories include repeated ids, orphans, duplicates and split groups, which
the loop itself cannot produce but real files (and lint) can.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance_util import abstract
from turnproof.model import items as I
from turnproof.model.normalize import normalize as model_normalize
from turnproof.model.provider import judge as model_judge
from turnproof.model.wire import build_request
from turnproof.reference import items as RI
from turnproof.reference.normalize import normalize as ref_normalize, unanswered
from turnproof.reference.provider import judge as ref_judge
from turnproof.reference.wire import build

ORIGIN_TEXT = {I.OK: "done", I.USER_ABORT: "Wall time: 0.1 seconds\naborted by user",
               I.CODEX_ABORTED: RI.ABORTED, I.SYNTHETIC: RI.SYNTHETIC}

item = st.one_of(
    st.just(("user",)), st.just(("reasoning",)), st.just(("text",)), st.just(("empty",)),
    st.tuples(st.just("call"), st.integers(1, 4)),
    st.tuples(st.just("output"), st.integers(1, 4), st.sampled_from(list(ORIGIN_TEXT))),
)


def concrete(spec: tuple, wire: str, n: int = 0) -> dict:
    kind = spec[0]
    if kind == "user":
        return RI.user("u")
    if kind == "reasoning":
        return RI.reasoning("r")
    if kind == "text":  # every text differs, as the model's do; only empty ones repeat
        return RI.assistant(f"t{n}")
    if kind == "empty":
        return RI.assistant("")
    cid = I.wire_id(spec[1], wire)
    return RI.call(cid) if kind == "call" else RI.output(cid, ORIGIN_TEXT[spec[2]])


@settings(max_examples=400, deadline=None)
@given(st.lists(item, max_size=12), st.sampled_from(["none", "codex", "ours"]))
def test_normalization_agrees(specs, mode):
    hist = [concrete(s, "chat", n) for n, s in enumerate(specs)]
    model_hist = tuple(abstract(h) for h in hist)
    assert tuple(abstract(h) for h in ref_normalize(hist, mode)) == model_normalize(model_hist, mode)


@settings(max_examples=600, deadline=None)
@given(st.lists(item, max_size=12), st.sampled_from([("chat", "per-call"), ("chat", "consecutive"),
                                                     ("chat", "response"), ("responses", None),
                                                     ("anthropic", None)]))
def test_request_verdicts_agree(specs, wire_grouping):
    wire, grouping = wire_grouping
    hist = [concrete(s, wire, n) for n, s in enumerate(specs)]
    model_hist = tuple(abstract(h) for h in hist)
    want = model_judge(wire, build_request(model_hist, wire, grouping or "consecutive"))
    got = ref_judge(wire, build(hist, wire, grouping or "consecutive"))
    assert (got.message if got else None) == (want[0].text if want else None)
    if wire == "chat" and got:
        assert got.param == want[0].param


@given(st.lists(item, max_size=10))
def test_unanswered_agrees(specs):
    from turnproof.model.normalize import unanswered_calls
    hist = [concrete(s, "chat") for s in specs]
    assert [int(c.split("_")[1]) for c in unanswered(hist)] == unanswered_calls(tuple(abstract(h) for h in hist))
