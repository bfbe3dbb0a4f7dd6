"""Conformance of history that shrinks (issue 13): the model's Compact, Rollback and TruncateOutput
steps taken on the reference loop, for the removal designs the reference runs (reference/designs.py
FIELD: Codex's compaction at v0.47, v0.78 and v0.122, v0.122's rollback and truncation, and
turnproof-proposed's removal policy).

Both directions, as for the other actions: every shortest counterexample and random walks of the
model (no reductions) are driven into the reference, which must log the same steps, send the same
summary and turn requests with the provider's same verdicts and reach the same abstract state
(history, the rollout lines queued and on disk, compacted and thread_rolled_back lines included);
test_conformance_traces.py checks the other direction. Of the other agents' policies the reference
runs the keep-the-last-N window with and without a pair guard (the loop around it is Codex's, with
no repair). And the crash window: memory is replaced
before the `compacted` line reaches the file, so a crash in between resumes the whole history.
"""

from __future__ import annotations

import asyncio
import random
from functools import lru_cache

import pytest

from conformance_util import Mismatch, designs, file_items, follow, make_model, random_path, replay, run_schedule, seeded
from turnproof.model import items as I
from turnproof.model.designs import FIELD
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import CompactArg, Params, State, TurnLoop
from turnproof.reference.designs import FIELD as REF_FIELD, unsupported

REMOVAL = list(REF_FIELD)


def test_the_reference_runs_the_codex_removal_designs_with_the_models_knobs():
    assert REMOVAL == ["codex-0.47-compact", "codex-0.78-compact", "codex-0.122-compact", "codex-0.122-rollback",
                       "turnproof-proposed-compact", "keep-last-n", "keep-last-n-paired"]
    for n, rd in REF_FIELD.items():
        assert rd.knobs() == FIELD[n].knobs(), n
    # the rest of the field table is refused with a reason: other wires, repairs and cuts
    for n, md in FIELD.items():
        why = unsupported(md.knobs())
        assert (why is None) == (n in REF_FIELD), (n, why)


@lru_cache(maxsize=None)
def explored(name: str):
    md, _ = designs(name)
    m = TurnLoop(md, Params(calls=2, retries=1))
    r = Explorer(m, TurnLoopSpec(m)).run()
    for v in r.violations.values():
        v.path = m.concretize(v.path)
    return m, r


EXPECTED = {  # the model's verdicts at calls 2 (the matrix pins them at calls 3)
    "codex-0.47-compact": {"calls-answered", "no-orphan-results", "wire-valid", "results-recorded"},
    "codex-0.78-compact": {"results-recorded"},
    "codex-0.122-compact": set(),
    "codex-0.122-rollback": set(),
    "turnproof-proposed-compact": set(),
    # OpenHarness #191: the window cuts a pair, and nothing repairs the request; with the pair guard
    # only the v0.122 loop around it without a repair (a crash leaves a call open) fails
    "keep-last-n": {"calls-answered", "no-orphan-results", "wire-valid", "removal-keeps-pairs", "resumable",
                    "can-proceed"},
    "keep-last-n-paired": {"calls-answered", "wire-valid", "resumable", "can-proceed"},
}


@pytest.mark.parametrize("name", REMOVAL)
def test_counterexamples_replay_on_the_reference(name, tmp_path):
    model, result = explored(name)
    assert set(result.violations) == EXPECTED[name]
    for prop, v in result.violations.items():
        path = v.path + list(v.continuation)
        _, errors = asyncio.run(replay(name, model, path, tmp_path))
        if prop in ("wire-valid", "no-orphan-results", "calls-answered") and "Compact" in [a for a, _, _ in path]:
            # the summary request the reference sent got the provider's text the model reports
            assert errors, (prop, path)
        if prop == "wire-valid":
            assert errors[-1] == v.detail.text, (errors, v.detail.text)
        if prop == "calls-answered" and name == "codex-0.47-compact":
            # a failed tool leaves its call open; the raw summary request before the follow-up is
            # rejected, and that ends the turn (the reference is idle again, as the model)
            assert path[-1][0] == "Compact" and not path[-1][1].accepted and State(*path[-2][2]).phase == "ready"
            assert State(*path[-1][2]).phase == "idle"


def test_5385_the_047_trim_sends_an_orphan_result_and_the_provider_rejects_it(tmp_path):
    """codex-0.47-compact's shortest orphan: a call left open by a crash, "aborted" on resume, then a
    /compact whose request lost its oldest items to context-window errors: the orphaned result is
    sent without its call (openai/codex #5385)."""
    model, result = explored("codex-0.47-compact")
    v = result.violations["no-orphan-results"]
    steps = [a for a, _, _ in v.path[1:]]
    assert steps[-1] == "Compact" and "Crash" in steps and "Resume" in steps
    sim, errors = asyncio.run(replay("codex-0.47-compact", model, v.path, tmp_path))
    items, _, verdict = sim.session.requests[-1]
    assert items[0]["type"] == "function_call_output" and verdict is not None
    assert errors[-1] == "No tool call found for function call output with call_id call_1."
    # v0.48's pair-aware trim drops the result with its call: the same steps are accepted there
    assert not set(explored("codex-0.78-compact")[1].violations) & {"no-orphan-results", "wire-valid"}


@pytest.mark.parametrize("name", REMOVAL)
def test_random_model_walks_replay_on_the_reference(name, tmp_path):
    model = make_model(name, calls=3)
    rng = random.Random(name)
    taken: set = set()
    for walk in range(25):
        path = random_path(model, rng, 0.3)
        taken.update(a for a, _, _ in path[1:])
        try:
            asyncio.run(replay(name, model, path, tmp_path, check_enabled=True))
        except Mismatch as e:
            raise Mismatch(f"walk {walk}: {[(a, b) for a, b, _ in path[1:]]}\n{e}") from None
    md = model.d
    want = {"Compact"} if md.compacts else set()
    want |= {"Rollback"} if md.rollback else set()
    want |= {"TruncateOutput"} if md.truncate_outputs else set()
    assert want <= taken, (name, want - taken)


@pytest.mark.parametrize("name", REMOVAL)
def test_reference_schedules_with_removal_are_model_paths(name, tmp_path):
    steps: set = set()
    for i in range(12):
        run = asyncio.run(run_schedule(name, str(tmp_path / f"s{i}.jsonl"),
                                       seeded((name, i), fault_rate=0.3, busy=i % 2 == 1), calls=3))
        steps.update(a for a, _ in run.steps)
    assert steps & {"Compact", "Rollback", "TruncateOutput"}, steps


# ---- paths built step by step on the model -------------------------------------------------------
def _take(model: TurnLoop, path: list, action: str, arg: object = None, pick_arg=None) -> tuple:
    s = path[-1][2]
    for a, b, t in model.successors(s):
        if a == action and (arg is None or b == arg) and (pick_arg is None or pick_arg(b, t)):
            path.append((a, b, t))
            return t
    raise AssertionError(f"the model cannot take {action}({arg}) after {[x[:2] for x in path[1:]]}")


def _one_round(model: TurnLoop) -> list:
    """A user turn with one call, its result, and the follow-up that ends the turn."""
    path = [(None, None, model.init_states()[0])]
    for a, b in [("UserMessage", None), ("SendRequest", "accepted"), ("StreamToolCall", 1),
                 ("StreamCompleted", None), ("ToolFinish", 1), ("DrainOutput", 1), ("SendRequest", "accepted"),
                 ("StreamCompleted", None)]:
        _take(model, path, a, b)
    return path


@pytest.mark.parametrize("name", ["codex-0.78-compact", "codex-0.122-compact", "turnproof-proposed-compact"])
def test_crash_between_the_memory_replace_and_the_compacted_line_resumes_the_whole_history(name, tmp_path):
    model = make_model(name, calls=2)
    path = _one_round(model)
    queued = len(State(*path[-1][2]).queue)
    t = _take(model, path, "Compact", pick_arg=lambda b, t: b.accepted)
    assert State(*t).history[-1] == I.user(I.SUMMARY) and State(*t).queue[-1][0] == I.COMPACTED
    _take(model, path, "Crash", queued)  # every line but the compacted one reached the file
    t = _take(model, path, "Resume")
    hist = State(*t).history
    assert I.call(1) in hist and I.output(1) in hist and I.user(I.SUMMARY) not in hist
    sim, _ = asyncio.run(replay(name, model, path, tmp_path, check_enabled=True))
    assert I.COMPACTED not in [x[0] for x in file_items(sim.path)]
    # and with the line written, resume starts from the replacement
    path = _one_round(model)
    _take(model, path, "Compact", pick_arg=lambda b, t: b.accepted)
    _take(model, path, "Crash", queued + 1)
    t = _take(model, path, "Resume")
    assert tuple(State(*t).history) == (I.user(), I.user(I.SUMMARY))
    asyncio.run(replay(name, model, path, tmp_path, check_enabled=True))


def test_compaction_before_the_follow_up_request(tmp_path):
    """Mid-turn compaction (after the drain, before the follow-up, its summary request trimmed
    once): the follow-up is built from the summary."""
    name = "codex-0.122-compact"
    model = make_model(name, calls=2)
    path = [(None, None, model.init_states()[0])]
    for a, b in [("UserMessage", None), ("SendRequest", "accepted"), ("StreamToolCall", 1),
                 ("StreamCompleted", None), ("ToolFinish", 1), ("DrainOutput", 1)]:
        _take(model, path, a, b)
    assert State(*path[-1][2]).phase == "ready"
    _take(model, path, "Compact", pick_arg=lambda b, t: b.accepted and b.trimmed == 1)
    _take(model, path, "SendRequest", "accepted")
    sim, _ = asyncio.run(replay(name, model, path, tmp_path, check_enabled=True))
    assert [RI_type(p) for p in sim.session.requests[-1][0]] == ["user", "summary"]


def RI_type(p: dict) -> str:
    from turnproof.reference.rollout import SUMMARY_PREFIX
    from turnproof.reference.items import text_of
    return "summary" if text_of(p).startswith(SUMMARY_PREFIX) else p.get("role", p["type"])


def test_rollback_and_truncation_paths(tmp_path):
    name = "codex-0.122-rollback"
    model = make_model(name, calls=2)
    path = _one_round(model)
    t = _take(model, path, "TruncateOutput", 1)
    assert I.output(1, I.TRUNCATED) in State(*t).history
    _take(model, path, "UserMessage")
    _take(model, path, "SendRequest", "accepted")  # the truncated result is sent: the same result
    _take(model, path, "StreamCompleted")
    t = _take(model, path, "Rollback", 2)  # both turns: cut at the first user message
    assert tuple(State(*t).history) == ()
    _take(model, path, "Crash", len(State(*t).queue))
    t = _take(model, path, "Resume")
    assert tuple(State(*t).history) == ()
    sim, _ = asyncio.run(replay(name, model, path, tmp_path, check_enabled=True))
    assert sim.session.lost_results[-1] == [] if sim.session.lost_results else True


def test_a_design_the_reference_cannot_run_is_refused_with_its_reason():
    assert unsupported(FIELD["gemini-cli"].knobs()) == ("the reference loop never compacts while tools are in flight "
                                                        "(compaction = in-flight)")
    assert "no compaction that keeps 'cline-range'" in unsupported(FIELD["cline-pre-7225"].knobs())
    knobs = {**FIELD["codex-0.78-compact"].knobs(), "normalization": "placeholder"}
    assert "no 'placeholder' repair" in unsupported(knobs)


def test_keep_last_n_cuts_a_pair_and_the_provider_names_the_result(tmp_path):
    """OpenHarness #191: the window starts at a message holding a result whose call it cut; with no
    repair the request carries the result first, and Anthropic rejects it; the paired window does not
    cut there."""
    model, result = explored("keep-last-n")
    v = result.violations["removal-keeps-pairs"]
    assert v.path[-1][0] == "Compact" and v.path[-1][1].cut.startswith("keep from ")
    asyncio.run(replay("keep-last-n", model, v.path, tmp_path))
    w = result.violations["no-orphan-results"]
    _, errors = asyncio.run(replay("keep-last-n", model, w.path, tmp_path))
    assert errors and "unexpected `tool_use_id` found in `tool_result` blocks" in errors[-1]
    assert "removal-keeps-pairs" not in explored("keep-last-n-paired")[1].violations


# ---- the fix on the same schedules -----------------------------------------------------------------
BROKEN = ("codex-0.47-compact", "codex-0.78-compact", "keep-last-n", "keep-last-n-paired")


def _schedules():
    for name in BROKEN:
        for prop, v in explored(name)[1].violations.items():
            yield f"{name}:{prop}", [(a, b) for a, b, _ in (v.path + list(v.continuation))[1:]]


@pytest.mark.parametrize("case", [c for c, _ in _schedules()])
def test_turnproof_proposed_compact_passes_every_removal_counterexample_schedule(case, tmp_path):
    """The environment's part of each counterexample (user, stream, tools, faults, compactions) given to
    turnproof-proposed-compact on the reference: every request and summary request is accepted and
    breaks no property; the same schedule on its own design still breaks the property there."""
    steps = dict(_schedules())[case]
    run = asyncio.run(run_schedule("turnproof-proposed-compact", str(tmp_path / "r.jsonl"), follow(steps), calls=2))
    spec = TurnLoopSpec(run.model)
    taken = [a for a, _ in run.steps]
    assert run.sends, "no request was sent"
    for prev, action, arg, t in run.sends:
        assert arg == "accepted" if action == "SendRequest" else (action == "Compact" and arg.accepted), run.steps
        assert spec.check_edge(prev, action, arg, t) == [], (case, run.steps)
    for a in ("Compact", "Rollback", "Crash", "ToolFail"):
        if any(x == a for x, _ in steps):
            assert a in taken, (case, a, run.steps)
    name, prop = case.split(":")
    own = asyncio.run(run_schedule(name, str(tmp_path / "own.jsonl"), follow(steps), calls=2))
    own_spec = TurnLoopSpec(own.model)
    found = {p for prev, a, b, t in own.sends for p, _ in own_spec.check_edge(prev, a, b, t)}
    bad_end = any(a in ("RefuseRequest", "ResumeRefused") or (a, b) == ("SendRequest", "rejected")
                  for a, b in own.steps)
    if prop == "removal-keeps-pairs":  # judged on the removal step itself, not on a request
        found |= {p for p, _ in _removal_verdicts(own)}
    assert prop in found or (prop in ("resumable", "can-proceed") and bad_end), (case, own.steps)


def _removal_verdicts(run) -> list:
    """removal-keeps-pairs on the removal steps of a run, replayed on its model."""
    from conformance_util import Replayer

    rep, spec, out = Replayer(run.model), TurnLoopSpec(run.model), []
    for a, b in run.steps:
        prev = rep.s
        rep.step(a, b)
        if a in ("Compact", "Rollback", "TruncateOutput"):
            arg = rep.path[-1][1]
            out += [(p, d) for p, d in spec.check_edge(prev, a, CompactArg(*arg) if a == "Compact" else arg, rep.s)
                    if p == "removal-keeps-pairs"]
    return out
