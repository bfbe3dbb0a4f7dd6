"""`turnproof fuzz`: check a history-repair function on its own (turnproof/fuzz.py).

    turnproof fuzz --design fix.toml                      # the file's repair hook, on the histories its loop makes
    turnproof fuzz --repair mymod:fix --design codex-0.122-responses --shape responses
    turnproof fuzz --design turnproof-proposed            # a design's own normalization

Exit: 0 every check holds, 1 a check fails (each kind of failure shown once, shortest first, as
the history before and after, the request as sent and the provider's exact text), 2 usage error
or a bad hook (one line), 3 the exploration stopped at --max-states and nothing failed.
"""

from __future__ import annotations

import json
import os

from turnproof import checks
from turnproof.cmd_check import _max_states_arg, _params_args, make_params, max_states
from turnproof.exitcodes import EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATED, UsageError
from turnproof.jsondoc import document
from turnproof.model import items as I
from turnproof.model.turnloop import FAULTS
from turnproof.model.wire import WIRES


def add_fuzz_arguments(p) -> None:
    p.add_argument("--design", metavar="NAME|FILE",
                   help="the design whose requests judge the output (its wire, grouping, provider, build_request "
                        "hook) and whose loop makes the histories; its repair hook (or normalization) is the "
                        "function checked unless --repair names one")
    p.add_argument("--repair", metavar="MODULE:FUNCTION",
                   help="the function to check (imported from the current folder or PYTHONPATH); "
                        "turnproof.model.normalize:normalize_codex / :normalize_ours name the model's own")
    p.add_argument("--base", metavar="NAME|FILE", help="take the histories from this design's loop instead")
    p.add_argument("--shape", choices=WIRES, help="with --repair: the shape the function sees (default: the wire)")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S", help="with --repair: seconds per call (default 2)")
    p.add_argument("--wire", choices=WIRES, help="judge on another wire (designs without hooks)")
    p.add_argument("--provider", metavar="NAME", help="judge by this provider's rules")
    _params_args(p)
    p.add_argument("--examples", type=int, default=checks_default_examples(), metavar="N",
                   help="mutated histories hypothesis tries per check (default %(default)s; 0: explorer histories only)")
    p.add_argument("--seed", type=int, metavar="N", help="a random seed for the mutations (default: derandomized, "
                                                         "the same examples every run)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _max_states_arg(p)


def checks_default_examples() -> int:
    from turnproof.fuzz import DEFAULT_EXAMPLES

    return DEFAULT_EXAMPLES


def _design(arg: str, wire: str | None, provider: str | None):
    from turnproof.resolve import resolve_design, with_provider

    d = resolve_design(arg, wire)
    return with_provider(d, provider, wire_given=wire is not None) if provider else d


def _repair_under_test(args, design):
    """(fuzz.Repair, a sentence naming it)."""
    from turnproof.fuzz import Repair
    from turnproof.hooks import MODEL_REPAIRS, Hook, check_timeout, load_callable
    from turnproof.model.normalize import normalize

    if args.repair:
        mode = MODEL_REPAIRS.get(args.repair)
        if mode is not None:
            return Repair(lambda h, m=mode: normalize(h, m), None, design.chat_grouping, args.repair), \
                f"{args.repair} (the model's own, on its items)"
        try:
            timeout = check_timeout(args.timeout)
        except ValueError as e:
            raise UsageError(f"--timeout: {e}") from None
        fn = load_callable(args.repair, os.getcwd(), "--repair")
        shape = args.shape or design.wire
        hook = Hook("repair", args.repair, fn, shape, design.wire, design.chat_grouping, timeout, "--repair")
        return Repair(hook.repair, shape, design.chat_grouping, args.repair), f"{args.repair} (shape {shape})"
    if args.shape:
        raise UsageError("--shape goes with --repair (a design file says its hooks' shape in [hooks])")
    if design.hooks and design.hooks.repair:
        names = dict(design.hooks.names)
        return Repair(design.hooks.repair, names["shape"], design.chat_grouping, names["repair"]), \
            f"{names['repair']} (shape {names['shape']}, from {design.name})"
    mode = design.normalization
    return Repair(lambda h: normalize(h, mode), None, design.chat_grouping, f"normalization {mode}"), \
        f"{design.name}'s normalization {mode!r} (model/normalize.py)"


def run_fuzz(args) -> int:
    from turnproof.fuzz import fuzz
    from turnproof.resolve import provider_label

    if not args.design and not args.repair:
        raise UsageError("give --design NAME|FILE (its repair hook or normalization) or --repair MODULE:FUNCTION")
    if args.examples < 0:
        raise UsageError(f"--examples must be 0 or more, not {args.examples}")
    params = make_params(args)
    design = _design(args.design or "codex-0.122-responses", args.wire, args.provider)
    repair, named = _repair_under_test(args, design)
    base = _design(args.base, args.wire, args.provider) if args.base else design
    res = fuzz(repair, design, base, params, examples=args.examples, seed=args.seed, max_states=max_states(args))
    code = EXIT_VIOLATED if not res.holds else (EXIT_UNKNOWN if res.truncated else EXIT_OK)
    faults = checks.fault_names(params)
    judge_label = provider_label(design)
    if args.json:
        _print_json(args, res, design, base, named, repair, faults, code)
        return code
    print(f"turnproof fuzz: repair {named}")
    grouping = f", chat grouping {design.chat_grouping}" if design.wire == "chat" else ""
    shown_faults = "all" if params.faults == frozenset(FAULTS) else ",".join(faults) or "none"
    print(f"  judged as {design.name} sends it (wire {design.wire}{grouping}, {judge_label}); histories from "
          f"{base.name}, calls {params.calls}, faults {shown_faults} (at most {params.max_faults} per session)")
    print(f"  {res.histories:,} histories from {res.states:,} states"
          + (" (stopped at --max-states)" if res.truncated else "")
          + f", {res.examples:,} mutated histories tried, {res.seconds:.1f} s")
    print()
    from turnproof.fuzz import CHECKS

    for check, statement in CHECKS.items():
        fs = res.failures[check]
        verdict = "ok" if not fs else f"FAIL ({len(fs)} kind{'s' if len(fs) > 1 else ''}, shortest " \
                                      f"{len(fs[0].before)} item{'s' if len(fs[0].before) != 1 else ''})"
        print(f"  {check:<13} {verdict:<32} {statement}")
    for check in CHECKS:
        for f in res.failures[check]:
            print()
            print(_failure_text(f, design, repair, judge_label))
    return code


def _failure_text(f, design, repair, judge_label: str) -> str:
    from turnproof.report import _msg_summary

    src = "from the explorer" if f.source == "explorer" else \
        f"a mutation of {f.mutations[0]}: {', '.join(f'{m[0]}({m[1]},{m[2]})' for m in f.mutations[1:])}"
    lines = [f"FAIL {f.check} ({f.kind}; {src})",
             f"  before: {I.show_all(f.before)}",
             f"  after:  {I.show_all(f.after)}"]
    if f.again is not None:
        lines.append(f"  again:  {I.show_all(f.again)}")
    if f.body is not None:
        lines.append("  the request, as sent:")
        lines += ["    " + _msg_summary(design.wire, i, m) for i, m in enumerate(f.body)]
    if f.rejection is not None:
        lines.append(f"  {judge_label} answers HTTP 400:")
        lines.append(f"    {f.rejection.text}")
    else:
        lines.append(f"  {f.detail}")
    lines.append(f"  before, as {repair.name} sees it:")
    lines += ["    " + json.dumps(x, ensure_ascii=False) for x in repair.show(f.before)]
    lines.append("  after, as it returns it:")
    lines += ["    " + json.dumps(x, ensure_ascii=False) for x in repair.show(f.after)]
    return "\n".join(lines)


def _print_json(args, res, design, base, named, repair, faults, code) -> None:
    from turnproof.fuzz import CHECKS

    print(json.dumps(document("fuzz", {
        "repair": named, "design": design.name, "wire": design.wire, "base": base.name,
        "calls": args.calls, "faults": faults, "examples_per_check": args.examples,
        "states": res.states, "histories": res.histories, "examples": res.examples,
        "truncated": res.truncated, "holds": res.holds, "seconds": round(res.seconds, 2),
        "checks": {c: {"statement": s, "holds": not res.failures[c],
                       "failures": [{"kind": f.kind, "source": f.source, "before": I.show_all(f.before),
                                     "after": I.show_all(f.after), "detail": f.detail,
                                     **({"rule": f.rejection.rule, "provider_error": f.rejection.text}
                                        if f.rejection else {}),
                                     "before_shape": repair.show(f.before), "after_shape": repair.show(f.after)}
                                    for f in res.failures[c]]}
                   for c, s in CHECKS.items()}}), indent=2))
