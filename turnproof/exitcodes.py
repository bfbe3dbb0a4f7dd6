"""Exit codes: the public contract of every `turnproof` subcommand, defined here once.

  0  every property holds (lint: clean; prove: proved; reproduce: the session works; verify: every
     result equals its expectation)
  1  a property is violated (lint: findings; prove: refuted; reproduce: the session failed; verify:
     a result differs from its expectation)
  2  usage or input error (a one-line message on stderr, never a traceback)
  3  prove only: the solver answered unknown or timed out
  4  internal error: a bug in turnproof (one line on stderr; `--debug` shows the traceback)
130  interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or input: printed as one line naming the subcommand, exit 2."""
