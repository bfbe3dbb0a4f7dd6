"""`turnproof designs`, `turnproof check`, `turnproof matrix`: the explicit-state checks."""

from __future__ import annotations

import json
import os
import shlex
import sys

from turnproof import __version__, checks
from turnproof.exitcodes import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATED, UsageError
from turnproof.jsondoc import document
from turnproof.model.designs import FIELD, NAMED
from turnproof.model.properties import PROPERTIES, SOMETIMES
from turnproof.model.turnloop import FAULTS, Params
from turnproof.model.wire import WIRES
from turnproof.report import markdown_report, result_dict, violation_text
from turnproof.model.provider import NAMES as PROVIDER_NAMES
from turnproof.resolve import check_provider, resolve_design_and_base, wire_label


def _params_args(p) -> None:
    p.add_argument("--calls", type=int, default=3, metavar="N", help="parallel tool calls (default 3)")
    p.add_argument("--faults", default="all", metavar="LIST",
                   help=f"comma-separated faults ({', '.join(FAULTS)}), all (default) or none")
    p.add_argument("--turns", type=int, default=2, metavar="T", help="user turns before faults grant more (default 2)")
    p.add_argument("--max-faults", type=int, default=2, metavar="K", help="faults per session (default 2)")
    p.add_argument("--retries", type=int, default=1, metavar="R", help="stream retries per request (default 1)")
    p.add_argument("--rounds", type=int, default=2, metavar="K",
                   help="responses with calls in the first turn: the first and each follow-up (default 2)")
    p.add_argument("--no-text", action="store_true", help="responses with calls carry no assistant text")
    p.add_argument("--no-reduce", action="store_true",
                   help="explore every tool-completion order and writer lag (slower, same verdicts)")


def make_params(args) -> Params:
    return checks.make_params(calls=args.calls, turns=args.turns, faults=args.faults, retries=args.retries,
                              max_faults=args.max_faults, text=not args.no_text, reduce=not args.no_reduce,
                              rounds=args.rounds)


# ---- designs -----------------------------------------------------------------------------------
def add_designs_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def run_designs(args) -> int:
    every = {**NAMED, **FIELD}  # the field table's designs (history that shrinks) after the named ones
    if args.json:
        print(json.dumps(document("designs", {"designs": {n: {"title": d.title, "description": d.description,
                                                               "knobs": d.knobs()} for n, d in every.items()}}),
                         indent=2))
        return EXIT_OK
    base = NAMED["codex-0.77-chat"].knobs()
    for n, d in every.items():
        if n == next(iter(FIELD)):
            print("\nhistory that shrinks (`turnproof matrix --field`):")
        changed = {k: v for k, v in d.knobs().items() if v != base[k]}
        print(f"{n:<22} {d.title}")
        if n == "codex-0.77-chat":
            print(" " * 23 + ", ".join(f"{k}={_v(v)}" for k, v in base.items()))
        else:
            print(" " * 23 + "codex-0.77-chat with " + (", ".join(f"{k}={_v(v)}" for k, v in changed.items()) or "no change"))
    return EXIT_OK


def _v(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


# ---- progress ----------------------------------------------------------------------------------
def add_progress_arguments(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true", default=None,
                   help="report progress on stderr (default: when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress on stderr")


def progress_on(args) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


def _max_states_arg(p) -> None:
    p.add_argument("--max-states", type=int, default=checks.DEFAULT_MAX_STATES, metavar="N",
                   help=f"stop a search past N states, under 1 GB each million (default "
                        f"{checks.DEFAULT_MAX_STATES:,}; 0: no limit)")


def max_states(args) -> int | None:
    if args.max_states < 0:
        raise UsageError(f"--max-states must be 0 (no limit) or positive, not {args.max_states}")
    return args.max_states or None


def stopped_note(command: str, result) -> str:
    return (f"turnproof {command}: stopped after {result.states:,} states (--max-states): the violations "
            "shown are real, the other verdicts unknown; lower --calls or the faults, or raise --max-states")


# ---- check -------------------------------------------------------------------------------------
def add_check_arguments(p) -> None:
    p.add_argument("--design", required=True, action="append", metavar="NAME|FILE",
                   help="a named design (see `turnproof designs`) or a design file (TOML, see "
                        "examples/designs); repeat it to check several, each reported in turn")
    p.add_argument("--wire", choices=WIRES, help="check the design on another wire API")
    p.add_argument("--provider", metavar="NAME",
                   help=f"judge wire-valid by this provider's rules ({', '.join(PROVIDER_NAMES)}; default: "
                        "the wire's own, OpenAI on chat and responses); a provider that does not serve the "
                        "design's wire moves it to one it serves (docs/providers.md)")
    _params_args(p)
    p.add_argument("--format", choices=("text", "markdown", "json"), default=None,
                   help="text (default), markdown (a PR comment with Mermaid diagrams) or json")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--itf", metavar="FILE",
                   help="write the counterexample as an ITF trace (Apalache/Quint); a {property} in "
                        "FILE writes one file per violated property, else the first one is written; "
                        "{design} is the design's name; - writes it to stdout instead of the report")
    p.add_argument("--dot", metavar="FILE",
                   help="write the state graph around the counterexample as Graphviz DOT (and SVG "
                        "beside it when `dot` is installed); {property}, {design} and - as for --itf")
    _max_states_arg(p)
    add_progress_arguments(p)


def _output_format(args) -> str:
    fmt = getattr(args, "format", None)
    if getattr(args, "json", False):
        if fmt not in (None, "json"):
            raise UsageError(f"--json conflicts with --format {fmt}")
        return "json"
    return fmt or "text"


def _export_paths(pattern: str, violated: list[str], design: str) -> list[tuple[str, str]]:
    """[(property, path)]: every violated property if the pattern has {property}, else the first."""
    pattern = pattern.replace("{design}", design)
    if "{property}" in pattern and pattern != "-":
        return [(pid, pattern.replace("{property}", pid)) for pid in violated]
    return [(violated[0], pattern)] if violated else []


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    from turnproof.fileio import UnsafePath, write_bytes

    try:
        write_bytes(path, text.encode("utf-8"))  # atomic; a device or directory is refused
    except UnsafePath as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{path}: cannot write: {e.strerror or e}") from None


def write_exports(model, result, itf: str | None, dot: str | None) -> None:
    """--itf and --dot: files for the violated properties (notes on stderr; stdout stays one document)."""
    from turnproof import dot as dotmod, itf as itfmod

    violated = [pid for pid in PROPERTIES if pid in result.violations]
    for flag, pattern in (("--itf", itf), ("--dot", dot)):
        if pattern is None:
            continue
        if not violated:
            print(f"turnproof check: {flag}: {model.d.name}: no property violated, no counterexample to write",
                  file=sys.stderr)
        for pid, path in _export_paths(pattern, violated, model.d.name):
            v = result.violations[pid]
            where = "stdout" if path == "-" else path
            if flag == "--itf":
                _write(path, itfmod.dumps(itfmod.violation_itf(model, v)))
                print(f"turnproof check: {pid} counterexample written to {where} (ITF)", file=sys.stderr)
            else:
                _write(path, dotmod.violation_dot(model, v))
                svg = dotmod.render_svg(path) if path != "-" else None
                print(f"turnproof check: {pid} state graph written to {where}"
                      + (f" and {svg}" if svg else "" if path == "-" else " (install Graphviz for SVG: dot -Tsvg)"),
                      file=sys.stderr)


def _check_exports(args) -> None:
    itf, dot = getattr(args, "itf", None), getattr(args, "dot", None)
    if itf == "-" and dot == "-":
        raise UsageError("--itf - and --dot - both want stdout; write one of them to a file")
    for flag, pattern in (("--itf", itf), ("--dot", dot)):
        if pattern and pattern != "-" and len(args.design) > 1 and "{design}" not in pattern:
            raise UsageError(f"{flag} {pattern}: with several --design, put {{design}} in the file name")
        if pattern == "-" and len(args.design) > 1:
            raise UsageError(f"{flag} -: stdout holds one trace; check one design, or write files with {{design}}")


def run_check(args) -> int:
    fmt = _output_format(args)
    _check_exports(args)
    params = make_params(args)
    limit = max_states(args)
    provider = getattr(args, "provider", None)
    if provider is not None:
        check_provider(provider)  # one line naming the allowed ones, before any design is read
    designs = [(arg, *resolve_design_and_base(arg, args.wire, provider)) for arg in args.design]  # bad input first
    to_stdout = "-" in (getattr(args, "itf", None), getattr(args, "dot", None))
    show = progress_on(args)
    faults = checks.fault_names(params)
    code, docs = EXIT_OK, []
    for k, (arg, design, base) in enumerate(designs):
        progress = None
        if show:
            progress = _explorer_progress(design.name)
        model, result = checks.check_design(design, params, progress=progress, max_states=limit)
        if result.truncated:
            print(stopped_note("check", result), file=sys.stderr)
        code = max(code, checks.exit_code(result), key=_severity)
        write_exports(model, result, getattr(args, "itf", None), getattr(args, "dot", None))
        if to_stdout:
            continue
        if fmt == "json":
            docs.append(result_dict(model, result, faults))
            continue
        if k:
            print()
        if fmt == "markdown":
            replay = (shlex.quote(arg) + (f" --wire {args.wire}" if args.wire else "")
                      + (f" --provider {provider}" if provider else ""))
            print(markdown_report(model, result, faults, replay, base=base), end="")
        else:
            _print_check_text(model, result, params, faults)
    if fmt == "json" and not to_stdout:
        if len(docs) == 1:
            print(json.dumps(docs[0], indent=2, default=str))
        else:
            print(json.dumps(document("checks", {"holds": all(d["holds"] for d in docs), "checks": docs}),
                             indent=2, default=str))
    return code


def _severity(code: int) -> int:
    """Several designs: a violation outranks an unknown, which outranks holds."""
    return {EXIT_OK: 0, EXIT_UNKNOWN: 1, EXIT_VIOLATED: 2}.get(code, 3)


def _explorer_progress(name: str):
    def show(explored: int, queued: int, depth: int, rate: float) -> None:
        print(f"turnproof check: {name}: {explored:,} states explored, {queued:,} queued, depth {depth}, "
              f"{rate:,.0f} states/s", file=sys.stderr, flush=True)
    return show


def _print_check_text(model, result, params, faults) -> None:
    design = model.d
    print(f"turnproof check: design {design.name} ({wire_label(design)}), calls {params.calls}, "
          f"rounds {params.rounds}, turns {params.turns}, faults {','.join(faults) or 'none'} "
          f"(at most {params.max_faults} per session)")
    if design.hooks:
        from turnproof.hooks import describe

        print(f"hooks: {describe(design.hooks)}")
    secs = result.seconds + result.graph_seconds
    print(f"explored {result.states:,} states, {result.edges:,} steps, depth {result.depth}, "
          f"in {secs:.2f} s ({result.states_per_second:,.0f} states/s)"
          + (" (stopped at --max-states)" if result.truncated else ""))
    print()
    for pid, p in PROPERTIES.items():
        v = result.violations.get(pid)
        if v is not None:
            verdict = f"VIOLATED (path length {len(v.path) - 1})"
        else:
            verdict = "unknown (the search stopped)" if result.truncated else "holds"
        print(f"  {pid:<19} {p.kind:<10} {verdict}")
    for sid in SOMETIMES:
        d = result.sometimes.get(sid)
        print(f"  {sid:<19} sometimes  " + (f"reached at depth {d}" if d is not None else "NEVER REACHED"))
    never = [a for a in model_actions() if a not in result.coverage]
    if never:
        print(f"  actions never taken: {', '.join(never)}")
    for pid in PROPERTIES:
        if pid in result.violations:
            print()
            print(violation_text(model, result.violations[pid]))


def model_actions() -> list[str]:
    from turnproof.model.turnloop import ACTIONS
    return list(ACTIONS)


# ---- matrix ------------------------------------------------------------------------------------
MAX_JOBS = 64  # each worker holds a state graph: more than this is a typo, not a machine


def add_matrix_arguments(p) -> None:
    _params_args(p)
    p.add_argument("--format", choices=("text", "markdown", "json"), default=None,
                   help="text (default), markdown or json")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--design", action="append", default=[], metavar="NAME|FILE",
                   help="add a row for this design (a name or a design file); repeatable")
    p.add_argument("--provider", metavar="NAME|all",
                   help=f"judge every design by this provider ({', '.join(PROVIDER_NAMES)}), turnproof-proposed "
                        "on every wire it serves; `all`: those rows for every provider in turn (about 70 rows, "
                        "minutes); default: each wire's own provider")
    p.add_argument("--field", action="store_true",
                   help="the second table: history that shrinks (Codex compaction, rollback, truncation, and "
                        "other agents' removal policies, each explored with the removal faults only)")
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, MAX_JOBS), metavar="J",
                   help=f"parallel processes, 1 to {MAX_JOBS} (default: the number of CPUs)")
    _max_states_arg(p)
    add_progress_arguments(p)


def run_matrix(args) -> int:
    fmt = _output_format(args)
    params = make_params(args)
    if not 1 <= args.jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be between 1 and {MAX_JOBS}, not {args.jobs}")
    provider = args.provider
    if provider is not None and provider != "all" and provider not in PROVIDER_NAMES:
        raise UsageError(f"unknown provider {provider!r}; allowed: {', '.join(PROVIDER_NAMES)}, or all")
    on_cell = None
    if progress_on(args):
        def on_cell(cell: dict, done: int, total: int) -> None:
            print(f"turnproof matrix: [{done}/{total}] {cell['design']} ({cell['provider']}): {cell['states']:,} states, "
                  f"{cell['seconds']:.1f} s", file=sys.stderr, flush=True)
    cells, wall = checks.run_matrix(params, tuple(args.design), jobs=args.jobs, max_states=max_states(args),
                                    on_cell=on_cell, provider=provider, field=args.field)
    for c in cells:
        if c["truncated"]:
            print(f"turnproof matrix: {c['design']}: stopped after {c['states']:,} states (--max-states): "
                  "its verdicts other than violations are unknown", file=sys.stderr)
    verdicts = [v for c in cells for v in c["properties"].values()]
    if any(v["verdict"] == "violated" for v in verdicts):
        code = EXIT_VIOLATED
    else:
        code = EXIT_UNKNOWN if any(v["verdict"] == "unknown" for v in verdicts) else EXIT_OK
    faults = checks.fault_names(params)
    if fmt == "json":
        print(json.dumps(document("matrix", {
            "calls": params.calls, "rounds": params.rounds, "turns": params.turns, "faults": faults,
            "max_faults": params.max_faults,
            "retries": params.retries, "text": params.text, "reduce": params.reduce, "provider": provider,
            "holds": code == EXIT_OK, "seconds": round(wall, 2), "rows": cells, "field": args.field}), indent=2))
        return code
    props = list(PROPERTIES)
    # the provider column only when asked for: the default table keeps its shape
    head = ["design", "wire"] + (["provider"] if provider else []) + props + ["states"]
    body = [[c["design"], c["wire"]] + ([c["provider"]] if provider else []) + [_cell(c["properties"][p]) for p in props]
            + [f"{c['states']:,}"] for c in cells]
    title = (f"turnproof matrix{' --field' if args.field else ''}: calls {params.calls}, rounds {params.rounds}, "
             f"faults {','.join(faults) or 'none'} (at most {params.max_faults} per session"
             + ("; agents other than Codex and turnproof: the removal faults only" if args.field else "") + "), "
             + (f"provider {provider}, " if provider else "") + f"{wall:.1f} s")
    if fmt == "markdown":
        print(f"**{title}**\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in body:
            print("| " + " | ".join(r) + " |")
        print("\nFAIL(n): violated, shortest counterexample of n steps (`turnproof check --design NAME`).")
        errors = [(c["design"] + (f" ({c['provider']})" if provider else ""), p, e)
                  for c in cells for p, e in c["errors"].items()]
        if errors:
            print("\n<details><summary>what the provider answers</summary>\n")
            for design, prop, err in errors:
                print(f"- `{design}`, `{prop}`: `{err}`" if "`" not in err else f"- `{design}`, `{prop}`: ``` {err} ```")
            print("\n</details>")
        print(f"\n<sub>turnproof {__version__}</sub>")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        print(title)
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
        for r in body:
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
        print("FAIL(n): violated, shortest counterexample of n steps (`turnproof check --design NAME`).")
    return code


def _cell(v: dict) -> str:
    return {"holds": "ok", "unknown": "?"}.get(v["verdict"]) or f"FAIL({v['path_length']})"
