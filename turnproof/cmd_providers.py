"""`turnproof providers`: the provider rule tables (model/provider.py) as docs/providers.md."""

from __future__ import annotations

import sys

from turnproof.cmd_spec import write_generated
from turnproof.exitcodes import EXIT_OK
from turnproof.exitcodes import EXIT_VIOLATED as EXIT_STALE
from turnproof.providers_doc import generate

DEFAULT_PATH = "docs/providers.md"


def add_providers_arguments(p) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help=f"write the tables to FILE (e.g. {DEFAULT_PATH}); "
                   "without it, print them")
    p.add_argument("--check", action="store_true",
                   help=f"compare FILE (default {DEFAULT_PATH}) with a fresh generation: exit 1 if it is out of date")


def run_providers(args) -> int:
    text = generate()
    if args.check:
        path = args.output or DEFAULT_PATH
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except OSError as e:
            raise ValueError(f"{path}: cannot read: {e.strerror}") from None
        if old == text:
            print(f"{path} is up to date", file=sys.stderr)
            return EXIT_OK
        print(f"{path}: out of date with model/provider.py; run `turnproof providers -o {path}`", file=sys.stderr)
        return EXIT_STALE
    return write_generated(text, args.output)
