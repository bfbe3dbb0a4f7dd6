"""model/seq.py: an interned sequence reads like the tuple it stands for, and equal ones are one object.

Random programs of appends, joins and prefixes are run on Seq and on plain tuples side by side,
through nodes that go from no child to one child (kept without a dict) to several (a dict)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnproof.model import items as I
from turnproof.model.seq import EMPTY, Seq, seq

ITEMS = st.sampled_from([I.user(), I.text(), I.reasoning(), I.call(1), I.call(2), I.output(1), I.output(2),
                         I.output(1, I.USER_ABORT)])
STEP = st.one_of(st.tuples(st.just("add"), st.integers(0, 9), ITEMS),
                 st.tuples(st.just("extend"), st.integers(0, 9), st.lists(ITEMS, max_size=3)),
                 st.tuples(st.just("join"), st.integers(0, 9), st.integers(0, 9)),
                 st.tuples(st.just("prefix"), st.integers(0, 9), st.integers(-4, 6)))


@given(st.lists(STEP, max_size=40))
def test_a_seq_reads_like_its_tuple_and_equal_ones_are_one_object(program):
    seqs: list[Seq] = [EMPTY]
    tuples: list[tuple] = [()]
    for op, a, b in program:
        x, tx = seqs[a % len(seqs)], tuples[a % len(tuples)]
        if op == "add":
            y, ty = x + (b,), tx + (b,)
        elif op == "extend":
            y, ty = x + tuple(b), tx + tuple(b)
        elif op == "join":
            y, ty = x + seqs[b % len(seqs)], tx + tuples[b % len(tuples)]
        else:
            y, ty = x[:b], tx[:b]
        seqs.append(y)
        tuples.append(ty)
    by_items: dict = {}
    for s, t in zip(seqs, tuples):
        assert s == t and tuple(s) == t and len(s) == len(t) and list(s) == list(t)
        assert all(s[i] == t[i] for i in range(-len(t), len(t)))
        assert s is seq(t) is EMPTY + t  # interned: the same items give the same object
        assert by_items.setdefault(t, s) is s
        if t:
            assert s.parent == t[:-1] and s.last == t[-1] and t[-1] in s
    for s in seqs:  # a node keeps its children without a dict until it has two
        kids = s.children
        assert kids is None or isinstance(kids, Seq) or len(kids) >= 2
