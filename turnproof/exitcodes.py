"""Exit codes: the public contract of every `turnproof` subcommand, defined here once.

  0  every property holds (lint: clean; prove: proved; reproduce: the session works; verify: every
     result equals its expectation; repair: written, or nothing to repair, and it lints clean)
  1  a property is violated (lint: findings; prove: refuted; reproduce: the session failed; verify:
     a result differs from its expectation; repair: the file cannot be made one the provider accepts:
     either refused with nothing written, because a tool result would be lost (a call with two
     different results) or no order of the history is sent by the release that resumes it, or
     written but still rejected for a reason that is not pairing, which it names)
  2  usage or input error (a one-line message on stderr, never a traceback; repair: also a file it
     will not guess at, such as a key that appears twice in one object, and whatever lint cannot
     read; nothing is written)
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
