"""Interned item sequences: the history, rollout queue and rollout file of a state.

A state holds three sequences of history items that share long prefixes with those of the states
around it. Kept as plain tuples, every hash of a state rehashed each sequence and each item tuple
in it (tuples do not cache their hash), which dominated the search. Here every sequence is a node
of one trie: the empty sequence is the root, and ``seq + (item,)`` is its child for that item (one
comparison while a node has one child, one dict lookup past that; made once). Two sequences with
the same items are the same object, so a sequence hashes and compares by identity (in C), whatever
its length, and a state is a flat tuple of small values.

A ``Seq`` reads like the tuple it stands for: ``len``, iteration, ``in``, indexing, slicing (a
prefix is an ancestor), ``+`` with a tuple or another ``Seq`` on either side, ``==`` with a tuple
of the same items, and ``repr`` as that tuple. ``tuple(s)`` or ``s.items`` gives the tuple itself
(made once per node, on first use). The trie lives as long as the process: a sequence is the same
object in every model and every search, so states of two models (the reduced search and the
unreduced one that ``concretize`` replays) compare equal as before. It grows with the number of
distinct sequences, a small fraction of the states.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator


class Seq:
    """An immutable sequence of items, interned: equal sequences are one object."""

    __slots__ = ("parent", "last", "n", "children", "_items", "_joins")

    parent: Seq | None
    last: object
    n: int
    children: Any  # None, the only child (a Seq) or a dict item -> child: narrowed by __class__ below
    _items: tuple | None
    _joins: dict | None

    def __init__(self, parent: Seq | None, last: object) -> None:
        self.parent = parent
        self.last = last  # the last item (None for the root)
        self.n = 0 if parent is None else parent.n + 1
        # the sequences one item longer: none yet, the only one, or a dict item -> it (most nodes of a
        # search's trie have one child, and a dict each was a fifth of its memory)
        self.children = None
        self._items = None if parent is not None else ()
        self._joins = None  # Seq -> self + that Seq (a crash appends the whole queue to the file)

    # ---- building -----------------------------------------------------------------------------
    def __add__(self, other: Iterable) -> Seq:
        if other.__class__ is tuple and len(other) == 1:  # the common case: one item recorded
            children = self.children
            if children.__class__ is Seq:
                if children.last == other[0]:
                    return children
            elif children is not None:
                nxt = children.get(other[0])
                if nxt is not None:
                    return nxt
            return self._extend(other)
        if isinstance(other, Seq):
            joins = self._joins
            if joins is None:
                joins = self._joins = {}
            done = joins.get(other)
            if done is None:  # other's items read, not kept on it (a queue is joined once or twice)
                done = joins[other] = self._extend(other.read())
            return done
        return self._extend(other)

    def _extend(self, other: Iterable) -> Seq:
        node = self
        for it in other:
            children = node.children
            if children is None:
                nxt = node.children = Seq(node, it)
            elif children.__class__ is Seq:
                if children.last == it:
                    nxt = children
                else:
                    nxt = Seq(node, it)
                    node.children = {children.last: children, it: nxt}
            else:
                nxt = children.get(it)
                if nxt is None:
                    nxt = children[it] = Seq(node, it)
            node = nxt
        return node

    def __radd__(self, other: Iterable) -> Seq:  # tuple + Seq
        return EMPTY + other + self

    # ---- reading, as a tuple --------------------------------------------------------------------
    @property
    def items(self) -> tuple:
        """The items as a tuple (made once, kept by this node only: a tuple on every ancestor would
        cost memory quadratic in the length)."""
        if self._items is None:
            self._items = self.read()
        return self._items

    def read(self) -> tuple:
        """The items as a tuple, not kept unless already made (a sequence read once: its tuple
        would outlive the read)."""
        if self._items is not None:
            return self._items
        tail = []
        node: Seq | None = self
        while node is not None and node._items is None:
            tail.append(node.last)
            node = node.parent
        tail.reverse()
        return (node._items if node is not None and node._items is not None else ()) + tuple(tail)

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    def __iter__(self) -> Iterator:
        return iter(self.items)

    def __reversed__(self) -> Iterator:
        return reversed(self.items)

    def __contains__(self, it: object) -> bool:
        return it in self.items

    def __getitem__(self, k):
        if isinstance(k, slice):
            if k.step is None and not k.start:  # a prefix: an ancestor
                stop = self.n if k.stop is None else k.stop
                if stop < 0:
                    stop = max(0, self.n + stop)
                node = self
                for _ in range(self.n - min(stop, self.n)):
                    node = node.parent
                return node
            return EMPTY + self.items[k]
        return self.items[k]

    def index(self, it: object, *args: int) -> int:
        return self.items.index(it, *args)

    def count(self, it: object) -> int:
        return self.items.count(it)

    # ---- identity is equality -------------------------------------------------------------------
    __hash__ = object.__hash__  # equal sequences are one object

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Seq):
            return self is other
        if isinstance(other, tuple):
            return self.items == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __repr__(self) -> str:
        return repr(self.items)

    def __reduce__(self) -> tuple:  # another process interns it into its own trie
        return (seq, (self.items,))


EMPTY = Seq(None, None)


def seq(items: Iterable = ()) -> Seq:
    """The interned sequence of ``items`` (a tuple, a list or a Seq)."""
    if isinstance(items, Seq):
        return items
    return EMPTY + items
