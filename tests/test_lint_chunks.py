"""Bounded memory is not a different answer: judging a rollout chunk by chunk gives exactly the
findings and builder verdicts of judging its whole history at once, and repairing it chunk by
chunk gives exactly normalize_ours of the whole history."""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, given, settings, strategies as st

from turnproof.lint.check import HistoryJudge, default_builders
from turnproof.lint.plan import plan
from turnproof.lint.repair import repair_to
from turnproof.lint.rollout import Chunk, RolloutReader
from tests.test_lint_helpers import rollout_text

BUILDERS = default_builders() + ["turnproof-proposed"]


@st.composite
def histories(draw) -> str:
    """Rounds of calls (fresh ids) with results that may be missing, late (even rounds later),
    repeated or orphaned, and compacted lines."""
    toks: list[str] = []
    nxt = 1
    every: list[int] = []
    for _ in range(draw(st.integers(1, 6))):
        if every and draw(st.integers(0, 9)) == 0:
            toks.append("Z")
        if every and draw(st.integers(0, 3)) == 0:
            toks.append(f"O{draw(st.sampled_from(every))}")
        toks += draw(st.lists(st.sampled_from(["U", "E", "X"]), max_size=2))
        run = draw(st.lists(st.sampled_from(["R", "T", "C", "K"]), min_size=1, max_size=5))
        ids = []
        for t in run:
            if t in "CK":
                toks.append(f"{t}{nxt}")
                ids.append(nxt)
                nxt += 1
            else:
                toks.append(t)
        outs = draw(st.lists(st.sampled_from(ids + [nxt + 50]) if ids else st.just(nxt + 50), max_size=len(ids) + 1))
        toks += [f"O{i}" for i in outs]
        every += ids
        if draw(st.booleans()):
            toks += draw(st.lists(st.sampled_from(["U", "T", "E"] + [f"O{i}" for i in ids]), max_size=3))
    return " ".join(toks)


def judged(chunks) -> tuple[set, dict]:
    hj = HistoryJudge(BUILDERS)
    hj.consume(chunks)
    key = lambda f: (f.rule, f.call_id, f.line, f.provider_error, f.wire)
    return ({key(f) for f in hj.findings},
            {b.design: sorted(map(key, b.findings)) for b in hj.builders})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_chunked_equals_whole(spec):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "r.jsonl")
        with open(p, "w") as f:
            f.write(rollout_text(spec))
        chunks = list(RolloutReader(p).chunks())
        # the whole history of each compacted segment as one chunk: what the judges see unbounded
        segments = []
        for ch in chunks:
            if ch.restart or not segments:
                segments.append(Chunk((), True))
            segments[-1] = Chunk(segments[-1].items + ch.items, True)
        expected = judged(segments)
        assert expected[1]["turnproof-proposed"] == []  # what repair writes is accepted, whatever the file
        assert judged(chunks) == expected
        out = os.path.join(d, "o.jsonl")
        repair_to(p, out)
        got = tuple(it[:2] for ch in RolloutReader(out).chunks() for it in ch.items)
        # a result's copies say the same here ("out N"): the plan of each whole segment, chunk by chunk
        assert got == tuple(it[:2] for s in segments for it in plan(s.items, same=lambda a, b: True).order)


def test_a_long_session_is_cut_into_rounds(tmp_path):
    spec = " ".join(f"U R C{3 * i} C{3 * i + 1} O{3 * i} O{3 * i + 1} T" for i in range(300))
    spec = "C999 " + spec  # a call that never gets a result (a crash) must not stop the cutting
    p = tmp_path / "r.jsonl"
    p.write_text(rollout_text(spec))
    reader = RolloutReader(str(p))
    sizes = [len(ch.items) for ch in reader.chunks()]
    assert reader.bounded and len(sizes) >= 300 and max(sizes) <= 6
    # a late result for the first round: no cut from its call to it (pass 1 saw where it is)
    p.write_text(rollout_text(spec + " U O0"))
    late = [len(ch.items) for ch in RolloutReader(str(p)).chunks()]
    assert max(late) > 1000 and sum(late) == sum(sizes) + 2


def test_ids_recurring_every_round_are_judged_as_the_whole_history(tmp_path):
    import turnproof.lint as L

    # a provider that omits ids: Codex numbers the calls of every response from tool-call-0 again
    rounds = " ".join("U C0 C1 O0 O1 T" for _ in range(200)) + " U C0 O0 C1"
    p = tmp_path / "r.jsonl"
    p.write_text(rollout_text(rounds).replace('"call_0"', '"tool-call-0"').replace('"call_1"', '"tool-call-1"'))
    rep = L.lint_path(str(p))
    hj = HistoryJudge(BUILDERS[:-1])
    hj.consume(RolloutReader(str(p)).chunks())
    assert [f.to_json() for f in rep.findings if f.wire is None] == [f.to_json() for f in hj.findings if f.wire is None]
    assert [f.to_json() for f in rep.info if not f.design] == [f.to_json() for f in hj.findings if f.wire is not None]
    assert {(f.rule, f.call_id, f.line) for f in rep.findings} >= {("calls-answered", "tool-call-1", 1205)}
