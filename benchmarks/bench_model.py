"""Explorer speed: states per second for the safety search, seconds per design, the whole matrix.

    python3 benchmarks/bench_model.py [--calls 3]

Targets (issue: the turn-loop model): >= 100,000 states/s for the safety search on one core; the whole
matrix for calls <= 3 in under 30 s on this 2-core machine. Figures only: nothing here fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from turnproof.model.designs import NAMED  # noqa: E402
from turnproof.model.explorer import Explorer  # noqa: E402
from turnproof.model.properties import TurnLoopSpec  # noqa: E402
from turnproof.model.turnloop import Params, TurnLoop  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3)
    args = ap.parse_args()
    print(f"{'design':<24}{'calls':>6}{'states':>10}{'safety s':>10}{'states/s':>11}{'full s':>8}")
    tot_states = tot_safety = 0.0
    for name, d in NAMED.items():
        m = TurnLoop(d, Params(calls=args.calls))
        r = Explorer(m, TurnLoopSpec(m)).run(safety_only=True)
        m2 = TurnLoop(d, Params(calls=args.calls))
        t0 = time.perf_counter()
        Explorer(m2, TurnLoopSpec(m2)).run()
        full = time.perf_counter() - t0
        tot_states += r.states
        tot_safety += r.seconds
        print(f"{name:<24}{args.calls:>6}{r.states:>10,}{r.seconds:>10.2f}{r.states_per_second:>11,.0f}{full:>8.2f}")
    print(f"{'all designs':<24}{'':>6}{int(tot_states):>10,}{tot_safety:>10.2f}{tot_states / tot_safety:>11,.0f}")
    for calls in range(1, args.calls + 1):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "turnproof", "matrix", "--calls", str(calls)], capture_output=True,
                       cwd=os.path.join(os.path.dirname(__file__), ".."))
        print(f"turnproof matrix --calls {calls}: {time.perf_counter() - t0:.1f} s wall ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
