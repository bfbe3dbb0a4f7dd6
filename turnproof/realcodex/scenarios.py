"""`turnproof reproduce SCENARIO --codex VERSION`: the incidents on the real codex-cli binary.

Each scenario is a script for the scripted provider, a fault for the runner, and whether a
restart follows (`codex exec resume --last "continue"`, as the user of a dead session would try).
The session fails when the provider rejects a request (HTTP 400), when real tool results recorded
in the rollout are left out of a later request (results-kept), or when a command ran to the end
while codex-cli was alive but its real output was never recorded (results-recorded: the model is
later told "aborted" for a command that ran).

Where the real binary cannot express a scenario exactly as the reference loop does, ``note``
says what runs instead and why (printed with the run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import judge
from .binary import Unavailable
from .provider import Call, Reply, Text
from .runner import Fault, Session

from turnproof.exitcodes import EXIT_OK, EXIT_USAGE as EXIT_UNAVAILABLE, EXIT_VIOLATED as EXIT_FAILED


@dataclass(frozen=True)
class RealScenario:
    title: str
    wire: str
    script: tuple
    fault: Fault | None = None
    resume: bool = True
    note: str = ""
    model: str = "gpt-5.1"  # the model slug in config.toml (it picks the tool set codex-cli offers)
    resume_script: tuple = field(default_factory=tuple)
    # calls whose command must still be running when the fault fires. codex-cli runs shell commands
    # one at a time (they are registered without parallel support, so each takes the write side of
    # the tool lock) in whatever order the tasks reach the lock: when the slow one went first, the
    # run is not the scenario, and it is run again in a fresh session (at most ATTEMPTS times)
    unfinished: tuple = ()


def _calls(n: int, **slow) -> list:
    return [Call(f"call_{i}", **(slow if i == 2 else {})) for i in range(1, n + 1)]


SCENARIOS = {
    "8479": RealScenario("three parallel shell calls, no assistant text (openai/codex #8479)", "chat",
                         (Reply(_calls(3)),)),
    "text-with-calls": RealScenario("assistant text streamed beside two calls on the chat wire", "chat",
                                    (Reply([Text("I will run two commands."), *_calls(2)]),)),
    "tool-failure": RealScenario(
        "the second of three tool futures fails: its call gets no output", "responses",
        (Reply([Call("call_1"), Call("call_2", kind="custom"), Call("call_3")]),),
        note="a failing tool future is made with a Responses custom_tool_call to the function tool "
             "`shell` (the tool registry's fatal \"incompatible payload\"); no chat stream can make a tool "
             "future fail (every error path found answers the call with an output), so this runs on the "
             "Responses wire, where normalization's \"aborted\" at call+1 splits nothing"),
    "hard-abort": RealScenario(
        "Ctrl-C (SIGINT) while the second of three commands is still running", "chat",
        (Reply(_calls(3, seconds=10)),), Fault("SIGINT", after_output="call_1"), unfinished=("call_2",),
        note="no scripted tool can ignore the cancellation (each tool future races the cancellation token "
             "in tools/parallel.rs), so this is the user's interrupt as codex exec handles it"),
    "crash": RealScenario("SIGKILL after the first of three outputs reached the rollout file, the second "
                          "command still running", "chat", (Reply(_calls(3, seconds=10)),),
                          Fault("SIGKILL", after_output="call_1"), unfinished=("call_2",)),
    "stream-closed-retry": RealScenario(
        "the Responses stream ends after two calls without response.completed; codex-cli retries", "responses",
        (Reply(_calls(2), end="eof", wait_seconds=0.5), Reply([Call("call_3"), Call("call_4")])),
        note="the Responses parser turns an early end into an error event (\"stream closed before "
             "response.completed\"), so the binary takes the stream-error path (`res?`), as the model's "
             "StreamClosed does for a design with early_close = error (the chat parser completes instead)"),
    "stream-error-after-tools": RealScenario(
        "the Responses connection drops after three calls whose commands all ran; codex-cli retries and "
        "the retry's calls have new ids", "responses",
        (Reply(_calls(3), end="close", wait_tools=True, wait_seconds=0.3),
         Reply([Call("call_4"), Call("call_5"), Call("call_6")])),
        resume=False),
}


@dataclass
class Outcome:
    runs: list
    rejected: list  # (process number, request entry)
    kept_broken: list  # (process number, request n, [call ids])
    not_recorded: list  # (process number, [call ids])

    @property
    def failed(self) -> bool:
        return bool(self.rejected or self.kept_broken or self.not_recorded)


ATTEMPTS = 5


def run_scenario(name: str, version: str, root: str | None = None, progress=None) -> Outcome:
    sc = SCENARIOS[name]
    for attempt in range(1, ATTEMPTS + 1):
        where = root if root is None or attempt == 1 else os.path.join(root, f"attempt-{attempt}")
        s = Session(version, sc.wire, where, model=sc.model, progress=progress)
        first = s.exec(list(sc.script), fault=sc.fault)
        if not set(sc.unfinished) & set(first.commands_finished):
            break
        if attempt == ATTEMPTS:
            raise RuntimeError(f"{name}: in {ATTEMPTS} sessions codex-cli never ran {', '.join(sc.unfinished)} "
                               "after the other commands")
    runs = [first]
    if sc.resume:
        runs.append(s.resume(list(sc.resume_script)))
    return outcome(runs)


def outcome(runs: list) -> Outcome:
    rej, kept, nrec = [], [], []
    for k, run in enumerate(runs, start=1):
        rej += [(k, r) for r in run.rejected]
        kept += [(k, n, ids) for n, ids in judge.results_kept_broken(run)]
        lost = judge.results_not_recorded(run)
        if lost:
            nrec.append((k, lost))
    return Outcome(runs, rej, kept, nrec)


def _never_sent(run) -> str | None:
    """Why the binary sent no request at all (a config it refuses, a wire it no longer speaks)."""
    if run.model_requests:
        return None
    for line in (run.stderr + "\n" + run.stdout).splitlines():
        low = line.lower()
        if "error" in low:
            return " ".join(line.split())
    return f"it exited with code {run.returncode} without sending a request"


def report(name: str, version: str, out: Outcome, root: str) -> int:
    sc = SCENARIOS[name]
    labels = ["the session (codex exec)", "a fresh process: codex exec resume --last \"continue\""]
    first = out.runs[0]
    print(f"turnproof reproduce {name} --codex {version}: {sc.title}")
    print(f"codex-cli {version}, wire_api \"{sc.wire}\"; isolation: {first.isolation}")
    if sc.note:
        print(f"note: {sc.note}")
    print()
    for k, run in enumerate(out.runs, start=1):
        end = run.fault_fired or f"exit code {run.returncode}"
        print(f"process {k} ({labels[min(k, 2) - 1]}): {end}; commands that ran: "
              f"{', '.join(run.commands_finished) or 'none'}; outputs recorded: "
              f"{', '.join(c for c, _, _ in judge.recorded_outputs(run)) or 'none'}")
        for req in run.model_requests:
            verdict = "REJECTED" if req["status"] == 400 else "accepted"
            print(f"  request {req['n']}: {verdict}")
            for line in judge.describe_request(req, "      "):
                print(line)
        for kk, n, ids in out.kept_broken:
            if kk == k:
                print(f"  results-kept broken: request {n} leaves out results already in the rollout: {', '.join(ids)}")
        for kk, ids in out.not_recorded:
            if kk == k:
                print(f"  results-recorded broken: these commands ran to the end, but their output was never "
                      f"recorded: {', '.join(ids)}")
        print()
    dead_after_restart = any(k == 2 for k, _ in out.rejected)
    if dead_after_restart:
        print("FAILED: the session is dead: the request rebuilt from the rollout file is rejected again.")
    elif out.failed:
        print("FAILED: the session broke on the real binary.")
    else:
        print("ok: every request was accepted and every command that ran has its real output recorded.")
    print(f"session folder left at {root}")
    return EXIT_FAILED if out.failed else EXIT_OK


def run_reproduce_codex(args) -> int:
    import sys
    import tempfile
    name, version = args.scenario, args.codex
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r} for --codex; scenarios: {', '.join(SCENARIOS)}")
    if args.design:
        raise ValueError("--design and --codex exclude each other (the binary is the design)")
    root = args.dir or tempfile.mkdtemp(prefix=f"turnproof-reproduce-{version}-")
    try:
        os.makedirs(root, exist_ok=True)
        out = run_scenario(name, version, root)
    except Unavailable as e:
        print(f"turnproof reproduce: codex-cli {version} cannot be had: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    why = _never_sent(out.runs[0])
    if why:
        print(f"turnproof reproduce: codex-cli {version} sent no request on wire_api \"{SCENARIOS[name].wire}\": "
              f"{why}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return report(name, version, out, root)
