"""The `turnproof check` / `matrix` / `designs` front end: exit codes, output formats, bad input."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from turnproof.cli import main

GOLDEN = Path(__file__).parent / "golden" / "check_codex-0.77-chat_8479.txt"
ARGS_8479 = ["check", "--design", "codex-0.77-chat", "--calls", "3", "--faults", "none", "--no-text"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_8479_exit_1_and_exact_provider_text(capsys):
    code, out, err = run(capsys, *ARGS_8479)
    assert code == 1
    assert "VIOLATED wire-valid" in out
    assert ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            "'tool_call_id'. The following tool_call_ids did not have response messages: call_1") in out


def test_counterexample_format_is_pinned(capsys):
    """Set TURNPROOF_REGEN_GOLDEN=1 to rewrite the golden file after an intended format change."""
    code, out, err = run(capsys, *ARGS_8479)
    out = re.sub(r"^explored .*$", "explored <stats>", out, flags=re.M)
    if os.environ.get("TURNPROOF_REGEN_GOLDEN"):
        GOLDEN.write_text(out)
    assert out == GOLDEN.read_text()


def test_json_document(capsys):
    code, out, err = run(capsys, *ARGS_8479, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["holds"] is False
    wv = doc["properties"]["wire-valid"]
    assert wv["holds"] is False and wv["rule"] == "chat-missing-tool-response" and wv["call_ids"] == ["call_1"]
    assert [s["action"] for s in wv["steps"]][-1] == "SendRequest"
    assert doc["properties"]["calls-answered"]["holds"] is True


def test_holds_exit_0(capsys):
    code, out, err = run(capsys, "check", "--design", "turnproof-proposed", "--calls", "2")
    assert code == 0 and "VIOLATED" not in out


@pytest.mark.parametrize("argv,needle", [
    (["check", "--design", "codex-0.99-chat"], "unknown design 'codex-0.99-chat'"),
    (["check", "--design", "codex-0.77-chat", "--faults", "meteor"], "unknown fault 'meteor'"),
    (["check", "--design", "codex-0.77-chat", "--calls", "0"], "--calls must be between 1 and 8"),
    (["check", "--design", "codex-0.77-chat", "--calls", "three"], "invalid int value"),
    (["check"], "--design"),
    (["matrix", "--format", "html"], "invalid choice"),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, needle):
    with pytest.raises(SystemExit) as e:
        code = main(argv)
        raise SystemExit(code)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert needle in err and len(err.strip().splitlines()) <= 2 and "Traceback" not in err
    assert f"turnproof {argv[0]}: error" in err  # the subcommand is named


def test_argument_errors_show_the_subcommand_usage_line(capsys):
    code, err = _exit_code(["check", "--design", "codex-0.77-chat", "--calls", "three"], capsys)
    usage, message = err.strip().splitlines()
    assert code == 2 and usage.startswith("usage: turnproof check --design NAME|FILE [options]")
    assert message == "turnproof check: error: argument --calls: invalid int value: 'three'"
    code, err = _exit_code(["lint"], capsys)
    assert code == 2 and err.startswith("usage: turnproof lint PATH... [options]") and "turnproof lint: error" in err


def _exit_code(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_matrix_markdown_and_json(capsys):
    code, out, err = run(capsys, "matrix", "--calls", "1", "--faults", "none", "--format", "markdown", "--jobs", "1")
    assert code == 1 and out.count("\n| ") >= 10 and "| codex-0.77-chat | chat |" in out
    code, out, err = run(capsys, "matrix", "--calls", "1", "--faults", "none", "--format", "json", "--jobs", "1")
    rows = {r["design"]: r for r in json.loads(out)["rows"]}
    assert rows["turnproof-proposed@anthropic"]["properties"]["wire-valid"] == {"verdict": "holds", "holds": True}
    assert rows["codex-0.77-chat"]["properties"]["wire-valid"] == {"verdict": "violated", "holds": False, "path_length": 8}


def test_designs_lists_every_named_design(capsys):
    from turnproof.model.designs import FIELD, NAMED
    code, out, err = run(capsys, "designs")
    assert code == 0 and all(n in out for n in NAMED) and all(n in out for n in FIELD)


def test_module_entry_point_runs():
    p = subprocess.run([sys.executable, "-m", "turnproof", "check", "--design", "nope"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "unknown design" in p.stderr
