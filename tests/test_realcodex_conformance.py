"""The model against the real codex-cli releases that carry its named Codex designs.

1. The explorer's counterexamples (fault-free, 3 calls, with and without text) are scripted into
   the release: the binary's rejected request equals the model's, item by item, and the same
   text is answered.
2. A sample of responses (1-3 calls, text, reasoning) and the fault scenarios (crash, interrupt,
   failing tool future, stream failures): every request the binary sends equals the model's
   prediction from the history the binary had recorded (conformance.compare), verdict included.
Each test needs the binary (fetched from npm once; skipped with the reason when the registry
cannot be reached). About 40 s in all with the binaries cached.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from turnproof.model.designs import get
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import Params, TurnLoop
from turnproof.realcodex.conformance import DESIGNS, compare, script_from_path, shape_chat, shape_responses
from turnproof.realcodex.provider import Call, Reasoning, Reply, Text
from turnproof.realcodex.runner import Session
from turnproof.realcodex.scenarios import SCENARIOS, run_scenario

pytestmark = [pytest.mark.real_codex, pytest.mark.slow]

# what the release does with each fault scenario on its wire: True = the session fails
SCENARIO_VERDICTS = {
    "codex-0.77-chat": {"crash": True, "8479": True, "text-with-calls": True},
    "codex-0.78-chat": {"crash": True, "8479": False, "text-with-calls": True},
    "codex-0.77-responses": {"tool-failure": False, "stream-closed-retry": True, "stream-error-after-tools": True},
    "codex-0.122-responses": {"tool-failure": False, "stream-closed-retry": False, "stream-error-after-tools": False},
}


@lru_cache(maxsize=None)
def _counterexamples(name: str, text: bool) -> list:
    m = TurnLoop(get(name), Params(calls=3, faults=frozenset(), text=text))
    r = Explorer(m, TurnLoopSpec(m)).run(safety_only=True)
    return [(prop, v.path, m.request(v.path[-2][2])) for prop, v in sorted(r.violations.items())]


def _shape(wire: str, body: list) -> list:
    return shape_chat(body) if wire == "chat" else shape_responses(body)


@pytest.mark.parametrize("name", list(DESIGNS))
@pytest.mark.parametrize("text", [False, True], ids=["no-text", "text"])
def test_counterexamples_replay_on_the_release(name, text, codex):
    version, wire = DESIGNS[name]
    codex(version)
    cxs = _counterexamples(name, text)
    if wire == "responses":
        assert not cxs  # the model finds none without faults; the sample test runs these shapes
    for prop, path, req in cxs:
        run = Session(version, wire).exec(script_from_path(path))
        assert run.rejected, (prop, [r["status"] for r in run.model_requests])
        real = run.rejected[0]
        body = real["body"]["messages"] if wire == "chat" else real["body"]["input"]
        assert _shape(wire, body) == _shape(wire, req.body), prop
        assert real["rejections"][0]["text"] == req.rejections[0].text
        assert compare(name, run) == []


SAMPLES = {
    "one-call": [Call("call_1")],
    "two-calls": [Call("call_1"), Call("call_2")],
    "text-then-three-calls": [Text(), Call("call_1"), Call("call_2"), Call("call_3")],
    "reasoning-two-calls": [Reasoning(), Call("call_1"), Call("call_2")],
    "call-then-text": [Call("call_1"), Text()],
    "text-only": [Text()],
}


@pytest.mark.parametrize("name", list(DESIGNS))
def test_sampled_responses_conform(name, codex):
    version, wire = DESIGNS[name]
    codex(version)
    for label, items in SAMPLES.items():
        run = Session(version, wire).exec([Reply(items), Reply([])])
        assert run.model_requests, label
        assert compare(name, run) == [], label


@pytest.mark.parametrize("name", list(DESIGNS))
def test_fault_scenarios_conform(name, codex):
    version, wire = DESIGNS[name]
    codex(version)
    for sc, fails in SCENARIO_VERDICTS[name].items():
        assert SCENARIOS[sc].wire == wire
        out = run_scenario(sc, version)
        assert out.failed == fails, sc
        for run in out.runs:
            assert compare(name, run) == [], (sc, run.argv)
