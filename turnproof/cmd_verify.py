"""`turnproof verify`: the suite. Every named design against its expected results (model/expected.toml).

Prints one table (design, stage, expected, found, time), then the differences, if any. Exit 0
exactly when every result equals its expectation, 1 when one differs (each difference listed),
2 for a bad manifest or arguments.
"""

from __future__ import annotations

import json
import os
import sys
import time

from turnproof import __version__
from turnproof.cmd_check import add_progress_arguments, progress_on
from turnproof.exitcodes import EXIT_OK, EXIT_VIOLATED, UsageError
from turnproof.jsondoc import document
from turnproof import verify as V
from turnproof.cmd_check import MAX_JOBS
from turnproof.verify import EXPECTED, STAGES, jobs, load_manifest, summary


def add_verify_arguments(p) -> None:
    p.add_argument("--manifest", metavar="FILE", default=EXPECTED,
                   help="the expected results (default: the model's own, model/expected.toml)")
    p.add_argument("--design", action="append", default=[], metavar="NAME",
                   help="verify only this design (repeatable)")
    p.add_argument("--stage", action="append", default=[], choices=STAGES,
                   help="run only this stage (repeatable; default: all three)")
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, MAX_JOBS), metavar="J",
                   help=f"parallel processes, 1 to {MAX_JOBS} (default: the number of CPUs)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    add_progress_arguments(p)


def run_verify(args) -> int:
    if not 1 <= args.jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be between 1 and {MAX_JOBS}, not {args.jobs}")
    manifest = load_manifest(args.manifest)
    stages = tuple(s for s in STAGES if s in args.stage) if args.stage else STAGES
    todo = jobs(manifest, args.design, stages)
    show = progress_on(args)
    rel = os.path.relpath(manifest.path)
    shown_path = manifest.path if rel.startswith("..") else rel
    if show:
        print(f"turnproof verify: {len(todo)} stages ({', '.join(stages)}) of {len(todo) // len(stages)} "
              f"designs, {args.jobs} at a time", file=sys.stderr, flush=True)

    def on_outcome(o, done: int, total: int) -> None:
        if show:
            mark = "ok" if o.ok else "DIFFERS"
            print(f"turnproof verify: [{done:>2}/{total}] {o.design} {o.stage}: {mark} ({o.seconds:.1f} s)",
                  file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    outcomes = V.run_verify(todo, args.jobs, on_outcome)
    wall = time.perf_counter() - t0
    bad = [o for o in outcomes if not o.ok]
    if args.json:
        print(json.dumps(document("verify", {
            "manifest": manifest.path, "bounds": manifest.bounds, "holds": not bad, "seconds": round(wall, 2),
            "results": [{"design": o.design, "stage": o.stage, "ok": o.ok, "expected": o.expected,
                         "found": o.found, "seconds": round(o.seconds, 2), "notes": o.notes,
                         "differences": [{"key": k, "expected": e, "found": f} for k, e, f in o.differences]}
                        for o in outcomes]}), indent=2))
        return EXIT_VIOLATED if bad else EXIT_OK
    b = {"calls": 3, "rounds": 2, "turns": 2, "faults": "all", "max_faults": 2, "retries": 1, **manifest.bounds}
    print(f"turnproof verify {__version__}: every named design against {shown_path}")
    print(f"explore: calls {b['calls']}, rounds {b['rounds']}, turns {b['turns']}, faults {b['faults']} (at most {b['max_faults']} per "
          f"session), {b['retries']} retry; prove: z3, any number of calls; reproduce: the reference loop")
    print()
    head = ["design", "stage", "expected", "found", "time", ""]
    rows = [[o.design, o.stage, summary(o.stage, o.expected) if o.expected else "(none in the manifest)",
             summary(o.stage, o.found), f"{o.seconds:.1f} s", "ok" if o.ok else "DIFFERS"] for o in outcomes]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    for r in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
    print()
    n_checked = sum(len(o.expected) for o in outcomes)
    if not bad:
        print(f"verify: all {len(outcomes)} results ({n_checked} verdicts) as expected, {wall:.1f} s")
        return EXIT_OK
    print(f"verify: {len(bad)} of {len(outcomes)} results differ from {shown_path}, {wall:.1f} s:")
    for o in bad:
        if not o.expected:
            print(f"  {o.design} {o.stage}: no expectation in the manifest; found {summary(o.stage, o.found)}")
            continue
        for k, e, f in o.differences:
            print(f"  {o.design} {o.stage} {k}: expected {e}, found {f}")
        for note in o.notes:
            print(f"  {o.design} {o.stage}: {note}")
    return EXIT_VIOLATED

