"""Explorer speed and memory, this tree beside a baseline commit, measured in the same run.

    python3 benchmarks/bench_model.py [--calls 1-8] [--baseline REF[,REF2]] [--designs a,b] [--max-states N]
                                      [--repeat K] [--no-whole]

For every named design and each N (``--calls``, default 1-8), the safety search runs in a fresh
process of this tree and of each baseline (a ``git worktree`` of REF, default the commit before the
explorer work of issue 15, removed afterwards; a second REF, such as main before a change, adds a column): states, states/s, bytes/state (growth of the
process's peak resident memory over the search, divided by the states) and seconds. A search
past ``--max-states`` (default 600,000) stops there and is marked ``*``: its states/s and
bytes/state still hold, its seconds are for the truncated search. Then the issue's two whole
questions: turnproof-proposed, every fault, calls 8, the full check (verdicts of every property,
graph ones included), and ``turnproof matrix`` at calls 3 and 4 and ``matrix --field`` (calls 3), in
every tree.

Targets (issue 15): >= 150,000 states/s on one core for every named design at calls 4;
turnproof-proposed every fault calls 8 in < 10 s and < 800 MB; the matrix for calls <= 3 in < 5 s,
for calls <= 4 in < 30 s. Figures only: nothing here fails. The machine is shared: say what else
ran beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BASELINE = "1af97ee"  # main before issue 15 (tuples for history, lists for the graph)

WORKER = r"""
import json, resource, sys, time
def peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
from turnproof.model.designs import NAMED
from turnproof.model.explorer import Explorer
from turnproof.model.properties import TurnLoopSpec
from turnproof.model.turnloop import Params, TurnLoop
name, calls, cap, full = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "full"
m = TurnLoop(NAMED[name], Params(calls=calls))
m.init_states()
before = peak()
t0 = time.perf_counter()
r = Explorer(m, TurnLoopSpec(m), max_states=cap or None).run(safety_only=not full)
wall = time.perf_counter() - t0
print(json.dumps({"states": r.states, "seconds": r.seconds, "wall": wall, "truncated": r.truncated,
                  "grow": peak() - before, "peak": peak(), "violated": sorted(r.violations)}))
"""


def measure(tree: str, name: str, calls: int, cap: int, full: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    p = subprocess.run([sys.executable, "-c", WORKER, name, str(calls), str(cap), "full" if full else "safety"],
                       capture_output=True, text=True, cwd=tree, env=env)
    if p.returncode:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout)


def cell(r: dict) -> str:
    if "error" in r:
        return f"{'error':>38}"
    mark = "*" if r["truncated"] else " "
    rate = r["states"] / r["seconds"] if r["seconds"] else 0
    return f"{r['states']:>10,}{mark}{rate:>9,.0f}{r['grow'] / max(r['states'], 1):>8,.0f}{r['seconds']:>8.2f}"


def matrix_seconds(tree: str, calls: int, *extra: str) -> str:
    env = {**os.environ, "PYTHONPATH": tree}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "turnproof", "matrix", "--calls", str(calls), *extra],
                       capture_output=True, cwd=tree, env=env)
    if p.returncode == 2:  # a usage error: this tree has no such option
        return "n/a"
    return f"{time.perf_counter() - t0:.1f} s wall"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1-8", help="N or A-B (default 1-8)")
    ap.add_argument("--baseline", default=BASELINE, help=f"commits to compare with, comma-separated (default "
                                                          f"{BASELINE}); 'none' to skip")
    ap.add_argument("--designs", default="", help="comma-separated names (default: every named design)")
    ap.add_argument("--max-states", type=int, default=600_000, help="cap per search (default 600,000; 0: none)")
    ap.add_argument("--no-whole", action="store_true", help="skip the calls-8 check and the matrix timings")
    ap.add_argument("--repeat", type=int, default=1, help="best of K runs per cell, the trees alternating "
                                                            "(a shared machine's noise; default 1)")
    args = ap.parse_args()
    lo, _, hi = args.calls.partition("-")
    ns = range(int(lo), int(hi or lo) + 1)
    sys.path.insert(0, ROOT)
    from turnproof.model.designs import NAMED

    names = [n for n in args.designs.split(",") if n] or list(NAMED)
    trees = [("now", ROOT)]
    tmp = tempfile.mkdtemp(prefix="bench-baseline-")
    bases = [] if args.baseline == "none" else [b for b in args.baseline.split(",") if b]
    for k, ref in enumerate(bases):
        base = os.path.join(tmp, f"tree{k}")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", base, ref], check=True,
                       capture_output=True)
        trees.append((f"baseline {ref}", base))
    try:
        load = os.getloadavg()[0]
        print(f"load average at start {load:.1f} on {os.cpu_count()} cores (the machine may be shared)")
        print("columns per tree: states (* = stopped at --max-states), states/s, bytes/state, seconds (safety search)")
        head = f"{'design':<24}{'N':>3}" + "".join(f"  | {label:<36}" for label, _ in trees)
        print(head)
        for name in names:
            for n in ns:
                runs = [[measure(tree, name, n, args.max_states) for _, tree in trees] for _ in range(args.repeat)]
                row = [min((r[k] for r in runs), key=lambda x: x.get("seconds", float("inf")))
                       for k in range(len(trees))]
                print(f"{name:<24}{n:>3}" + "".join(f"  | {cell(r)}" for r in row), flush=True)
        if not args.no_whole:
            print()
            for label, tree in trees:
                r = measure(tree, "turnproof-proposed", 8, 0, full=True)
                if "error" in r:
                    print(f"{label}: turnproof-proposed, every fault, calls 8, full check: {r['error']}")
                    continue
                print(f"{label}: turnproof-proposed, every fault, calls 8, full check: {r['states']:,} states, "
                      f"{r['wall']:.1f} s, peak {r['peak'] / 2**20:,.0f} MB, violated {r['violated'] or 'none'}",
                      flush=True)
            for calls, extra in ((3, ()), (4, ()), (3, ("--field",))):
                for label, tree in trees:
                    opts = " ".join((f"--calls {calls}",) + extra)
                    print(f"{label}: turnproof matrix {opts}: {matrix_seconds(tree, calls, *extra)}", flush=True)
    finally:
        for _, tree in trees[1:]:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
