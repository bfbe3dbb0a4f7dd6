"""Conventions of the command line and the API: progress on a terminal, the base a report compares
with, a search cut short is never "holds"."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from turnproof.api import turnproof_check
from turnproof.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _stderr_on_a_terminal(argv: list[str]) -> tuple[int, str, str]:
    """Run turnproof with stderr on a pseudo-terminal (stdout a pipe): (exit code, stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "turnproof", *argv], stdout=subprocess.PIPE, stderr=slave,
                         env=ENV, cwd=ROOT)
    os.close(slave)
    out = p.stdout.read().decode()
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    return p.wait(timeout=300), out, err.decode(errors="replace")


def test_progress_is_on_by_default_when_stderr_is_a_terminal():
    code, out, err = _stderr_on_a_terminal(["matrix", "--calls", "1", "--faults", "none", "--jobs", "1"])
    assert code == 1 and "turnproof matrix: [10/10]" in err and "[10/10]" not in out
    code, out, err = _stderr_on_a_terminal(["matrix", "--calls", "1", "--faults", "none", "--jobs", "1",
                                            "--no-progress"])
    assert code == 1 and "turnproof matrix: [" not in err


def test_progress_is_off_when_stderr_is_a_pipe():
    p = subprocess.run([sys.executable, "-m", "turnproof", "matrix", "--calls", "1", "--faults", "none", "--jobs", "1"],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert p.returncode == 1 and p.stderr == ""


def test_the_markdown_report_compares_a_design_file_with_its_own_base(tmp_path, capsys):
    f = tmp_path / "fix.toml"
    f.write_text('base = "seed-fix-1"\nname = "fix"\n[knobs]\nchat_grouping = "consecutive"\n')
    main(["check", "--design", str(f), "--calls", "1", "--faults", "none", "--format", "markdown"])
    out = capsys.readouterr().out
    assert "Knobs changed from `seed-fix-1`: `chat_grouping=consecutive`." in out
    main(["check", "--design", "seed-fix-1", "--calls", "1", "--faults", "none", "--format", "markdown"])
    assert "Knobs changed from `codex-0.77-chat`: `drain_before_completed=true`." in capsys.readouterr().out


def test_the_api_never_calls_a_cut_short_search_holds():
    c = turnproof_check("turnproof-proposed", max_states=300)
    assert c.truncated and not c.holds and set(c.verdicts.values()) == {None}
    c = turnproof_check("turnproof-proposed", calls=1)
    assert not c.truncated and c.holds and set(c.verdicts.values()) == {True}
