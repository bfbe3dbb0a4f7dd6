"""The `turnproof` command.

Exit codes (the public contract):
  0  every property holds (lint: clean; prove: proved)
  1  a property is violated (lint: findings; prove: refuted; reproduce: the session failed)
  2  usage or input error (a one-line message on stderr, never a traceback)
  3  prove only: the solver answered unknown or timed out
Subcommands live in their own modules and are imported only when run.
"""

from __future__ import annotations

import argparse
import importlib
import sys

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3

# name -> (module, one-line help); the module has add_NAME_arguments(parser) and run_NAME(args) -> int
COMMANDS = {
    "designs": ("turnproof.cmd_check", "list the named designs and their knobs"),
    "check": ("turnproof.cmd_check", "explore one design's state graph and judge every property"),
    "matrix": ("turnproof.cmd_check", "check every named design and show the verdict table"),
    "prove": ("turnproof.cmd_prove", "z3: BMC and inductive proofs for any number of calls"),
    "reproduce": ("turnproof.cmd_reproduce", "replay a reported incident on the reference loop"),
    "lint": ("turnproof.cmd_lint", "find unpaired calls and results in session files and request bodies"),
    "repair": ("turnproof.cmd_lint", "repair a session file with turnproof-proposed's normalization"),
    "spec": ("turnproof.cmd_spec", "write docs/SPEC.md from the model"),
}


class UsageError(Exception):
    """Bad arguments or input: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep its message to one line
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="turnproof", description="Does every tool call get its result before the next request?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (modname, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            p.set_defaults(_missing=name)
            continue
        getattr(mod, f"add_{name}_arguments")(p)
        p.set_defaults(_run=getattr(mod, f"run_{name}"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "_missing", None):
        print(f"turnproof {args.command}: not available in this build", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args._run(args)
    except (UsageError, ValueError) as e:
        print(f"turnproof {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"turnproof {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
