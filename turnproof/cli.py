"""The `turnproof` command.

Exit codes are the public contract; they are defined once, in turnproof/exitcodes.py:
0 holds, 1 violated, 2 usage or input error, 3 unknown (prove), 4 internal error, 130 interrupted.
Subcommands live in their own modules and are imported only when run. Output to a closed pipe
(`turnproof check ... | head -1`) is dropped, never turned into another exit code: the command
still exits with its verdict.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from turnproof import __version__
from turnproof.exitcodes import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, UsageError

# name -> (module, one-line help); the module has add_NAME_arguments(parser) and run_NAME(args) -> int
COMMANDS = {
    "verify": ("turnproof.cmd_verify", "the suite: every named design against its expected verdicts"),
    "designs": ("turnproof.cmd_check", "list the named designs and their knobs"),
    "check": ("turnproof.cmd_check", "explore designs' state graphs and judge every property"),
    "matrix": ("turnproof.cmd_check", "check every named design and show the verdict table"),
    "fuzz": ("turnproof.cmd_fuzz", "check a history-repair function on its own: loop histories and mutations"),
    "prove": ("turnproof.cmd_prove", "z3: BMC and inductive proofs for any number of calls"),
    "reproduce": ("turnproof.cmd_reproduce", "replay a reported incident on the reference loop"),
    "lint": ("turnproof.cmd_lint", "find unpaired calls and results in session files and request bodies"),
    "repair": ("turnproof.cmd_lint", "repair a session file with turnproof-proposed's normalization"),
    "spec": ("turnproof.cmd_spec", "write docs/SPEC.md from the model"),
    "providers": ("turnproof.cmd_providers", "write docs/providers.md: each provider's pairing rules, texts and sources"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        """Name the (sub)command, show its usage in one line, exit 2 (argparse's code for usage too)."""
        self.exit(EXIT_USAGE, f"{self.short_usage()}\n{self.prog}: error: {message}\n")

    def short_usage(self) -> str:
        """``usage: PROG REQUIRED... [options]``: argparse's own usage wraps over many lines."""
        parts = [self.prog]
        for a in self._actions:
            if a.option_strings and a.required:
                parts.append(f"{a.option_strings[-1]} {a.metavar or a.dest.upper()}")
            elif not a.option_strings and not isinstance(a, argparse._SubParsersAction):
                name = a.metavar or a.dest
                parts.append({"+": f"{name}...", "*": f"[{name}...]", "?": f"[{name}]"}.get(a.nargs, name))
        subs = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        return (f"usage: {' '.join(parts)} [options]" + (" COMMAND" if subs else "")
                + f" (`{self.prog} --help` for more)")


def _debug_option(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument("--debug", action="store_true", default=default,
                   help="on an internal error, print the Python traceback")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """With ``only``, only that subcommand's module is imported (lint must not pay for z3 and networkx);
    ``only=""`` imports none (the top-level --help and --version need only COMMANDS' help lines)."""
    parser = _Parser(prog="turnproof", description="Does every tool call get its result before the next request?")
    parser.add_argument("--version", action="version", version=f"turnproof {__version__}")
    _debug_option(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (modname, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        _debug_option(p, argparse.SUPPRESS)  # after the subcommand too; keeps a --debug given before it
        if only is not None and name != only:
            continue
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            p.set_defaults(_missing=name)
            continue
        getattr(mod, f"add_{name}_arguments")(p)
        p.set_defaults(_run=getattr(mod, f"run_{name}"), _parser=p)
    return parser


class StdoutError(Exception):
    """Standard output refused a write (a full disk, /dev/full): exit 2 with one line, not a traceback."""


class _PipeSafe:
    """sys.stdout, except that once the reader has gone (EPIPE) the rest of the output is dropped.

    The command then runs on and exits with its own verdict: `check ... | head -1` exits 1 for a
    violation under `set -o pipefail`, as it does unpiped.
    """

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def _gone(self) -> None:
        self.broken = True
        try:  # later writes and the interpreter's last flush go nowhere instead of failing again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def _failed(self, e: OSError) -> StdoutError:
        self._gone()
        return StdoutError(e.strerror or str(e))

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)
        except OSError as e:
            raise self._failed(e) from None

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()
        except OSError as e:
            raise self._failed(e) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    first = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    # no subcommand (--version, --help, a typo): import none of them (they would pay for z3 and networkx)
    parser = build_parser(first if first in COMMANDS else "")
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "_missing", None):
        print(f"turnproof {args.command}: not available in this build", file=sys.stderr)
        return EXIT_USAGE
    debug = args.debug or bool(os.environ.get("TURNPROOF_DEBUG"))
    real_stdout = sys.stdout
    sys.stdout = out = _PipeSafe(real_stdout)
    try:
        code = args._run(args)
        out.flush()
        return code
    except (UsageError, ValueError) as e:
        if debug:
            traceback.print_exc()
        print(f"turnproof {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except StdoutError as e:
        print(f"turnproof {args.command}: error: cannot write to standard output: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"turnproof {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: its own exit code, never one a verdict uses
        if debug:
            traceback.print_exc()
        what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        print(f"turnproof {args.command}: internal error: {' '.join(what.split())[:300]}"
              + ("" if debug else " (a bug in turnproof; run again with --debug for the traceback)"),
              file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        sys.stdout = real_stdout


if __name__ == "__main__":
    sys.exit(main())
