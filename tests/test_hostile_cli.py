"""Hostile input to the command line (issue 14, points 7, 9 and 10): FIFOs and devices never hang
or fill memory, out-of-range flags are usage errors naming the flag, and no traceback anywhere."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.test_lint_helpers import rollout_text, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_line_error(p: subprocess.CompletedProcess, code: int = 2) -> str:
    assert p.returncode == code, (p.returncode, p.stdout[-500:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    return p.stderr


# ---- point 7: FIFOs and devices ----------------------------------------------------------------
def test_fifo_does_not_hang_lint(tmp_path, cli_process):
    for name in ("s.jsonl", "b.json"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        assert "empty file" in one_line_error(cli_process("lint", fifo, timeout=20))  # no writer: nothing to read


def test_fifo_in_a_directory_run_is_skipped(tmp_path, cli_process):
    os.mkfifo(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text(rollout_text("U C1 O1"))
    p = cli_process("lint", tmp_path, timeout=20)
    assert p.returncode == 0 and "b.jsonl: codex-rollout: clean" in p.stdout and "a.jsonl" not in p.stdout + p.stderr


def test_a_pipe_with_a_writer_is_read_once(tmp_path, cli_process):
    """/dev/stdin as a pipe: read into a private copy (a rollout is read twice otherwise)."""
    p = cli_process("lint", "/dev/stdin", input=rollout_text("U C1 C2 O1"), timeout=20)
    assert p.returncode == 1 and "/dev/stdin:4: call_2" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_by_lint(dev, cli_process):
    assert "not a regular file (a character device)" in one_line_error(cli_process("lint", dev, timeout=20))


@pytest.mark.parametrize("command", [("check", "--calls", "1"), ("prove",), ("matrix", "--calls", "1", "--jobs", "1")])
def test_fifo_and_device_design_files_do_not_hang(tmp_path, command, cli_process):
    fifo = tmp_path / "fix.toml"
    os.mkfifo(fifo)
    cmd, *rest = command
    p = cli_process(cmd, "--design", fifo, *rest, timeout=30)
    assert "missing 'base'" in one_line_error(p)
    p = cli_process(cmd, "--design", "/dev/zero", *rest, timeout=30)
    assert "/dev/zero: not a regular file" in one_line_error(p)


def test_design_files_have_a_size_limit(tmp_path, capsys):
    from turnproof.designfile import MAX_BYTES

    big = tmp_path / "big.toml"
    big.write_text('base = "codex-0.77-chat"\n' + "# padding\n" * (MAX_BYTES // 10 + 1))
    code, out, err = run(capsys, "check", "--design", big, "--calls", "1")
    assert code == 2 and f"larger than {MAX_BYTES} bytes" in err


# ---- point 10: tracebacks and codes that lie ---------------------------------------------------------
@pytest.mark.parametrize("text", ["base = " + "[" * 100_000,
                                  'base = "codex-0.77-chat"\nx = ' + "[" * 100_000 + "]" * 100_000,
                                  'base = "codex-0.77-chat"\n[knobs]\nx = ' + "{a=" * 50_000 + "1" + "}" * 50_000],
                         ids=["arrays-unclosed", "arrays", "inline-tables"])
def test_deeply_nested_design_file(tmp_path, text, cli_process):
    p = tmp_path / "deep.toml"
    p.write_text(text)
    assert "nested too deeply" in one_line_error(cli_process("check", "--design", p, "--calls", "1"))


def _char_device(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a device node")
    dev = tmp_path / "full"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # a private /dev/full
    return dev


def test_spec_output_that_cannot_be_written(tmp_path, cli_process):
    (tmp_path / "adir").mkdir()
    assert "-o: " in one_line_error(cli_process("spec", "-o", tmp_path / "adir"))
    assert stat.S_ISDIR(os.stat(tmp_path / "adir").st_mode)
    dev = _char_device(tmp_path)
    assert "not a regular file (a character device)" in one_line_error(cli_process("spec", "-o", dev))
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    (tmp_path / "file").write_text("x")
    assert "cannot write" in one_line_error(cli_process("spec", "-o", tmp_path / "file" / "spec.md"))


def test_spec_output_on_a_read_only_file_system(tmp_path, cli_process):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(ro)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only file system here")
    try:
        assert "Read-only file system" in one_line_error(cli_process("spec", "-o", ro / "SPEC.md"))
    finally:
        subprocess.run(["umount", str(ro)])


def test_check_exports_refuse_devices(tmp_path, cli_process):
    dev = _char_device(tmp_path)
    p = cli_process("check", "--design", "codex-0.77-chat", "--calls", "2", "--faults", "none", "--no-text", "--itf", dev)
    assert "not a regular file" in p.stderr and "Traceback" not in p.stderr and p.returncode == 2
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e-12"])
def test_max_line_mb_out_of_range(tmp_path, capsys, value):
    p = tmp_path / "r.jsonl"
    p.write_text(rollout_text("U C1 O1"))
    for cmd in (["lint", p], ["repair", p, "-o", tmp_path / "o.jsonl"]):
        code, out, err = run(capsys, *cmd, "--max-line-mb", value)
        assert code == 2 and "--max-line-mb" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "0.0001", "0", "-3", "1e9"])
def test_prove_timeout_out_of_range(capsys, value):
    code, out, err = run(capsys, "prove", "--design", "turnproof-proposed", "--timeout", value)
    assert code == 2 and "--timeout" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("command", ["designs", "spec", "lint", "check"])
def test_stdout_to_a_full_device(tmp_path, command):
    args = {"lint": ["lint", tmp_path / "r.jsonl"],
            "check": ["check", "--design", "codex-0.77-chat", "--calls", "1", "--faults", "none"]}.get(command, [command])
    (tmp_path / "r.jsonl").write_text(rollout_text("U C1 C2 O1"))
    with open("/dev/full", "w") as full:
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.run([sys.executable, "-m", "turnproof", *map(str, args)], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=120, env=env)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip() == f"turnproof {command}: error: cannot write to standard output: No space left on device"


# ---- point 9: bounds that are bounded ------------------------------------------------------------------
@pytest.mark.parametrize("jobs", ["0", "-2", "1000", "65"])
@pytest.mark.parametrize("command", ["matrix", "verify"])
def test_jobs_out_of_range(capsys, jobs, command):
    code, out, err = run(capsys, command, "--calls", "1", "--jobs", jobs) if command == "matrix" else \
        run(capsys, command, "--jobs", jobs)
    assert code == 2 and "--jobs must be between 1 and 64" in err and out == ""


def test_check_state_count_is_capped(capsys):
    """The explorer stops at --max-states (default finite) instead of growing to gigabytes."""
    from turnproof.checks import DEFAULT_MAX_STATES

    assert 0 < DEFAULT_MAX_STATES <= 5_000_000
    code, out, err = run(capsys, "check", "--design", "codex-0.122-responses", "--calls", "8", "--turns", "4",
                         "--max-faults", "5", "--retries", "5", "--no-reduce", "--max-states", "20000")
    assert "stopped after" in out + err and "--max-states" in out + err and "Traceback" not in err
