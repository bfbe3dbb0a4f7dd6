"""Trace validation: the reference loop runs schedules chosen by hypothesis (which step next:
tool completion order, writer progress, where interrupts, stream errors, early closes, tool
failures and crashes land, torn last lines); every step it logs is replayed on the model with
no reductions; after every step the abstract states must agree (conformance_util.compare) and
so must the sets of steps each side can take next (compare_enabled).
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import shutil
import tempfile
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance_util import run_schedule, seeded, walk, weighted
from turnproof.model.designs import NAMED
from turnproof.model.turnloop import ACTIONS
from turnproof.reference.designs import FIELD as REMOVAL

DESIGNS = list(NAMED) + ["turnproof-proposed@responses", "turnproof-proposed@anthropic"]
# history that shrinks: the removal designs the reference runs (compaction, rollback, truncation)
REMOVAL_DESIGNS = list(REMOVAL) + ["turnproof-proposed-compact@responses"]
_DIR = tempfile.mkdtemp(prefix="turnproof-traces-")
atexit.register(shutil.rmtree, _DIR, True)  # thousands of small session files
_SEQ = itertools.count()


def _path(name: str) -> str:
    return f"{_DIR}/{name}-{next(_SEQ)}.jsonl"


@pytest.mark.parametrize("name", DESIGNS)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_reference_traces_are_model_paths(name, data):
    choose = weighted(lambda: data.draw(st.integers(0, 6), label="fault?") == 0,
                      lambda cs: data.draw(st.sampled_from(cs), label="step"))
    asyncio.run(run_schedule(name, _path(name), choose, calls=3))


@pytest.mark.parametrize("name", REMOVAL_DESIGNS)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_reference_traces_with_removal_are_model_paths(name, data):
    choose = weighted(lambda: data.draw(st.integers(0, 4), label="fault?") == 0,
                      lambda cs: data.draw(st.sampled_from(cs), label="step"))
    asyncio.run(run_schedule(name, _path(name), choose, calls=3))


@pytest.mark.parametrize("name", ["codex-0.77-chat", "turnproof-proposed"])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_reference_traces_without_text(name, data):
    choose = weighted(lambda: data.draw(st.integers(0, 6)) == 0, lambda cs: data.draw(st.sampled_from(cs)))
    asyncio.run(run_schedule(name, _path(name), choose, calls=2, text=False))


VARIANTS = ["codex-0.77-chat+hard_abort_drain=false", "codex-0.77-chat+retry_rejected=true",
            "codex-0.78-chat+normalization=none", "codex-0.77-responses+persist_synthetic=true",
            "seed-fix-1+text_lands=as-streamed", "turnproof-proposed+retry_prompt=reuse+drain_on_stream_error=false",
            # issue 11: ids that restart every response, an empty message beside calls, 0.122's
            # turn_aborted marker on chat, a parser that ends the stream bare
            "codex-0.78-chat+call_ids=index", "codex-0.78-chat+empty_content_with_calls=true",
            "turnproof-proposed+call_ids=index+turn_aborted_marker=true", "codex-0.77-chat+early_close=closed",
            "codex-0.77-responses+early_close=completed"]


@pytest.mark.parametrize("name", VARIANTS)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_reference_traces_on_knob_variants(name, data):
    choose = weighted(lambda: data.draw(st.integers(0, 6)) == 0, lambda cs: data.draw(st.sampled_from(cs)))
    asyncio.run(run_schedule(name, _path(name.replace("+", "_")), choose, calls=3))


def exercised(schedules: int = 40, walks: int = 15) -> Counter:
    """Which model actions the reference took (logged) on every design, over seeded schedules
    (reference-driven; half of them busy: every call streamed before Completed) and random model
    walks (model-driven, full interleavings)."""
    counts: Counter = Counter()
    for name in DESIGNS + REMOVAL_DESIGNS:
        for i in range(schedules):
            run = asyncio.run(run_schedule(name, _path(name), seeded((name, i), busy=i % 2 == 1)))
            counts.update(a for a, _ in run.steps)
        for i in range(walks):
            counts.update(a for a, _ in walk(name, _path(name), i))
    return counts


def test_every_model_action_is_exercised_by_the_reference():
    counts = exercised()
    print("\nmodel actions taken by the reference (seeded schedules and model walks, all designs):")
    for a in ACTIONS:
        print(f"  {a:<16} {counts[a]:>6}")
    missing = [a for a in ACTIONS if counts[a] == 0]
    assert not missing, f"never exercised: {missing}"
