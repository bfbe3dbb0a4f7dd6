"""The explicit-state checks as a library: one design, the matrix of every named design.

No argparse and no print: the command line (cmd_check.py, cmd_verify.py) and the Python API
(api.py) call these functions and render what they return. Progress, where asked for, is a
callback.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from turnproof.exitcodes import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATED
from dataclasses import replace

from turnproof.model.designs import FIELD, FIELD_AGENTS, NAMED, Design
from turnproof.model.explorer import Explorer
from turnproof.model.properties import PROPERTIES, TurnLoopSpec
from turnproof.model.turnloop import FAULTS, REMOVAL_FAULTS, Params, TurnLoop, parse_faults
from turnproof.model.provider import NAMES as PROVIDER_NAMES, PROVIDERS_BY_NAME
from turnproof.resolve import check_provider, provider_of, resolve_design

# The bounds `check`, `matrix` and `verify` use unless told otherwise.
DEFAULT_BOUNDS = {"calls": 3, "turns": 2, "max_faults": 2, "retries": 1, "rounds": 2}
# A guard against runs that would exhaust memory (about 0.5-0.8 GB per million states, which
# benchmarks/bench_model.py prints as bytes/state): the default bounds need under 250,000 states
# for every named design, --calls 4 under 800,000; --calls 5 on codex-0.122-responses needs 2.3
# million, --calls 6 many more.
DEFAULT_MAX_STATES = 1_500_000


def faults_arg(text: str) -> frozenset:
    """--faults: 'all', 'none' or a comma-separated list; an empty value is an error, not 'none'."""
    if not text.strip() or not any(t.strip() for t in text.split(",")):
        raise ValueError(f"--faults {text!r} names no fault; say `none` for no faults, or list them "
                         f"({', '.join(FAULTS)}), or `all`")
    return parse_faults(text)


def make_params(calls: int = 3, faults: str | frozenset = "all", turns: int = 2, max_faults: int = 2,
                retries: int = 1, text: bool = True, reduce: bool = True, rounds: int = 2) -> Params:
    fs = faults_arg(faults) if isinstance(faults, str) else frozenset(faults)
    return Params(calls=calls, turns=turns, faults=fs, retries=retries, max_faults=max_faults, text=text,
                  reduce=reduce, rounds=rounds)


def fault_names(params: Params) -> list[str]:
    return [f for f in FAULTS if f in params.faults]


def check_design(design: Design, params: Params, progress: Callable | None = None,
                 max_states: int | None = DEFAULT_MAX_STATES):
    """Explore ``design`` under ``params`` and judge every property: (TurnLoop, explorer.Result).

    ``progress(states_done, queued, depth, states_per_second)`` is called every few seconds.
    Past ``max_states`` the search stops and ``result.truncated`` is set: the violations found so
    far are real, but "holds" is not earned.
    """
    model = TurnLoop(design, params)
    explorer = Explorer(model, TurnLoopSpec(model), progress=progress,
                        max_states=max_states if max_states else None)
    result = explorer.run()
    for v in result.violations.values():  # reported as steps of the model without reductions
        v.path = model.concretize(v.path)
    return model, result


# ---- the matrix --------------------------------------------------------------------------------
def matrix_rows(provider: str | None = None) -> list[tuple[str, str | None, str | None]]:
    """(design, wire or None, provider or None) per row.

    No provider: every named design on its own wire, and turnproof-proposed on every other wire
    (the default matrix, its cost unchanged). A provider: every named design judged by it (on the
    first wire it serves when it does not serve the design's), and turnproof-proposed on every wire
    it serves. "all": those rows for every provider in turn.
    """
    if provider == "all":
        return [r for p in PROVIDER_NAMES for r in matrix_rows(p)]
    if provider is None:
        rows: list = [(n, None, None) for n in NAMED]
        rows += [("turnproof-proposed", w, None) for w in ("chat", "responses", "anthropic")
                 if w != NAMED["turnproof-proposed"].wire]
        return rows
    served = PROVIDERS_BY_NAME[check_provider(provider)].wires
    rows = [(n, None, provider) for n in NAMED]
    home = resolve_design("turnproof-proposed", None, provider).wire
    rows += [("turnproof-proposed", w, provider) for w in served if w != home]
    return rows


def field_params(design: Design, params: Params) -> Params:
    """The bounds the field table explores ``design`` with: an agent other than Codex and turnproof
    has only its removal modelled, so only the removal faults (compaction, rollback) of ``params``."""
    base = design.name.rsplit("@", 1)[0]
    if base in FIELD_AGENTS:
        return replace(params, faults=frozenset(f for f in params.faults if f in REMOVAL_FAULTS))
    return params


def verdict(v, truncated: bool = False) -> dict:
    """One property's verdict, as `check` and `matrix` JSON both write it: ``verdict`` is holds,
    violated (with the shortest counterexample's length) or unknown (the search stopped at
    --max-states before finding a violation; ``holds`` is then null)."""
    if v is not None:
        return {"verdict": "violated", "holds": False, "path_length": len(v.path) - 1}
    if truncated:
        return {"verdict": "unknown", "holds": None}
    return {"verdict": "holds", "holds": True}


def verdicts(result) -> dict:
    """Property ID -> verdict(), in PROPERTIES order."""
    return {pid: verdict(result.violations.get(pid), result.truncated) for pid in PROPERTIES}


def exit_code(result) -> int:
    """0 every property holds, 1 one is violated, 3 none violated but the search was cut short."""
    if result.violations:
        return EXIT_VIOLATED
    return EXIT_UNKNOWN if result.truncated else EXIT_OK


def matrix_cell(job: tuple) -> dict:
    """One row of the matrix: ``job`` is (Design, Params, max_states)."""
    from turnproof.model.provider import Rejection

    design, params, max_states = job
    model, result = check_design(design, params, max_states=max_states)
    return {"design": design.name, "wire": design.wire, "provider": provider_of(design), "states": result.states,
            "faults": fault_names(params),
            "truncated": result.truncated,
            "seconds": round(result.seconds + result.graph_seconds, 2),
            "properties": verdicts(result),
            "errors": {pid: v.detail.text for pid, v in result.violations.items()
                       if isinstance(v.detail, Rejection)}}


def run_matrix(params: Params, extra: tuple = (), jobs: int = 1, max_states: int | None = DEFAULT_MAX_STATES,
               on_cell: Callable | None = None, provider: str | None = None,
               field: bool = False) -> tuple[list[dict], float]:
    """Every matrix row (and a row per ``extra`` design name or file): (cells in row order, seconds).

    ``provider`` is None (the default matrix), a provider name or "all" (see matrix_rows); the
    ``extra`` designs are judged by it too. ``on_cell(cell, done, total)`` is called as each row
    finishes (in completion order).
    """
    if provider is not None and provider != "all":
        check_provider(provider)  # a ValueError naming the allowed ones
    # resolved here, once: a bad file is a ValueError here, not a traceback from a worker, and `-`
    # (stdin) is read once
    rows = []
    for p in PROVIDER_NAMES if provider == "all" else (provider,):
        named = [(n, None, p) for n in FIELD] if field else matrix_rows(p)
        rows += [resolve_design(n, w, p) for n, w, p in named] + [resolve_design(x, None, p) for x in extra]
    todo = [(d, field_params(d, params) if field else params, max_states) for d in rows]
    t0 = time.perf_counter()
    cells: list = [None] * len(todo)
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as ex:
            futures = {ex.submit(matrix_cell, job): k for k, job in enumerate(todo)}
            for done, fut in enumerate(as_completed(futures), start=1):
                cells[futures[fut]] = fut.result()
                if on_cell:
                    on_cell(cells[futures[fut]], done, len(todo))
    else:
        for k, job in enumerate(todo):
            cells[k] = matrix_cell(job)
            if on_cell:
                on_cell(cells[k], k + 1, len(todo))
    return cells, time.perf_counter() - t0


# ---- proofs ------------------------------------------------------------------------------------
def design_faults(design: Design) -> frozenset:
    """The faults a design is checked and proved with by default: every fault, or for an agent other
    than Codex and turnproof (only its removal is modelled) the removal faults, as in the field table."""
    return field_params(design, Params(faults=frozenset(FAULTS))).faults


def prove_goals(design: Design, faults: frozenset | None = None, timeout_ms: int = 20_000,
                max_calls: int = 3):
    """z3 for any number of calls, then concrete traces for what it could not prove:
    (ProofResult, {goal: refute.Trace}, {goal: "proved" | "refuted" | "unknown"}).

    A goal is refuted only by a trace of the explicit model (replayed through its successors);
    a goal neither proved nor refuted is unknown.
    """
    from turnproof.proofs.induction import GOALS, prove
    from turnproof.proofs.refute import find_traces

    from turnproof.proofs.transitions import Encoding

    if faults is None:
        faults = design_faults(design)
    try:  # a removal step the encoding does not have (transitions.py): no claim
        Encoding(design).actions()
    except NotImplementedError as e:
        raise ValueError(f"{e}: z3 does not prove it") from None
    res = prove(design, faults, timeout_ms=timeout_ms)
    unproved = [g for g in GOALS if g not in res.proved_goals]
    traces = find_traces(design, unproved, faults, max_calls) if unproved else {}
    verdicts = {g: "proved" if g in res.proved_goals else ("refuted" if g in traces else "unknown") for g in GOALS}
    return res, traces, verdicts
