"""`turnproof reproduce`: replay a reported incident end to end on the reference loop.

Process 1 (`python -m reference run`, a fresh interpreter) runs the scenario's session with the
chosen design and writes a real rollout file; process 2 (`python -m reference resume`) starts
from that file, as a restarted Codex would, and sends the next request. Both talk to the stub
provider, which answers with the real providers' error texts. Exit 1 when the session fails
(a request rejected, or tool results recorded but left out of a request), 0 when it works.

Scenarios: 8479 is the issue as reported; the others are the residual failures the model finds
for shipped Codex designs (see `turnproof check --design NAME`), and 5385 and 5385-trim those of
Codex v0.47's compaction (codex-0.47-compact). A removal design the reference loop cannot run
(another agent's policy: reference.designs.unsupported) is refused with the reason (exit 2).
"""

from __future__ import annotations

import os
import tempfile

from turnproof.exitcodes import EXIT_INTERNAL, EXIT_OK, EXIT_VIOLATED as EXIT_FAILED
from turnproof.incidents import SCENARIOS, process_crashed, reference_design, replay
from turnproof.model.turnloop import CompactArg

PROVIDERS = {"chat": "OpenAI Chat Completions", "responses": "OpenAI Responses", "anthropic": "Anthropic Messages"}


def add_reproduce_arguments(p) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help=f"one of: {', '.join(SCENARIOS)}")
    p.add_argument("--design", metavar="NAME", help="a named design or a design file (default: the design the incident was on)")
    p.add_argument("--dir", metavar="DIR", help="where to write the session file (default: a new temporary folder)")
    p.add_argument("--codex", metavar="VERSION",
                   help="run the scenario on the real codex-cli VERSION (fetched from npm once, cached) against a "
                        "scripted provider on loopback; exit 2 if that binary cannot be had. Also: "
                        "stream-error-after-tools")


def _steps(events: list) -> str:
    out = []
    for a, b in events:
        if b is None:
            out.append(a)
        elif a == "StreamToolCall":
            out.append(f"{a}(#{b})")
        elif a in ("SendRequest",):
            out.append(f"{a} {b}")
        elif a == "Crash":
            out.append(f"Crash(k={b})")
        elif a == "Compact":
            out.append(f"Compact({CompactArg(*b)})")
        elif a == "Rollback":
            out.append(f"Rollback({b})")
        else:
            out.append(f"{a}(C{b})")
    lines, cur = [], "    "
    for s in out:
        if len(cur) + len(s) > 98:
            lines.append(cur.rstrip(", "))
            cur = "    "
        cur += s + ", "
    lines.append(cur.rstrip(", "))
    return "\n".join(lines)


def _message_line(i: int, m: dict, wire: str) -> str:
    if wire == "responses":
        cid = f" {m['call_id']}" if "call_id" in m else ""
        return f"    [{i}] {m.get('type')}{' ' + m['role'] if 'role' in m else ''}{cid}"
    role = m.get("role")
    if wire == "chat":
        extra = ""
        if m.get("tool_calls"):
            extra = " tool_calls=[" + ", ".join(tc["id"] for tc in m["tool_calls"]) + "]"
        elif role == "tool":
            extra = f" {m['tool_call_id']}"
        elif role == "assistant":
            extra = " (text)"
        return f"    [{i}] {role}{extra}"
    blocks = ", ".join(b.get("type") + (f" {b.get('id') or b.get('tool_use_id')}" if b.get("type") != "text" else "")
                       for b in m.get("content", []))
    return f"    [{i}] {role}: {blocks}"


def _report_process(n: int, label: str, run, wire: str) -> None:
    """Print what one process did."""
    print(f"process {n} (pid {run.pid}, {label}):")
    print(_steps(run.events + ([("Crash", run.model_lines)] if run.killed else [])))
    if run.killed:
        print(f"  killed with SIGKILL after {run.lines} rollout lines ({run.model_lines} history items) "
              "reached the file")
        return
    if process_crashed(run):
        print(f"  CRASHED: exit code {run.returncode}, " + ("no result reported" if run.result is None else
                                                            "after reporting its result") + " (its stderr is above)")
        return
    res = run.result or {}
    if res.get("skipped"):
        print("  skipped on load: " + "; ".join(f"line {ln}: {why}" for ln, why in res["skipped"]))
    if res.get("refused_calls"):
        print(f"  resume refused: calls without output: {', '.join(res['refused_calls'])}")
        return
    for k, req in enumerate(res.get("requests", []), start=1):
        body = req["body"]
        msgs = body.get("messages") if wire != "responses" else body.get("input")
        verdict = "REJECTED" if req["rejected"] else "accepted"
        unit = "item" if wire == "responses" else "message"
        what = " (a compaction's summary request)" if req.get("summary") else ""
        print(f"  request {k}{what}: {len(msgs)} {unit}{'' if len(msgs) == 1 else 's'}, {verdict}")
        unrecorded = req.get("unrecorded_results") or []
        if req["rejected"] or req["lost_results"] or unrecorded:
            for i, m in enumerate(msgs):
                print(_message_line(i, m, wire))
        if unrecorded:
            print(f"  results-recorded broken: these tools finished, but their results were dropped before this "
                  f"request: {', '.join(unrecorded)}")
        if req["lost_results"]:
            print(f"  results-kept broken: tool results in the rollout but not in this request: "
                  f"{', '.join(req['lost_results'])}")
        if req["rejected"]:
            print(f"  {PROVIDERS[wire]} answers HTTP 400:")
            print(f"    {req['rejected']}")
            if req.get("param"):
                print(f"    (param: {req['param']})")


def run_reproduce(args) -> int:
    if getattr(args, "codex", None):
        from turnproof.realcodex.scenarios import run_reproduce_codex
        return run_reproduce_codex(args)
    sc = SCENARIOS.get(args.scenario)
    if sc is None:
        raise ValueError(f"unknown scenario {args.scenario!r}; scenarios: {', '.join(SCENARIOS)}")
    design, _ = reference_design(args.design, sc)  # a bad design is reported before anything is written
    directory = args.dir or tempfile.mkdtemp(prefix="turnproof-reproduce-")
    r = replay(args.scenario, args.design, directory)
    print(f"turnproof reproduce {args.scenario}: {sc.title}")
    print(f"design {design.name} (wire {design.wire}); session file {r.path}")
    print()
    _report_process(1, "the session", r.first, design.wire)
    print()
    _report_process(2, "a fresh process resumed from the rollout file", r.second, design.wire)
    print()
    if r.crashed:  # no verdict: never "ok", and not "the session failed" either
        print(f"ERROR: process {' and '.join(map(str, r.crashed))} of the reference loop crashed: no verdict on "
              "the session (a bug in turnproof, not a finding)")
        print(f"rollout file left at {r.path}")
        return EXIT_INTERNAL
    res2 = r.second.result or {}
    fails = [q for q in res2.get("requests", []) if q["rejected"] or q["lost_results"] or q.get("unrecorded_results")]
    if r.failed_again and fails and all(q.get("summary") for q in fails) and not res2.get("refused_calls"):
        print("FAILED: the session broke: after the restart, a compaction's summary request was rejected.")
    elif r.failed_again:
        print(f"FAILED: the session is dead: the request rebuilt from {os.path.basename(r.path)} fails again.")
    elif r.failed:
        print("FAILED: the session broke (it recovered after the restart).")
    else:
        print("ok: every request was accepted and kept every recorded tool result, before and after the restart.")
    print(f"rollout file left at {r.path}")
    return EXIT_OK if r.works else EXIT_FAILED
