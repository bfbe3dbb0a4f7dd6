"""Exit codes that pipes and CI can trust, and `-` for stdin and stdout.

Run as real processes and pipelines where the behaviour is the operating system's (a reader that
goes away, a pipe that can be read once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from turnproof.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "lint")
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
TP = [sys.executable, "-m", "turnproof"]


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.mark.parametrize("argv,code", [
    (["check", "--design", "codex-0.77-chat", "--calls", "2"], 1),
    (["check", "--design", "codex-0.77-chat", "--calls", "2", "--format", "json"], 1),
    (["check", "--design", "turnproof-proposed", "--calls", "1"], 0),
    (["lint", os.path.join(DATA, "chat-8479.json")], 1),
])
def test_a_reader_that_has_gone_does_not_change_the_exit_code(argv, code):
    """The reader closes the pipe before the first byte is written: every write gets EPIPE."""
    p = subprocess.Popen(TP + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == code
    _clean(err)


def test_head_1_in_a_pipefail_pipeline_exits_1_for_a_violation():
    cmd = f"{sys.executable} -m turnproof check --design codex-0.77-chat | head -1"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, env=ENV, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 1 and r.stdout.startswith("turnproof check: design codex-0.77-chat")
    _clean(r.stderr)


def test_an_internal_error_has_its_own_exit_code_and_points_to_debug(monkeypatch, capsys):
    import turnproof.checks

    def broken(*a, **k):
        raise KeyError("a bug")
    monkeypatch.setattr(turnproof.checks, "check_design", broken)
    assert main(["check", "--design", "codex-0.77-chat"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "turnproof check: internal error: KeyError" in err and "--debug" in err
    assert main(["check", "--design", "codex-0.77-chat", "--debug"]) == 4
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'a bug'" in err and err.rstrip().endswith("'a bug'")
    assert main(["--debug", "check", "--design", "codex-0.77-chat"]) == 4
    assert "Traceback" in capsys.readouterr().err


def test_version(capsys):
    from turnproof import __version__

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"turnproof {__version__}\n"


def test_lint_dash_reads_stdin_once():
    with open(os.path.join(DATA, "chat-8479.json"), "rb") as f:
        body = f.read()
    r = subprocess.run(TP + ["lint", "-"], input=body, capture_output=True, env=ENV, timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 1 and "<stdin>: openai-chat: 1 problem call (2 findings)" in out, r.stderr
    # /dev/stdin is a pipe here: read once, into a copy (reading it twice gave "empty file")
    r = subprocess.run(TP + ["lint", "/dev/stdin", "--json"], input=body, capture_output=True, env=ENV, timeout=120)
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["files"][0]["path"] == "/dev/stdin" and len(doc["files"][0]["findings"]) == 2


def test_lint_dash_reads_a_rollout_from_stdin():
    with open(os.path.join(DATA, "rollout-crash-partial.jsonl"), "rb") as f:
        roll = f.read()
    r = subprocess.run(TP + ["lint", "-"], input=roll, capture_output=True, env=ENV, timeout=120)
    direct = subprocess.run(TP + ["lint", os.path.join(DATA, "rollout-crash-partial.jsonl")], capture_output=True,
                            env=ENV, timeout=120)
    assert r.returncode == direct.returncode == 1
    assert r.stdout.decode().replace("<stdin>", "F") == direct.stdout.decode().replace(
        os.path.join(DATA, "rollout-crash-partial.jsonl"), "F")


def test_lint_dash_twice_is_a_usage_error(capsys):
    assert main(["lint", "-", "-"]) == 2
    assert "more than once" in capsys.readouterr().err


def test_repair_dash_to_dash_equals_repair_file_to_file(tmp_path):
    src = os.path.join(DATA, "rollout-crash-partial.jsonl")
    out = tmp_path / "o.jsonl"
    assert subprocess.run(TP + ["repair", src, "-o", str(out)], env=ENV, capture_output=True).returncode == 0
    with open(src, "rb") as f:
        r = subprocess.run(TP + ["repair", "-", "-o", "-"], input=f.read(), capture_output=True, env=ENV, timeout=120)
    assert r.returncode == 0 and r.stdout == out.read_bytes()
    assert b"<stdin>: added synthetic result for call_B2" in r.stderr and b"<stdout>: written (1 edits)" in r.stderr


def test_repair_responses_to_stdout_is_the_json_document():
    r = subprocess.run(TP + ["repair", os.path.join(DATA, "responses-8479-input.json"), "-o", "-"],
                       capture_output=True, env=ENV, timeout=120)
    assert r.returncode == 0 and isinstance(json.loads(r.stdout), list)


@pytest.mark.parametrize("argv,needle", [
    (["repair", "-", "--in-place"], "--in-place needs a regular file"),
    (["repair", "-", "-o", "-", "--json"], "both want stdout"),
])
def test_repair_dash_misuse(argv, needle):
    r = subprocess.run(TP + argv, input=b"", capture_output=True, env=ENV, timeout=120)
    assert r.returncode == 2 and needle in r.stderr.decode()


def test_itf_dash_writes_the_trace_to_stdout(capsys):
    assert main(["check", "--design", "codex-0.77-chat", "--calls", "2", "--itf", "-"]) == 1
    out, err = capsys.readouterr()
    trace = json.loads(out)
    assert trace["#meta"]["format"] == "ITF" and trace["#meta"]["property"] == "wire-valid"
    assert "written to stdout" in err


def test_a_design_file_from_stdin():
    text = b'base = "codex-0.77-chat"\nname = "grouped"\n[knobs]\nchat_grouping = "consecutive"\n'
    r = subprocess.run(TP + ["check", "--design", "-", "--calls", "2", "--faults", "none", "--no-text"],
                       input=text, capture_output=True, env=ENV, timeout=120)
    assert r.returncode == 0 and b"design grouped (wire chat)" in r.stdout, r.stderr


def test_empty_faults_is_an_error(capsys):
    assert main(["check", "--design", "turnproof-proposed", "--faults", ""]) == 2
    assert "--faults '' names no fault" in capsys.readouterr().err
    assert main(["check", "--design", "turnproof-proposed", "--faults", " , "]) == 2


def test_check_reports_every_design_given(capsys, tmp_path):
    code = main(["check", "--design", "turnproof-proposed", "--design", "codex-0.77-chat", "--calls", "1",
                 "--faults", "none", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["kind"] == "checks" and doc["holds"] is False
    assert [c["design"] for c in doc["checks"]] == ["turnproof-proposed", "codex-0.77-chat"]
    assert [c["holds"] for c in doc["checks"]] == [True, False]
    code = main(["check", "--design", "turnproof-proposed", "--design", "codex-0.77-chat", "--calls", "1",
                 "--faults", "none"])
    out = capsys.readouterr().out
    assert code == 1 and out.count("turnproof check: design ") == 2
    # several designs need {design} in an export path
    assert main(["check", "--design", "seed-fix-1", "--design", "seed-fix-2", "--itf", str(tmp_path / "x.itf.json")]) == 2
    assert "{design}" in capsys.readouterr().err


def test_max_states_stops_cleanly_with_exit_3(capsys):
    code = main(["check", "--design", "turnproof-proposed", "--max-states", "500", "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 3 and doc["stats"]["truncated"] is True and doc["holds"] is False
    assert {p["verdict"] for p in doc["properties"].values()} == {"unknown"}
    assert "stopped after" in err and "--max-states" in err
    # a violation found before the stop is real: exit 1
    code = main(["check", "--design", "codex-0.77-chat", "--max-states", "2000"])
    out, err = capsys.readouterr()
    assert code == 1 and "VIOLATED (path length" in out and "unknown (the search stopped)" in out
    assert main(["check", "--design", "turnproof-proposed", "--max-states", "-1"]) == 2


def test_progress_is_off_when_stderr_is_not_a_terminal_and_on_when_asked(capsys):
    main(["matrix", "--calls", "1", "--faults", "none", "--jobs", "1"])
    assert "turnproof matrix: [" not in capsys.readouterr().err
    main(["matrix", "--calls", "1", "--faults", "none", "--jobs", "1", "--progress"])
    assert "turnproof matrix: [10/10]" in capsys.readouterr().err


def test_lint_design_accepts_a_design_file(tmp_path, capsys):
    f = tmp_path / "same.toml"
    f.write_text('base = "codex-0.77-chat"\nname = "like-077"\n')
    roll = os.path.join(DATA, "rollout-8479.jsonl")
    assert main(["lint", roll]) == 0
    capsys.readouterr()
    assert main(["lint", roll, "--design", str(f)]) == 1  # its builder rejects the history: counted
    assert "[codex builder like-077]" in capsys.readouterr().out
    assert main(["lint", roll, "--design", "nope"]) == 2
