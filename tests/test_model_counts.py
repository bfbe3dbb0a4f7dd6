"""Pinned state counts (like TLC's manifest): any change to the model's behaviour shows here first.

Regenerate tests/golden/state_counts.json only for an intended model change, and say why in the commit.
"""

import json
from pathlib import Path

import pytest

from turnproof.model.designs import NAMED
from turnproof.model.properties import SAFETY
from model_helpers import explore

MANIFEST = json.loads((Path(__file__).parent / "golden" / "state_counts.json").read_text())
SLOW = {("codex-0.77-responses", 3), ("codex-0.122-responses", 3)}


@pytest.mark.parametrize("design,calls", [(d, c) for d in NAMED for c in (1, 2, 3) if (d, c) not in SLOW])
def test_state_counts_are_pinned(design, calls):
    _check(design, calls)


@pytest.mark.slow
@pytest.mark.parametrize("design,calls", sorted(SLOW))
def test_state_counts_are_pinned_slow(design, calls):
    _check(design, calls)


def _check(design, calls):
    m, r = explore(design, calls, "all")
    want = MANIFEST[design][str(calls)]
    assert (r.states, r.edges) == (want["states"], want["steps"])
    assert sorted(p for p in r.violations if p in SAFETY) == want["violated"]
