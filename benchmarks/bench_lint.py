"""Benchmark `turnproof lint` and `turnproof repair` on a generated Codex rollout.

Generates a rollout of about --mb MB (default 200) in a temporary directory: rounds of a user
message, a turn context, reasoning, one to three parallel calls with outputs of 1-40 KB, token
counts and assistant text, with a crash-partial round every 50 rounds. Prints lint throughput next
to a bare ``json.loads`` loop over the same lines (target: lint >= 0.5 of it), repair throughput,
and the peak resident memory of each run (each in a fresh process, so the figures are its own),
for the full file and a file a tenth of its size: bounded memory shows as equal peaks.
The files are deleted afterwards.

First, start-up: the wall time of `turnproof lint SMALLFILE` in a fresh process next to `python3 -c
pass` (target: lint under 0.3 s), best and median of --runs runs, as installed (bytecode cached)
and from source (PYTHONDONTWRITEBYTECODE=1: every module compiled on each run), with the import
time of turnproof's own modules from `python3 -X importtime`.

    python benchmarks/bench_lint.py [--mb 200] [--runs 15] [--startup-only]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = os.path.join(ROOT, "tests", "data", "lint", "chat-fixed.json")

BARE = """
import json, sys, time
t = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line)
print(time.perf_counter() - t)
"""
LINT = """
import sys, time
from turnproof.lint import lint_path
t = time.perf_counter()
rep = lint_path(sys.argv[1])
assert rep.error is None, rep.error
print(time.perf_counter() - t, len(rep.findings))
"""
REPAIR = """
import sys, time
from turnproof.lint.repair import repair_to
t = time.perf_counter()
edits = repair_to(sys.argv[1], sys.argv[2])
print(time.perf_counter() - t, len(edits))
"""


def generate(path: str, size: int, seed: int = 8479) -> int:
    rnd = random.Random(seed)
    words = [w * rnd.randint(1, 3) for w in ("src", "main", "test", "ok", "error", "build", "lib", "foo")]
    ts = "2025-12-20T10:00:00.000Z"

    def line(t: str, p: dict) -> bytes:
        return json.dumps({"timestamp": ts, "type": t, "payload": p}, separators=(",", ":")).encode() + b"\n"

    n_calls = 0
    with open(path, "wb") as f:
        f.write(line("session_meta", {"id": "bench", "cwd": "/repo", "cli_version": "0.77.0"}))
        r = 0
        while f.tell() < size:
            r += 1
            f.write(line("response_item", {"type": "message", "role": "user",
                                           "content": [{"type": "input_text", "text": f"step {r}: fix the build"}]}))
            f.write(line("turn_context", {"cwd": "/repo", "model": "gpt-5", "approval_policy": "on-request"}))
            f.write(line("response_item", {"type": "reasoning", "summary": [],
                                           "encrypted_content": "gAAAA" + "x" * rnd.randint(200, 2000)}))
            ids = []
            for _ in range(rnd.randint(1, 3)):
                n_calls += 1
                cid = f"call_{n_calls:08d}"
                ids.append(cid)
                f.write(line("response_item", {"type": "function_call", "name": "shell", "call_id": cid,
                                               "arguments": json.dumps({"command": ["bash", "-lc", "rg -n foo src"]})}))
            if r % 50 == 0:
                ids = ids[:-1]  # a crash: the last call never got its output
            for cid in ids:
                body = "\n".join(" ".join(rnd.choices(words, k=12)) for _ in range(rnd.randint(10, 500)))
                f.write(line("response_item", {"type": "function_call_output", "call_id": cid, "output": body}))
            f.write(line("event_msg", {"type": "token_count", "info": {"total_tokens": 1000 * r}}))
            f.write(line("response_item", {"type": "message", "role": "assistant",
                                           "content": [{"type": "output_text", "text": "Done: " + "ok " * 20}]}))
        return f.tell()


def run(code: str, *args: str) -> tuple[list[str], float]:
    """Run ``code`` in a fresh interpreter; its output words and its peak RSS in MB."""
    wrapper = code + "\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    p = subprocess.run([sys.executable, "-c", wrapper, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return p.stdout.split(), int(p.stderr.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def _wall(argv: list, env: dict, runs: int) -> tuple[float, float]:
    """(best, median) wall seconds of ``argv`` in a fresh process."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]


def _own_imports(env: dict, runs: int) -> tuple[float, list]:
    """turnproof's modules in `-X importtime` (self time, best of ``runs``): (total ms, top five)."""
    best: dict = {}
    for _ in range(runs):
        p = subprocess.run([sys.executable, "-X", "importtime", "-m", "turnproof", "lint", SMALL], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=False)
        for ln in p.stderr.splitlines():
            parts = ln.split("|")
            if len(parts) == 3 and parts[2].strip().startswith("turnproof"):
                us = int(parts[0].split(":")[1])
                name = parts[2].strip()
                best[name] = min(best.get(name, us), us)
    top = sorted(best.items(), key=lambda kv: -kv[1])[:5]
    return sum(best.values()) / 1000, [(n, us / 1000) for n, us in top]


def startup(runs: int) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    cache = tempfile.mkdtemp(prefix="turnproof-pyc-")
    try:
        installed = dict(base, PYTHONPYCACHEPREFIX=cache)  # bytecode written once, then read: as pip installs it
        subprocess.run([sys.executable, "-m", "turnproof", "lint", SMALL], cwd=ROOT, env=installed, capture_output=True)
        source = dict(base, PYTHONDONTWRITEBYTECODE="1")
        rows = [("python3 -c pass", [sys.executable, "-c", "pass"], installed),
                ("python3 -S -c pass (no site)", [sys.executable, "-S", "-c", "pass"], installed),
                ("turnproof lint SMALL, bytecode cached", [sys.executable, "-m", "turnproof", "lint", SMALL], installed),
                ("turnproof lint SMALL, from source", [sys.executable, "-m", "turnproof", "lint", SMALL], source),
                ("turnproof --version", [sys.executable, "-m", "turnproof", "--version"], installed)]
        print(f"start-up, wall time in a fresh process ({runs} runs; target: lint under 0.3 s); "
              f"SMALL = {os.path.relpath(SMALL, ROOT)}")
        got = {}
        for label, argv, env in rows:
            best, med = _wall(argv, env, runs)
            got[label] = best
            print(f"  {label:<40} best {best:5.3f} s   median {med:5.3f} s")
        own, top = _own_imports(installed, max(3, runs // 3))
        print(f"  lint minus python3 -c pass (best): {got[rows[2][0]] - got[rows[0][0]]:.3f} s; turnproof's own imports "
              f"(-X importtime, self, best): {own:.0f} ms: " + ", ".join(f"{n} {ms:.1f}" for n, ms in top))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--runs", type=int, default=15, help="runs per start-up figure (default 15)")
    ap.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    a = ap.parse_args()
    startup(a.runs)
    if a.startup_only:
        return
    d = tempfile.mkdtemp(prefix="turnproof-bench-")
    try:
        results = {}
        for mb in (a.mb / 10, a.mb):
            path = os.path.join(d, "rollout.jsonl")
            size = generate(path, int(mb * 1e6))
            (bare_s,), bare_rss = run(BARE, path)
            (lint_s, nfind), lint_rss = run(LINT, path)
            (rep_s, nedit), rep_rss = run(REPAIR, path, os.path.join(d, "out.jsonl"))
            results[mb] = (lint_rss, rep_rss)
            mbs = size / 1e6
            print(f"rollout {mbs:,.0f} MB ({int(nfind)} findings, {int(nedit)} repair edits)")
            print(f"  json.loads loop  {mbs / float(bare_s):7.1f} MB/s   peak RSS {bare_rss:6.0f} MB")
            print(f"  turnproof lint   {mbs / float(lint_s):7.1f} MB/s   peak RSS {lint_rss:6.0f} MB   "
                  f"ratio {float(bare_s) / float(lint_s):.2f} of json.loads (target >= 0.5)")
            print(f"  turnproof repair {mbs / float(rep_s):7.1f} MB/s   peak RSS {rep_rss:6.0f} MB")
            os.unlink(path)
            os.unlink(os.path.join(d, "out.jsonl"))
        small, big = results[a.mb / 10], results[a.mb]
        print(f"peak RSS, file 10x larger: lint {small[0]:.0f} -> {big[0]:.0f} MB, repair {small[1]:.0f} -> {big[1]:.0f} MB")
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
