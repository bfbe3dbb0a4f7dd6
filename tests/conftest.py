"""Shared fixtures: the command line, run in this process or as a real one, and the real codex-cli.

Helper modules (conformance_util, model_helpers, realcodex_util) are plain modules beside the tests;
no test module imports another test module.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest
from hypothesis import settings

from realcodex_util import codex  # noqa: F401  (the fixture, for every test that asks for it)
from turnproof.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci) draws the same examples on every run, so a landing is judged
# on the code, never on the luck of the draw; a day's work and TURNPROOF_FUZZ draw new ones.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


def run_cli(*argv) -> tuple[int, str, str]:
    """`turnproof ARGV` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def run_process(*argv, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """`python -m turnproof ARGV` as a real process: a hang is a test failure (TimeoutExpired)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "turnproof", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


@pytest.fixture(scope="session")
def cli():
    """The command line in this process: ``code, out, err = cli("lint", path)``."""
    return run_cli


@pytest.fixture(scope="session")
def cli_process():
    """The command line as a real process: ``p = cli_process("lint", path)`` (a CompletedProcess)."""
    return run_process


def pytest_collection_modifyitems(config, items):
    """Tests marked `long` (campaigns that would take the suite past its 15-minute CI budget) run only
    with TURNPROOF_LONG=1; otherwise each is reported as skipped, with the way to run it."""
    if os.environ.get("TURNPROOF_LONG"):
        return
    skip = pytest.mark.skip(reason="a long run: TURNPROOF_LONG=1 runs it")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)
