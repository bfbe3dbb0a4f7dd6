"""z3 proof speed: seconds per obligation and in total, for the proposed design, every named one and
every design of the field table (history that shrinks).

    python3 benchmarks/bench_proofs.py [--all-lines]

Target (issue: z3 proofs): the whole proof of turnproof-proposed under 10 s on this machine.
Figures only: nothing here fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from turnproof.checks import design_faults  # noqa: E402
from turnproof.model.designs import FIELD, NAMED, with_knobs  # noqa: E402
from turnproof.proofs.induction import GOALS, prove  # noqa: E402
from turnproof.proofs.bmc import bmc  # noqa: E402
from turnproof.proofs.refute import find_traces  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--all-lines", action="store_true", help="print every obligation of the proposed design")
    args = ap.parse_args()
    d = NAMED["turnproof-proposed"]
    t0 = time.perf_counter()
    r = prove(d)
    wall = time.perf_counter() - t0
    secs = [o.seconds for o in r.obligations]
    print(f"turnproof-proposed: {'PROVED' if r.proved else 'NOT PROVED'}, {len(secs)} obligations, "
          f"{wall:.2f} s wall (target < 10 s)")
    print(f"  per obligation: mean {statistics.mean(secs) * 1000:.1f} ms, median "
          f"{statistics.median(secs) * 1000:.1f} ms, max {max(secs) * 1000:.1f} ms")
    slow = sorted(r.obligations, key=lambda o: -o.seconds)
    for o in (r.obligations if args.all_lines else slow[:8]):
        print(f"  {o.line().rsplit(' (', 1)[0]} ({o.seconds * 1000:.2f} ms)")
    print()
    print("obligations: of the final (inductive) round; dropped: clauses Houdini dropped; traces s: explorer")
    print(f"{'design':<30}{'verdict':>10}{'proved goals':>14}{'rounds':>8}{'obligations':>13}{'dropped':>9}"
          f"{'proof s':>9}{'traces s':>10}")
    rows = [(n, NAMED[n]) for n in NAMED]
    rows += [(f"turnproof-proposed@{w}", with_knobs(d, f"turnproof-proposed@{w}", wire=w))
             for w in ("responses", "anthropic")]
    # history that shrinks (matrix --field), with the faults prove uses for each by default
    rows += [(n, FIELD[n]) for n in FIELD]
    for name, design in rows:
        faults = design_faults(design)
        r = prove(design, faults)
        t1 = time.perf_counter()
        unproved = [g for g in GOALS if g not in r.proved_goals]
        traces = find_traces(design, unproved, faults) if unproved else {}
        tt = time.perf_counter() - t1
        verdict = "proved" if r.proved else ("refuted" if traces else "unknown")
        print(f"{name:<30}{verdict:>10}{len(r.proved_goals):>12}/{len(GOALS)}{r.rounds:>8}{len(r.obligations):>13}"
              f"{len(r.dropped):>9}{r.seconds:>9.2f}{tt:>10.2f}")

    print()
    print("BMC (model bounds, traces replayed in the model)")
    print(f"{'design':<24}{'property':<20}{'calls':>6}{'length':>8}{'seconds':>9}  note")
    for name, goal, calls in (("codex-0.77-chat", "wire-valid", 2), ("codex-0.77-chat", "wire-valid", 3),
                              ("seed-fix-1", "wire-valid", 2), ("codex-0.77-responses", "results-kept", 3),
                              ("turnproof-proposed", "wire-valid", 2)):
        b = bmc(NAMED[name], goal, calls, depth=10)
        length = b.length if b.violated else f"-/{b.depth_checked}"
        print(f"{name:<24}{goal:<20}{calls:>6}{length!s:>8}{b.seconds:>9.2f}  {b.note}")


if __name__ == "__main__":
    main()
