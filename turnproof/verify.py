"""`turnproof verify` as a library: every named design against its expected results.

The expectations are data, model/expected.toml (which says what each key means); this module
loads and checks them, then runs three stages per design and compares:

- explore: the explorer at the manifest's bounds, a verdict per property and per reachability check;
- prove: z3 for any number of calls, a verdict per safety property (refuted only by a replayed
  trace of the explicit model);
- reproduce: every incident scenario on the reference loop, in real (forked) processes, the first
  killed with SIGKILL where the scenario says: works or fails.

Stages run in worker processes; ``on_outcome`` hears of each as it finishes. No printing here.
"""

from __future__ import annotations

import os
import tempfile
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable

from turnproof import model as model_package
from turnproof.model.designs import FIELD, NAMED
from turnproof.model.properties import PROPERTIES, SAFETY, SOMETIMES

EXPECTED = os.path.join(os.path.dirname(os.path.abspath(model_package.__file__)), "expected.toml")
STAGES = ("explore", "prove", "reproduce")
_TABLE = {"explore": "check", "prove": "prove", "reproduce": "reproduce"}  # stage -> manifest table
BOUND_KEYS = ("calls", "rounds", "turns", "faults", "max_faults", "retries")


class ManifestError(ValueError):
    """A manifest that cannot be used (one line naming the file)."""


@dataclass
class Manifest:
    path: str
    bounds: dict
    designs: dict  # design -> {"check": {...}, "prove": {...}, "reproduce": {...}}


def _values(stage: str) -> dict:
    """Manifest table -> {key: allowed values}."""
    from turnproof.incidents import SCENARIOS
    from turnproof.proofs.induction import GOALS

    if stage == "check":
        return {**{p: ("holds", "violated") for p in PROPERTIES}, **{s: ("reached", "never") for s in SOMETIMES}}
    if stage == "prove":
        return {g: ("proved", "refuted", "unknown") for g in GOALS}
    return {s: ("works", "fails") for s in SCENARIOS}


def design_known(name: str) -> bool:
    from turnproof.model.wire import WIRES

    base, _, wire = name.partition("@")
    return (base in NAMED or base in FIELD) and (not wire or wire in WIRES)


def load_manifest(path: str = EXPECTED) -> Manifest:
    """Read and check a manifest: every key known, every value allowed, every table complete."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest") from None
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{path}: malformed TOML: {e}") from None
    except OSError as e:
        raise ManifestError(f"{path}: cannot read: {e.strerror}") from None
    extra = sorted(set(data) - {"bounds", "design"})
    if extra:
        raise ManifestError(f"{path}: unknown table {extra[0]!r}; a manifest has [bounds] and [design.\"NAME\".*]")
    bounds = dict(data.get("bounds", {}))
    for k in bounds:
        if k not in BOUND_KEYS:
            raise ManifestError(f"{path}: [bounds]: unknown key {k!r}; allowed: {', '.join(BOUND_KEYS)}")
    designs = data.get("design", {})
    if not designs:
        raise ManifestError(f"{path}: no [design.\"NAME\".*] tables")
    for name, tables in designs.items():
        if not design_known(name):
            raise ManifestError(f"{path}: unknown design {name!r}; named designs: {', '.join(NAMED)} (or NAME@WIRE)")
        for table, entries in tables.items():
            if table == "bounds":  # the design's own bounds for its check, over [bounds]
                for k in entries:
                    if k not in BOUND_KEYS:
                        raise ManifestError(f"{path}: design {name!r}, bounds: unknown key {k!r}; allowed: "
                                            f"{', '.join(BOUND_KEYS)}")
                continue
            if table not in _TABLE.values():
                raise ManifestError(f"{path}: design {name!r}: unknown table {table!r}; allowed: check, prove, "
                                    "reproduce, bounds")
            allowed = _values(table)
            for k, v in entries.items():
                if k not in allowed:
                    raise ManifestError(f"{path}: design {name!r}, {table}: unknown key {k!r}; allowed: "
                                        f"{', '.join(allowed)}")
                if v not in allowed[k]:
                    raise ManifestError(f"{path}: design {name!r}, {table}, {k}: {v!r} is not one of "
                                        f"{', '.join(allowed[k])}")
            missing = [k for k in allowed if k not in entries]
            if missing:
                raise ManifestError(f"{path}: design {name!r}, {table}: no expectation for {', '.join(missing)}")
    return Manifest(path, bounds, designs)


@dataclass
class Outcome:
    design: str
    stage: str
    expected: dict  # key -> expected value ({} when the manifest has none)
    found: dict  # key -> found value
    seconds: float
    notes: list = field(default_factory=list)  # why a result could not be had (e.g. the search stopped)

    @property
    def differences(self) -> list[tuple[str, str | None, str | None]]:
        keys = list(self.expected) + [k for k in self.found if k not in self.expected]
        return [(k, self.expected.get(k), self.found.get(k)) for k in keys if self.expected.get(k) != self.found.get(k)]

    @property
    def ok(self) -> bool:
        return bool(self.expected) and not self.differences


def _explore(name: str, bounds: dict) -> tuple[dict, list]:
    from turnproof import checks
    from turnproof.resolve import resolve_design

    base, _, wire = name.partition("@")
    params = checks.make_params(**{**checks.DEFAULT_BOUNDS, **bounds})
    design = resolve_design(base, wire or None)
    _, result = checks.check_design(design, checks.field_params(design, params))
    found = {p: "violated" if p in result.violations else "holds" for p in PROPERTIES}
    notes = []
    if result.truncated:
        notes.append(f"the search stopped at {result.states:,} states (--max-states): unviolated verdicts unknown")
        found.update({p: "unknown" for p in PROPERTIES if p not in result.violations})
    found.update({s: "reached" if result.sometimes.get(s) is not None else "never" for s in SOMETIMES})
    return found, notes


def _prove(name: str) -> tuple[dict, list]:
    from turnproof import checks
    from turnproof.resolve import resolve_design

    base, _, wire = name.partition("@")
    _, _, verdicts = checks.prove_goals(resolve_design(base, wire or None))
    assert set(verdicts) == set(SAFETY)
    return dict(verdicts), []


def _reproduce(name: str) -> tuple[dict, list]:
    from turnproof.incidents import SCENARIOS, replay

    found = {}
    with tempfile.TemporaryDirectory(prefix="turnproof-verify-") as tmp:
        for k, scenario in enumerate(SCENARIOS):
            r = replay(scenario, name, os.path.join(tmp, str(k)), fork=True)  # forked: 7x faster to start
            found[scenario] = "crashed" if r.crashed else ("works" if r.works else "fails")  # a crash matches nothing
    return found, []


def run_stage(job: tuple) -> Outcome:
    """One (design, stage, expected, bounds) job: run it and compare (a worker process's task)."""
    name, stage, expected, bounds = job
    t0 = time.perf_counter()
    if stage == "explore":
        found, notes = _explore(name, bounds)
    elif stage == "prove":
        found, notes = _prove(name)
    else:
        found, notes = _reproduce(name)
    return Outcome(name, stage, expected, found, time.perf_counter() - t0, notes)


def jobs(manifest: Manifest, designs: list[str] | None = None, stages: tuple = STAGES) -> list[tuple]:
    """Every (design, stage) to run: each design the manifest names, and each named design it does
    not (with no expectation, so it shows as a difference). A design of the field table (FIELD)
    runs only the stages the manifest has a table for: z3 encodes only the removals that keep pairs
    whole, and the reference loop has no removal."""
    names = list(manifest.designs) + [n for n in list(NAMED) + list(FIELD) if n not in manifest.designs]
    if designs:
        unknown = [d for d in designs if d not in names]
        if unknown:
            raise ValueError(f"--design {unknown[0]!r} is not in {manifest.path}; there: {', '.join(names)}")
        names = [n for n in names if n in designs]
    return [(n, st, dict(manifest.designs.get(n, {}).get(_TABLE[st], {})),
             {**manifest.bounds, **manifest.designs.get(n, {}).get("bounds", {})})
            for n in names for st in stages
            if not (n.partition("@")[0] in FIELD and _TABLE[st] not in manifest.designs.get(n, {"check": {}}))]


def run_verify(todo: list[tuple], workers: int = 1, on_outcome: Callable | None = None) -> list[Outcome]:
    """Run every job; outcomes in job order. ``on_outcome(outcome, done, total)`` as each finishes."""
    out: list = [None] * len(todo)
    # the slow stages first, so that the last worker is not left with the longest one
    order = sorted(range(len(todo)), key=lambda k: {"reproduce": 0, "explore": 1, "prove": 2}[todo[k][1]])
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as ex:
            futures = {ex.submit(run_stage, todo[k]): k for k in order}
            for done, fut in enumerate(as_completed(futures), start=1):
                out[futures[fut]] = fut.result()
                if on_outcome:
                    on_outcome(out[futures[fut]], done, len(todo))
    else:
        for done, k in enumerate(order, start=1):
            out[k] = run_stage(todo[k])
            if on_outcome:
                on_outcome(out[k], done, len(todo))
    return out


def summary(stage: str, values: dict) -> str:
    """A cell of the table: counts of each verdict, e.g. "4 violated, 3 hold; 3 reached"."""
    if not values:
        return "-"
    if stage == "explore":
        props = [values.get(p) for p in PROPERTIES if p in values]
        reach = [values.get(s) for s in SOMETIMES if s in values]
        head = _counts(props, (("violated", "violated"), ("unknown", "unknown"), ("holds", "hold")))
        tail = _counts(reach, (("never", "never reached"), ("reached", "reached")))
        return f"{head}; {tail}" if tail else head
    if stage == "prove":
        return _counts(list(values.values()), (("refuted", "refuted"), ("unknown", "unknown"), ("proved", "proved")))
    return _counts(list(values.values()), (("fails", "fail"), ("works", "work")))


def _counts(values: list, names: tuple) -> str:
    return ", ".join(f"{values.count(v)} {label}" for v, label in names if values.count(v))
