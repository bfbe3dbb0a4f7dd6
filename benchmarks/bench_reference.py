"""Speed of the reference loop: in-process runs per second and SIGKILL crash-resume cycles per
second (targets: >= 200 and >= 10), plus which model actions seeded schedules exercise.

    python benchmarks/bench_reference.py [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from turnproof.reference.designs import get  # noqa: E402
from turnproof.reference.loop import Session  # noqa: E402
from turnproof.reference.proc import run_process  # noqa: E402
from turnproof.reference.tools import ScriptedModel, Tool, shell_calls  # noqa: E402


def rate(fn, seconds: float) -> tuple[int, float]:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(n)
        n += 1
    return n, n / (time.perf_counter() - t0)


def free_run(directory: str):
    """One session: three parallel calls, drained, follow-up, then a resume and another turn."""
    async def go(i: int):
        d = get("codex-0.78-chat")
        path = f"{directory}/free-{i}.jsonl"
        s = Session.start(d, path, server=ScriptedModel([shell_calls(3) + [("completed",)]], wire=d.wire),
                          tools={"shell": Tool("shell", parallel_safe=True)})
        s.submit("fix it")
        await s.wait_turn()
        await s.close()
        r = Session.resume(d, path)
        r.submit("continue")
        await r.wait_turn()
        await r.close()
        os.remove(path)
    return lambda i: asyncio.run(go(i))


def controlled_run(directory: str, replay: bool):
    from conformance_util import run_schedule, seeded
    if replay:
        return lambda i: asyncio.run(run_schedule("codex-0.77-chat", f"{directory}/c-{i}.jsonl", seeded(i)))

    from turnproof.reference.sim import Sim

    async def go(i: int):
        import random
        rng = random.Random(i)
        sim = Sim(get("codex-0.77-chat"), f"{directory}/s-{i}.jsonl")
        await sim.start()
        for _ in range(40):
            ch = [c for c in sim.enabled() if c[0] not in ("Crash", "StreamError", "StreamClosed", "ToolFail",
                                                           "Interrupt", "StreamToolCall") or rng.random() < 0.1]
            if not ch:
                break
            await sim.do(*rng.choice(ch))
        await sim.finish()
    return lambda i: asyncio.run(go(i))


def crash_cycle(directory: str, fork: bool):
    def one(i: int):
        path = f"{directory}/k-{fork}-{i}.jsonl"
        first = run_process(["run", "--design", "codex-0.77-chat", "--file", path, "--parallel"],
                            kill_after_line=3 + i % 6, fork=fork)
        second = run_process(["resume", "--design", "codex-0.77-chat", "--file", path], fork=fork)
        assert second.returncode == 0 and (first.killed or first.returncode == 0)
    return one


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print(f"reference loop benchmark ({a.seconds:.0f} s per figure, {os.cpu_count()} cpus)")
        n, r = rate(free_run(d), a.seconds)
        print(f"  in-process runs (free asyncio, 3 calls + resume + turn): {r:8.1f} runs/s   (target >= 200; {n} runs)")
        n, r = rate(controlled_run(d, False), a.seconds)
        print(f"  in-process runs (controlled scheduler, random schedule):  {r:8.1f} runs/s   ({n} runs)")
        n, r = rate(controlled_run(d, True), a.seconds)
        print(f"  ... with every step replayed and compared on the model:  {r:8.1f} runs/s   ({n} runs)")
        n, r = rate(crash_cycle(d, True), a.seconds)
        print(f"  SIGKILL crash + resume cycles (forked processes):        {r:8.1f} cycles/s (target >= 10; {n} cycles)")
        n, r = rate(crash_cycle(d, False), a.seconds)
        print(f"  SIGKILL crash + resume cycles (fresh interpreters):      {r:8.1f} cycles/s ({n} cycles)")
        from conformance_util import run_schedule, seeded
        from turnproof.model.turnloop import ACTIONS
        from test_conformance_traces import DESIGNS
        counts: Counter = Counter()
        for name in DESIGNS:
            for i in range(40):
                counts.update(x for x, _ in asyncio.run(run_schedule(name, f"{d}/cov-{name}-{i}.jsonl",
                                                                     seeded((name, i)))).steps)
        print(f"  model actions exercised ({len(DESIGNS)} designs x 40 seeded schedules):")
        for act in ACTIONS:
            print(f"    {act:<16} {counts[act]:>6}")


if __name__ == "__main__":
    main()
