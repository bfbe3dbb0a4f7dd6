"""Benchmark lint and repair on one huge parallel call group: 1k, 10k and 100k calls.

The shapes issue 14 (point 8) measured as quadratic: a group of N parallel calls in a Codex
rollout, half of them answered after a user message (so repair moves N/2 results up and adds N/2
synthetic ones), and the same history as an OpenAI Responses body, a chat body and an Anthropic
body. Each command runs in a fresh process (`python -m turnproof lint|repair`), wall time measured
around it, so interpreter start-up is included (a few tenths of a second) and the figures are what
a user waits for. Linear means: ten times the calls, about ten times the time. MB/s is the input
file's size over the wall time (start-up included, so small files show a low rate).

    python benchmarks/bench_repair.py [--sizes 1000,10000,100000]
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rollout(path: str, n: int) -> None:
    def line(k: int, t: str, p: dict) -> str:
        return json.dumps({"timestamp": f"2025-12-20T10:{k // 60 % 60:02d}:{k % 60:02d}.000Z", "type": t,
                           "payload": p}, separators=(",", ":"))

    out = [line(0, "session_meta", {"id": "bench", "cli_version": "0.122.0", "model_provider": "openai"}),
           line(0, "response_item", {"type": "message", "role": "user", "content": []})]
    out += [line(1, "response_item", {"type": "function_call", "name": "shell", "arguments": "{}",
                                      "call_id": f"call_{i}"}) for i in range(n)]
    out.append(line(2, "response_item", {"type": "message", "role": "user", "content": []}))
    out += [line(3, "response_item", {"type": "function_call_output", "call_id": f"call_{i}", "output": "ok"})
            for i in range(0, n, 2)]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def body(path: str, n: int, dialect: str) -> None:
    if dialect == "openai-responses":
        doc = {"model": "gpt-5", "input": [{"role": "user", "content": "go"}]
               + [{"type": "function_call", "call_id": f"c{i}", "name": "f", "arguments": "{}"} for i in range(n)]
               + [{"role": "user", "content": "and?"}]
               + [{"type": "function_call_output", "call_id": f"c{i}", "output": "ok"} for i in range(0, n, 2)]}
    elif dialect == "openai-chat":
        doc = {"model": "gpt-4o", "messages": [{"role": "user", "content": "go"},
                                               {"role": "assistant", "content": None, "tool_calls": [
                                                   {"id": f"c{i}", "type": "function",
                                                    "function": {"name": "f", "arguments": "{}"}} for i in range(n)]},
                                               {"role": "user", "content": "and?"}]
               + [{"role": "tool", "tool_call_id": f"c{i}", "content": "ok"} for i in range(0, n, 2)]}
    else:
        doc = {"model": "claude-sonnet-4", "max_tokens": 1024, "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "f", "input": {}}
                                              for i in range(n)]},
            {"role": "user", "content": [{"type": "text", "text": "and?"}]
             + [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"} for i in range(0, n, 2)]}]}
    with open(path, "w") as f:
        json.dump(doc, f)


def timed(*argv: str) -> tuple[float, int, int]:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "turnproof", *argv], capture_output=True, env=env)
    took = time.perf_counter() - t
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.decode()[-500:]}")
    return took, p.returncode, len(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    d = tempfile.mkdtemp(prefix="turnproof-bench-")
    try:
        print(f"{'file':<18} {'calls':>7} {'MB':>7} {'lint s':>8} {'lint MB/s':>10} {'lint out KB':>11} "
              f"{'repair s':>9} {'repair MB/s':>12} {'s per 1k calls':>15}")
        for kind in ("codex-rollout", "openai-responses", "openai-chat", "anthropic"):
            for n in sizes:
                src = os.path.join(d, f"{kind}-{n}" + (".jsonl" if kind == "codex-rollout" else ".json"))
                (rollout(src, n) if kind == "codex-rollout" else body(src, n, kind))
                lt, lcode, lout = timed("lint", src)
                assert lcode == 1, "the half-answered group must be flagged"
                rt, rcode, _ = timed("repair", src, "-o", src + ".out")
                _, again, _ = timed("lint", src + ".out")
                assert again == 0, f"{kind} {n}: the repaired file is not clean"
                mb = os.path.getsize(src) / 1e6
                print(f"{kind:<18} {n:>7} {mb:>7.2f} {lt:>8.2f} {mb / lt:>10.2f} {lout / 1024:>11.1f} "
                      f"{rt:>9.2f} {mb / rt:>12.2f} {1000 * rt / n:>15.3f}", flush=True)
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
