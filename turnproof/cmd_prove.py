"""`turnproof prove`: the safety properties for any number of parallel calls (z3).

Prints the mypyvy-style grid (init, then each action x invariant clause), safety goals apart from
the strengthening clauses. When the proof fails, each unproved goal is either refuted by a concrete
trace of the explicit model (replayed through TurnLoop.successors) or left unknown.
Exit: 0 proved, 1 refuted, 2 usage error, 3 unknown or timeout.
"""

from __future__ import annotations

import json

from model.properties import PROPERTIES
from model.turnloop import FAULTS, parse_faults
from proofs.induction import CLAUSES, GOALS, prove, state_diff
from proofs.refute import find_traces
from turnproof.cli import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATED, UsageError
from turnproof.report import violation_text
from turnproof.resolve import resolve_design


def add_prove_arguments(p) -> None:
    p.add_argument("--design", required=True, metavar="NAME", help="a named design or a design file")
    p.add_argument("--faults", default="all", metavar="LIST",
                   help=f"faults the environment may cause, any number of times ({', '.join(FAULTS)}), all or none")
    p.add_argument("--timeout", type=float, default=20.0, metavar="S", help="seconds per obligation (default 20)")
    p.add_argument("--max-calls", type=int, default=3, metavar="N",
                   help="largest call count the explorer tries for a concrete counterexample (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--failures-only", action="store_true", help="print only the obligations that did not hold")


def _cti_lines(o) -> list[str]:
    c = o.cti
    head = "    counterexample to induction (abstract, may be unreachable): " + \
        ", ".join(f"{k}={v}" for k, v in c["params"].items())
    if c["choices"]:
        head += "; " + ", ".join(f"{k}={v}" for k, v in c["choices"].items())
    out = [head]
    if c["before"] is None:
        out += ["      initial state: " + ", ".join(f"{k}={v}" for k, v in c["after"].items())]
        return out
    out.append("      before: phase " + str(c["before"]["ph"]) + ", " +
               ", ".join(f"{k}={c['before'][k]}" for k in ("nc", "nf", "dr", "base", "nxt", "hok", "aut", "plo", "phi")))
    out += ["      " + line for line in state_diff(c["before"], c["after"])] or ["      (no field changed)"]
    return out


def run_prove(args) -> int:
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout}")
    if not 1 <= args.max_calls <= 4:
        raise UsageError(f"--max-calls must be between 1 and 4, not {args.max_calls}")
    design = resolve_design(args.design)
    faults = parse_faults(args.faults)
    fault_names = sorted(faults, key=FAULTS.index)
    goal_of = {c.name: c.goal for c in CLAUSES}
    lines: list = []
    printing = not args.json

    if printing:
        print(f"turnproof prove: design {design.name} (wire {design.wire}), any number of parallel calls "
              f"N >= 1, user turns T >= 1, stream retries R >= 0, faults {','.join(fault_names) or 'none'} "
              f"(each any number of times)")
        print(f"invariant: {len(GOALS)} safety goals and {len(CLAUSES) - len(GOALS)} strengthening clauses "
              f"(proofs/README.md)")

    res = prove(design, faults, timeout_ms=int(args.timeout * 1000), on_line=lines.append)
    failed_by_goal: dict = {}
    for o in res.obligations:
        if o.status != "ok" and goal_of[o.clause]:
            failed_by_goal.setdefault(o.clause, o)
    unproved = [g for g in GOALS if not res.proved]  # a non-inductive invariant proves no goal
    traces = find_traces(design, unproved, faults, args.max_calls) if unproved else {}
    verdict = "proved" if res.proved else ("refuted" if traces else "unknown")

    if args.json:
        goals = {}
        for g in GOALS:
            tr = traces.get(g)
            st = "proved" if res.proved else ("refuted" if tr else "unknown")
            goals[g] = {"status": st}
            if g in failed_by_goal:
                goals[g]["failed_obligation"] = failed_by_goal[g].line()
            if tr:
                goals[g]["trace"] = {"calls": tr.calls, "length": tr.length, "replayed": True,
                                     "actions": [a for a, _, _ in tr.violation.path[1:]]}
        print(json.dumps({"design": design.name, "wire": design.wire, "verdict": verdict,
                          "any_number_of_calls": res.proved, "faults": fault_names,
                          "seconds": round(res.seconds, 3),
                          "obligations": [{"action": o.action, "clause": o.clause, "goal": goal_of[o.clause],
                                           "status": o.status, "seconds": round(o.seconds, 4)}
                                          for o in res.obligations],
                          "goals": goals}, indent=2))
        return {"proved": EXIT_OK, "refuted": EXIT_VIOLATED}.get(verdict, EXIT_UNKNOWN)

    for title, want in (("safety goals (property IDs)", True), ("strengthening clauses", False)):
        print()
        print(title)
        for o in res.obligations:
            if goal_of[o.clause] != want or (args.failures_only and o.status == "ok"):
                continue
            print("  " + o.line())
            if o.status == "failed" and (o is failed_by_goal.get(o.clause) or not want and o is _first(res, o.clause)):
                print("\n".join(_cti_lines(o)))
    print()
    n, secs = len(res.obligations), res.seconds
    if res.proved:
        print(f"PROVED for any number of parallel calls: {', '.join(GOALS)} ({n} obligations, {secs:.2f} s)")
        return EXIT_OK
    bad = [o for o in res.obligations if o.status != "ok"]
    print(f"NOT PROVED: {len(bad)} of {n} obligations did not hold ({secs:.2f} s); first: {bad[0].line()}")
    for g in GOALS:
        tr = traces.get(g)
        if tr is None:
            print(f"  {g}: unknown (not proved for any number of calls; the explorer finds no counterexample "
                  f"with up to {args.max_calls} calls)")
            continue
        first = _refuted_obligation(res, g, tr)
        where = f"; refuted obligation: {first.line()}" if first else ""
        print(f"  {g}: REFUTED by a {tr.length}-step trace with {tr.calls} call(s), replayed through the model{where}")
    for g in GOALS:
        if g in traces:
            print()
            print(f"concrete trace (explicit model, calls {traces[g].calls}; {PROPERTIES[g].statement})")
            print(violation_text(traces[g].model, traces[g].violation))
    return EXIT_VIOLATED if traces else EXIT_UNKNOWN


def _refuted_obligation(res, goal: str, trace):
    """The failed obligation for ``goal`` at the action that led the trace into the violating state
    (else the first failed one for the goal)."""
    path = trace.violation.path
    into = path[-2][0] if len(path) >= 3 else "init"
    fallback = None
    for o in res.obligations:
        if o.clause == goal and o.status != "ok":
            if o.action == into:
                return o
            fallback = fallback or o
    return fallback


def _first(res, clause: str):
    for o in res.obligations:
        if o.clause == clause and o.status == "failed":
            return o
    return None
