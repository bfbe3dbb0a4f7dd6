"""`turnproof prove`: the safety properties for any number of parallel calls (z3).

Prints the mypyvy-style grid of the inductive invariant found (init, then each action x clause),
safety goals apart from the strengthening clauses, after the clauses Houdini had to drop, each with
the obligation that did not hold and its counterexample to induction as a two-state difference.
A goal that is not proved is refuted only by a concrete trace of the explicit model (replayed
through TurnLoop.successors); otherwise it is unknown.
Exit: 0 every goal proved, 1 a goal refuted, 2 usage error, 3 unknown or timeout.
"""

from __future__ import annotations

import math
import json

from turnproof.model.properties import PROPERTIES
from turnproof.model.turnloop import FAULTS
from turnproof.checks import design_faults, faults_arg, prove_goals
from turnproof.jsondoc import document
from turnproof.proofs.induction import CLAUSES, GOALS, state_diff
from turnproof.exitcodes import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATED, UsageError
from turnproof.report import violation_text
from turnproof.resolve import resolve_design, wire_label

GOAL_OF = {c.name: c.goal for c in CLAUSES}


def add_prove_arguments(p) -> None:
    p.add_argument("--design", required=True, metavar="NAME", help="a named design or a design file")
    p.add_argument("--faults", default=None, metavar="LIST",
                   help=f"faults the environment may cause, any number of times ({', '.join(FAULTS)}), all or none "
                        "(default: all; for an agent of the field other than Codex and turnproof, only the removal "
                        "faults, as `matrix --field` explores it)")
    p.add_argument("--timeout", type=float, default=20.0, metavar="S", help="seconds per obligation (default 20)")
    p.add_argument("--max-calls", type=int, default=3, metavar="N",
                   help="largest call count the explorer tries for a concrete counterexample (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--failures-only", action="store_true", help="leave out the grid of obligations that hold")


def cti_lines(o) -> list[str]:
    """A counterexample to induction: the parameters, the choices, and the two-state difference."""
    c = o.cti
    if c is None:
        return ["    (the solver answered unknown: no counterexample)"]
    head = "    counterexample to induction (abstract, may be unreachable): " + \
        ", ".join(f"{k}={v}" for k, v in c["params"].items())
    if c["choices"]:
        head += "; " + ", ".join(f"{k}={v}" for k, v in c["choices"].items())
    out = [head]
    if c["before"] is None:
        return out + ["      initial state: " + ", ".join(f"{k}={v}" for k, v in c["after"].items())]
    b = c["before"]
    out.append("      before: phase " + str(b["phase"]) + ", " +
               ", ".join(f"{k}={b[k]}" for k in ("ncalls", "in_flight_len", "drained", "base_id", "next_id", "orderly",
                                                 "automaton", "pending_lo", "pending_hi", "well_formed")))
    return out + (["      " + line for line in state_diff(b, c["after"])] or ["      (no field changed)"])


def refuted_obligation(res, goal: str, trace):
    """The obligation of ``goal`` that failed at the action leading the trace into the violating
    state (else the first that failed for the goal)."""
    path = trace.violation.path
    into = path[-2][0] if len(path) >= 3 else "init"
    mine = [o for o in res.failures if o.clause == goal]
    return next((o for o in mine if o.action == into), mine[0] if mine else None)


MIN_TIMEOUT, MAX_TIMEOUT = 0.001, 86400  # one millisecond to one day per obligation


def run_prove(args) -> int:
    # z3 takes whole milliseconds and reads 0 as "no timeout": below 1 ms would mean forever
    if not (math.isfinite(args.timeout) and MIN_TIMEOUT <= args.timeout <= MAX_TIMEOUT):
        raise UsageError(f"--timeout must be a number of seconds from {MIN_TIMEOUT} to {MAX_TIMEOUT}, "
                         f"not {args.timeout}")
    if not 1 <= args.max_calls <= 4:
        raise UsageError(f"--max-calls must be between 1 and 4, not {args.max_calls}")
    design = resolve_design(args.design)
    faults = design_faults(design) if args.faults is None else faults_arg(args.faults)
    fault_names = sorted(faults, key=FAULTS.index)
    if design.hooks:
        return _opaque(design, fault_names, args.json)
    missing = removal_not_encoded(design)
    if missing:
        return _opaque(design, fault_names, args.json, f"{missing}; {REMOVAL_REASON}")
    res, traces, verdicts = prove_goals(design, faults, int(args.timeout * 1000), args.max_calls)
    if all(v == "proved" for v in verdicts.values()):
        code = EXIT_OK
    elif "refuted" in verdicts.values():
        code = EXIT_VIOLATED
    else:
        code = EXIT_UNKNOWN
    if args.json:
        _print_json(design, res, traces, verdicts, fault_names)
        return code

    print(f"turnproof prove: design {design.name} ({wire_label(design)}), any number of parallel calls "
          f"N >= 1, user turns T >= 1, stream retries R >= 0, faults {','.join(fault_names) or 'none'} "
          f"(each any number of times)")
    print(f"candidate invariant: {len(GOALS)} safety goals and {len(CLAUSES) - len(GOALS)} strengthening "
          f"clauses (proofs/README.md); {res.rounds} round(s), {res.seconds:.2f} s")
    if res.dropped:
        print()
        print("clauses dropped (an obligation did not hold; the rest is checked again)")
        for clause, o, rnd in res.dropped:
            kind = "goal" if GOAL_OF[clause] else "strengthening"
            print(f"  round {rnd}: {o.line()}  [{kind}]")
            print("\n".join(cti_lines(o)))
    for title, want in (("safety goals (property IDs)", True), ("strengthening clauses", False)):
        lines = [o for o in res.obligations if GOAL_OF[o.clause] == want]
        if args.failures_only or not lines:
            continue
        print()
        print(f"{title}: the inductive invariant")
        for o in lines:
            print("  " + o.line())
    print()
    n = len(res.obligations)
    if code == EXIT_OK:
        print(f"PROVED for any number of parallel calls: {', '.join(GOALS)} ({n} obligations, {res.seconds:.2f} s)")
        return code
    for g in GOALS:
        v = verdicts[g]
        if v == "proved":
            print(f"  {g}: proved for any number of parallel calls")
        elif v == "refuted":
            tr = traces[g]
            o = refuted_obligation(res, g, tr)
            where = f"; refuted obligation: {o.line()}" if o else ""
            print(f"  {g}: REFUTED by a {tr.length}-step trace with {tr.calls} call(s), replayed through "
                  f"the model{where}")
            if o is not None and o.cti is not None:
                print("\n".join(cti_lines(o)))
        else:
            print(f"  {g}: unknown (not proved for any number of calls; the explorer finds no "
                  f"counterexample with up to {args.max_calls} calls)")
    note = split_cut_note(design)
    if note and "unknown" in verdicts.values():
        print(f"  (unknown: {note})")
    print("REFUTED" if code == EXIT_VIOLATED else "UNKNOWN: not proved, not refuted")
    for g in GOALS:
        if g in traces:
            print()
            print(f"concrete trace (explicit model, calls {traces[g].calls}; {PROPERTIES[g].statement})")
            print(violation_text(traces[g].model, traces[g].violation))
    return code


REMOVAL_REASON = ("the z3 encoding has removal steps on provider call ids only (index ids repeat across responses, "
                  "so no pairing fact survives a cut): prove does not reason about this design's removal; "
                  "`turnproof check` explores it for bounded calls")


def split_cut_note(design) -> str | None:
    """Why goals of a design whose compaction may split a pair stay unknown (proofs/transitions.py)."""
    from turnproof.proofs.transitions import Encoding

    if not (design.compacts and Encoding(design).split_cut()):
        return None
    what = "runs while calls are in flight" if design.compaction == "in-flight" else "may split a pair"
    return (f"this design's compaction ({design.compaction_keeps}, {design.compaction}) {what}: the encoding keeps "
            "no pairing fact across it (an over-approximation), so only the explorer decides those goals")


def removal_not_encoded(design) -> str | None:
    """Why the z3 encoding cannot take this design's removal steps (proofs/transitions.py), or None."""
    from turnproof.proofs.transitions import Encoding

    try:
        Encoding(design).actions()
    except NotImplementedError as e:
        return str(e)
    return None


def _opaque(design, fault_names, as_json: bool, reason: str | None = None) -> int:
    """A design z3 cannot reason about (a Python function in its hooks, a removal step the
    encoding lacks): every goal is unknown."""
    if reason is None:
        from turnproof.hooks import describe

        reason = (f"the design's hooks ({describe(design.hooks)}) are code, opaque to z3: prove reasons "
                  "only about the model's own steps; `turnproof check` explores the design for bounded "
                  "calls, and `turnproof fuzz` checks a repair function on its own")
    if as_json:
        print(json.dumps(document("prove", {
            "design": design.name, "wire": design.wire, "verdict": "unknown", "faults": fault_names,
            "reason": reason, "any_number_of_calls": [], "obligations": [],
            "goals": {g: {"status": "unknown"} for g in GOALS}}), indent=2))
        return EXIT_UNKNOWN
    print(f"turnproof prove: design {design.name} (wire {design.wire})")
    for g in GOALS:
        print(f"  {g}: unknown")
    print(f"UNKNOWN: {reason}")
    return EXIT_UNKNOWN


def _print_json(design, res, traces, verdicts, fault_names) -> None:
    goals = {}
    note = split_cut_note(design)
    for g in GOALS:
        goals[g] = {"status": verdicts[g]}
        tr = traces.get(g)
        if tr:
            o = refuted_obligation(res, g, tr)
            goals[g]["refuted_obligation"] = o.line() if o else None
            goals[g]["trace"] = {"calls": tr.calls, "length": tr.length, "replayed": True,
                                 "actions": [a for a, _, _ in tr.violation.path[1:]]}
    verdict = ("proved" if all(v == "proved" for v in verdicts.values())
               else "refuted" if "refuted" in verdicts.values() else "unknown")
    print(json.dumps(document("prove", {
        "design": design.name, "wire": design.wire, "verdict": verdict, "faults": fault_names,
        "any_number_of_calls": sorted(g for g, v in verdicts.items() if v == "proved"),
        "rounds": res.rounds, "seconds": round(res.seconds, 3), "invariant": list(res.kept),
        "dropped": [{"clause": c, "round": r, "obligation": o.line()} for c, o, r in res.dropped],
        "obligations": [{"action": o.action, "clause": o.clause, "goal": GOAL_OF[o.clause],
                         "status": o.status, "seconds": round(o.seconds, 4)} for o in res.obligations],
        "goals": goals, **({"note": note} if note else {})}), indent=2))
