"""The reported incident and the residual failures, as scenarios on the reference loop.

Process 1 (`python -m turnproof.reference run`, a fresh interpreter) runs the scenario's session
with the chosen design and writes a real rollout file; process 2 (`... resume`) starts from that
file, as a restarted Codex would, and sends the next request. Both talk to the stub provider, which
answers with the real providers' error texts. A session *fails* when a request is rejected, when
tool results recorded in the rollout are left out of a request, when a request goes out after the
results of tools that finished were dropped (results-recorded), or when resume is refused.

Library code (no printing): `turnproof reproduce` renders a Replay, `turnproof verify` compares
its outcome with model/expected.toml.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from turnproof.model.designs import FIELD
from turnproof.reference.designs import from_knobs as ref_from_knobs, get as ref_get, unsupported
from turnproof.reference.proc import ProcessRun, run_process
from turnproof.reference.rollout import new_session_file


@dataclass(frozen=True)
class Scenario:
    design: str  # the shipped design it fails on by default
    args: tuple  # for `python -m reference run`
    title: str
    kill_after_model_line: int | None = None  # SIGKILL process 1 once this many items are on disk
    resume_args: tuple = ()  # for `python -m reference resume`


SCENARIOS = {
    "8479": Scenario("codex-0.77-chat", ("--calls", "3"),
                     "three parallel shell calls, no assistant text (openai/codex #8479)"),
    "text-with-calls": Scenario("codex-0.78-chat", ("--calls", "2", "--text"),
                                "assistant text alongside two calls on the chat wire"),
    "tool-failure": Scenario("codex-0.78-chat", ("--calls", "3", "--fail-call", "2"),
                             "the second of three tools fails: its call gets no output"),
    "hard-abort": Scenario("codex-0.78-chat", ("--calls", "3", "--stubborn-call", "2", "--slow", "3",
                                               "--interrupt-at", "StreamCompleted"),
                           "interrupt while a tool ignores the cancellation: the 100 ms grace runs out"),
    "crash": Scenario("codex-0.78-chat", ("--calls", "3"),
                      "SIGKILL after the first of three outputs reached the rollout file",
                      kill_after_model_line=5),
    "stream-closed-retry": Scenario("codex-0.77-responses", ("--calls", "2", "--close-early", "--parallel"),
                                    "the stream closes after two calls whose tools ran: the Responses parser "
                                    "makes it an error and v0.77 drops their results before the retry"),
    # history that shrinks (issue 13): on a design that does not compact, the compaction never happens
    "5385": Scenario("codex-0.47-compact", ("--calls", "1", "--fail-call", "1", "--compact-at", "2"),
                     "a tool fails (its call gets no output), then the context window is full before the "
                     "follow-up: the summary request carries the call as recorded (openai/codex #5385)"),
    "5385-trim": Scenario("codex-0.47-compact", ("--calls", "1"),
                          "SIGKILL while a call runs; resumed, /compact meets two context-window errors and "
                          "drops the oldest items of its summary request", kill_after_model_line=2,
                          resume_args=("--compact", "--trimmed", "2")),
}



@dataclass
class Replay:
    scenario: str
    design: object  # reference.designs.Design
    path: str  # the session file
    first: ProcessRun  # the session
    second: ProcessRun  # a fresh process resumed from the file

    @property
    def failed(self) -> bool:
        """The session broke in the first process (it may have recovered after the restart)."""
        return process_failed(self.first)

    @property
    def failed_again(self) -> bool:
        """The request rebuilt from the file fails again: the session is dead."""
        return process_failed(self.second)

    @property
    def crashed(self) -> list[int]:
        """The processes (1, 2) that died by themselves: then there is no verdict at all."""
        return [n for n, run in ((1, self.first), (2, self.second)) if process_crashed(run)]

    @property
    def works(self) -> bool:
        return not (self.failed or self.failed_again or self.crashed)


def process_crashed(run: ProcessRun) -> bool:
    """Died by itself (not by our SIGKILL), or ended without reporting its result."""
    return not run.killed and (run.returncode != 0 or run.result is None)


def process_failed(run: ProcessRun) -> bool:
    """A request rejected, recorded results left out of one, the results of finished tools dropped
    before one, or resume refused (a killed process has not failed: what it left is judged by the
    resume)."""
    if run.killed:
        return False
    res = run.result or {}
    if res.get("refused_calls"):
        return True
    return any(req["rejected"] or req["lost_results"] or req.get("unrecorded_results")
               for req in res.get("requests", []))


def reference_design(arg: str | None, scenario: Scenario) -> tuple[object, list]:
    """The reference loop's design for ``arg`` (a name, NAME@wire or a design file; None: the
    scenario's own) and the extra arguments the child processes need for it. A design the reference
    loop cannot run (another agent's removal policy, hooks) is refused with the reason."""
    try:
        return ref_get(arg or scenario.design), []
    except ValueError:
        if arg and arg.partition("@")[0] in FIELD:  # a removal design the reference does not run
            why = unsupported(FIELD[arg.partition("@")[0]].knobs())
            raise ValueError(f"{arg}: not reproducible: {why}; explore it with `turnproof check --design {arg}`") \
                from None
        if not arg or not (arg.endswith(".toml") or os.path.exists(arg)):
            raise
        from turnproof.resolve import resolve_design  # a design file: run the reference with its knobs
        md = resolve_design(arg)
        if md.hooks:
            raise ValueError(f"{arg}: reproduce runs the reference loop, which runs no hooks; "
                             f"explore the design with `turnproof check --design {arg}`") from None
        knobs = md.knobs()
        why = unsupported(knobs)
        if why:
            raise ValueError(f"{arg}: not reproducible: {why}; explore it with `turnproof check --design {arg}`") \
                from None
        return ref_from_knobs(md.name, knobs), ["--knobs", json.dumps(knobs)]


def session_file(directory: str) -> str:
    try:
        os.makedirs(directory, exist_ok=True)
        return new_session_file(directory)
    except OSError as e:
        raise ValueError(f"{directory}: cannot write the session file there ({e.strerror})") from None


def replay(name: str, design_arg: str | None, directory: str, fork: bool = False) -> Replay:
    """Run scenario ``name`` on the reference loop: the session, then a resume in a fresh process."""
    sc = SCENARIOS.get(name)
    if sc is None:
        raise ValueError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
    design, knob_args = reference_design(design_arg, sc)
    path = session_file(directory)
    first = run_process(["run", "--design", design.name, *knob_args, "--file", path, *sc.args],
                        kill_after_model_line=sc.kill_after_model_line, fork=fork)
    second = run_process(["resume", "--design", design.name, *knob_args, "--file", path, "--message", "continue",
                          *sc.resume_args], fork=fork)
    return Replay(name, design, path, first, second)
