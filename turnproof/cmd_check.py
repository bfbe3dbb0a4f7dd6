"""`turnproof designs`, `turnproof check`, `turnproof matrix`: the explicit-state checks."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from turnproof.model.designs import NAMED
from turnproof.model.explorer import Explorer
from turnproof.model.properties import PROPERTIES, SOMETIMES
from turnproof.model.turnloop import FAULTS, Params, TurnLoop, parse_faults
from turnproof.model.wire import WIRES
from turnproof.report import markdown_report, result_dict, violation_text
from turnproof.resolve import resolve_design

EXIT_OK, EXIT_VIOLATED = 0, 1


def _params_args(p) -> None:
    p.add_argument("--calls", type=int, default=3, metavar="N", help="parallel tool calls (default 3)")
    p.add_argument("--faults", default="all", metavar="LIST",
                   help=f"comma-separated faults ({', '.join(FAULTS)}), all (default) or none")
    p.add_argument("--turns", type=int, default=2, metavar="T", help="user turns before faults grant more (default 2)")
    p.add_argument("--max-faults", type=int, default=2, metavar="K", help="faults per session (default 2)")
    p.add_argument("--retries", type=int, default=1, metavar="R", help="stream retries per request (default 1)")
    p.add_argument("--no-text", action="store_true", help="responses with calls carry no assistant text")
    p.add_argument("--no-reduce", action="store_true",
                   help="explore every tool-completion order and writer lag (slower, same verdicts)")


def make_params(args, calls: int | None = None) -> Params:
    return Params(calls=args.calls if calls is None else calls, turns=args.turns, faults=parse_faults(args.faults),
                  retries=args.retries, max_faults=args.max_faults, text=not args.no_text,
                  reduce=not args.no_reduce)


# ---- designs -----------------------------------------------------------------------------------
def add_designs_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def run_designs(args) -> int:
    if args.json:
        print(json.dumps({n: {"title": d.title, "knobs": d.knobs()} for n, d in NAMED.items()}, indent=2))
        return EXIT_OK
    base = NAMED["codex-0.77-chat"].knobs()
    for n, d in NAMED.items():
        changed = {k: v for k, v in d.knobs().items() if v != base[k]}
        print(f"{n:<22} {d.title}")
        if n == "codex-0.77-chat":
            print(" " * 23 + ", ".join(f"{k}={_v(v)}" for k, v in base.items()))
        else:
            print(" " * 23 + "codex-0.77-chat with " + (", ".join(f"{k}={_v(v)}" for k, v in changed.items()) or "no change"))
    return EXIT_OK


def _v(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


# ---- check -------------------------------------------------------------------------------------
def add_check_arguments(p) -> None:
    p.add_argument("--design", required=True, metavar="NAME|FILE",
                   help="a named design (see `turnproof designs`) or a design file (TOML, see examples/designs)")
    p.add_argument("--wire", choices=WIRES, help="check the design on another wire API")
    _params_args(p)
    p.add_argument("--format", choices=("text", "markdown", "json"), default=None,
                   help="text (default), markdown (a PR comment with Mermaid diagrams) or json")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--itf", metavar="FILE",
                   help="write the counterexample as an ITF trace (Apalache/Quint); a {property} in "
                        "FILE writes one file per violated property, else the first one is written")
    p.add_argument("--dot", metavar="FILE",
                   help="write the state graph around the counterexample as Graphviz DOT (and SVG "
                        "beside it when `dot` is installed); {property} as for --itf")
    p.add_argument("--progress", action="store_true", help="report progress on stderr during long runs")


def check_design(design, params: Params, progress: bool = False):
    model = TurnLoop(design, params)
    from turnproof.model.properties import TurnLoopSpec
    result = Explorer(model, TurnLoopSpec(model), progress=progress).run()
    return model, result


def _output_format(args) -> str:
    fmt = getattr(args, "format", None)
    if getattr(args, "json", False):
        if fmt not in (None, "json"):
            raise ValueError(f"--json conflicts with --format {fmt}")
        return "json"
    return fmt or "text"


def _export_paths(pattern: str, violated: list[str]) -> list[tuple[str, str]]:
    """[(property, path)]: every violated property if the pattern has {property}, else the first."""
    if "{property}" in pattern:
        return [(pid, pattern.replace("{property}", pid)) for pid in violated]
    return [(violated[0], pattern)] if violated else []


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise ValueError(f"{path}: cannot write: {e.strerror}") from None


def write_exports(model, result, itf: str | None, dot: str | None) -> None:
    """--itf and --dot: files for the violated properties (notes on stderr; stdout stays one document)."""
    from turnproof import dot as dotmod, itf as itfmod

    violated = [pid for pid in PROPERTIES if pid in result.violations]
    for flag, pattern in (("--itf", itf), ("--dot", dot)):
        if pattern is None:
            continue
        if not violated:
            print(f"turnproof check: {flag}: every property holds, no counterexample to write", file=sys.stderr)
        for pid, path in _export_paths(pattern, violated):
            v = result.violations[pid]
            if flag == "--itf":
                _write(path, itfmod.dumps(itfmod.violation_itf(model, v)))
                print(f"turnproof check: {pid} counterexample written to {path} (ITF)", file=sys.stderr)
            else:
                _write(path, dotmod.violation_dot(model, v))
                svg = dotmod.render_svg(path)
                print(f"turnproof check: {pid} state graph written to {path}"
                      + (f" and {svg}" if svg else " (install Graphviz for SVG: dot -Tsvg)"), file=sys.stderr)


def run_check(args) -> int:
    fmt = _output_format(args)
    design = resolve_design(args.design, args.wire)
    params = make_params(args)
    model, result = check_design(design, params, progress=args.progress)
    faults = sorted(params.faults, key=FAULTS.index)
    write_exports(model, result, getattr(args, "itf", None), getattr(args, "dot", None))
    if fmt == "json":
        print(json.dumps(result_dict(model, result, faults), indent=2, default=str))
        return EXIT_VIOLATED if result.violations else EXIT_OK
    if fmt == "markdown":
        replay = shlex.quote(args.design) + (f" --wire {args.wire}" if args.wire else "")
        print(markdown_report(model, result, faults, replay), end="")
        return EXIT_VIOLATED if result.violations else EXIT_OK
    print(f"turnproof check: design {design.name} (wire {design.wire}), calls {params.calls}, "
          f"turns {params.turns}, faults {','.join(faults) or 'none'} (at most {params.max_faults} per session)")
    secs = result.seconds + result.graph_seconds
    print(f"explored {result.states:,} states, {result.edges:,} steps, depth {result.depth}, "
          f"in {secs:.2f} s ({result.states_per_second:,.0f} states/s)")
    print()
    for pid, p in PROPERTIES.items():
        v = result.violations.get(pid)
        verdict = "holds" if v is None else f"VIOLATED (path length {len(v.path) - 1})"
        print(f"  {pid:<19} {p.kind:<10} {verdict}")
    for sid, text in SOMETIMES.items():
        d = result.sometimes.get(sid)
        print(f"  {sid:<19} sometimes  " + (f"reached at depth {d}" if d is not None else "NEVER REACHED"))
    never = [a for a in model_actions() if a not in result.coverage]
    if never:
        print(f"  actions never taken: {', '.join(never)}")
    for pid in PROPERTIES:
        if pid in result.violations:
            print()
            print(violation_text(model, result.violations[pid]))
    return EXIT_VIOLATED if result.violations else EXIT_OK


def model_actions() -> list[str]:
    from turnproof.model.turnloop import ACTIONS
    return list(ACTIONS)


# ---- matrix ------------------------------------------------------------------------------------
def add_matrix_arguments(p) -> None:
    _params_args(p)
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--design", action="append", default=[], metavar="NAME|FILE",
                   help="add a row for this design (a name or a design file); repeatable")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="J", help="parallel processes")


def matrix_rows() -> list[tuple[str, str | None]]:
    rows: list = [(n, None) for n in NAMED]
    rows += [("turnproof-proposed", w) for w in WIRES if w != NAMED["turnproof-proposed"].wire]
    return rows


def _matrix_cell(job: tuple) -> dict:
    name, wire, params = job
    design = resolve_design(name, wire)
    model, result = check_design(design, params)
    d = result_dict(model, result, sorted(params.faults, key=FAULTS.index))
    return {"design": design.name, "wire": design.wire, "states": result.states,
            "seconds": round(result.seconds + result.graph_seconds, 2),
            "properties": {k: (None if v["holds"] else v.get("path_length")) for k, v in d["properties"].items()},
            "errors": {k: v.get("provider_error") for k, v in d["properties"].items() if v.get("provider_error")}}


def run_matrix(args) -> int:
    params = make_params(args)
    for extra in args.design:
        resolve_design(extra)  # a bad file is a usage error here, not a traceback from a worker
    jobs = [(n, w, params) for n, w in matrix_rows() + [(x, None) for x in args.design]]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as ex:
            cells = list(ex.map(_matrix_cell, jobs))
    else:
        cells = [_matrix_cell(j) for j in jobs]
    wall = time.perf_counter() - t0
    any_bad = any(v is not None for c in cells for v in c["properties"].values())
    faults = sorted(params.faults, key=FAULTS.index)
    if args.format == "json":
        print(json.dumps({"calls": params.calls, "faults": faults, "max_faults": params.max_faults,
                          "seconds": round(wall, 2), "rows": cells}, indent=2))
        return EXIT_VIOLATED if any_bad else EXIT_OK
    props = list(PROPERTIES)
    head = ["design", "wire"] + props + ["states"]
    body = [[c["design"], c["wire"]] + ["ok" if c["properties"][p] is None else f"FAIL({c['properties'][p]})"
                                        for p in props] + [f"{c['states']:,}"] for c in cells]
    title = (f"turnproof matrix: calls {params.calls}, faults {','.join(faults) or 'none'} "
             f"(at most {params.max_faults} per session), {wall:.1f} s")
    if args.format == "markdown":
        print(f"**{title}**\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in body:
            print("| " + " | ".join(r) + " |")
        print("\nFAIL(n): violated, shortest counterexample of n steps (`turnproof check --design NAME`).")
        errors = [(c["design"], p, e) for c in cells for p, e in c["errors"].items()]
        if errors:
            print("\n<details><summary>what the provider answers</summary>\n")
            for design, prop, err in errors:
                print(f"- `{design}`, `{prop}`: `{err}`" if "`" not in err else f"- `{design}`, `{prop}`: ``` {err} ```")
            print("\n</details>")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        print(title)
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for r in body:
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
        print("FAIL(n): violated, shortest counterexample of n steps (`turnproof check --design NAME`).")
    return EXIT_VIOLATED if any_bad else EXIT_OK
