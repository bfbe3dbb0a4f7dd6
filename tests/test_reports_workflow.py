"""The example GitHub Actions workflow: its check step, run here with bash exactly as written, on
candidate design files that hold, fail and are malformed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOW = os.path.join(ROOT, "examples", "github", "turnproof.yml")
EXAMPLES = os.path.join(ROOT, "examples", "designs")


def step_script(name: str) -> str:
    """The `run: |` block of the step called ``name`` (plain text: no YAML library needed)."""
    lines = open(WORKFLOW, encoding="utf-8").read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- name: {name}")
    run = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |")
    indent = len(lines[run + 1]) - len(lines[run + 1].lstrip())
    body = []
    for line in lines[run + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    return "\n".join(body) + "\n"


def run_check_step(tmp_path, files: dict[str, str]) -> tuple[dict, str, str]:
    designs = tmp_path / "designs"
    designs.mkdir()
    for name, text in files.items():
        (designs / name).write_text(text)
    out, summary = tmp_path / "gh_output", tmp_path / "gh_summary"
    env = dict(os.environ, DESIGNS="designs", TURNPROOF_CALLS="2", TURNPROOF_FAULTS="all",
               GITHUB_OUTPUT=str(out), GITHUB_STEP_SUMMARY=str(summary))
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step_script("Check the candidate designs")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr  # GitHub runs `bash -e`: the step itself must not stop early
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    return outputs, summary.read_text(), (tmp_path / outputs["comment"]).read_text()


@pytest.mark.skipif(shutil.which("turnproof") is None, reason="the turnproof command is not installed")
def test_workflow_check_step_reports_every_design(tmp_path):
    ex = lambda n: open(os.path.join(EXAMPLES, n)).read()  # noqa: E731
    outputs, summary, comment = run_check_step(tmp_path, {
        "pr-8556.toml": ex("pr-8556.toml"),
        "turnproof-proposed.toml": ex("turnproof-proposed.toml"),
    })
    assert outputs["status"] == "1"  # PR #8556 alone leaves wire-valid violated
    assert summary == comment
    assert "### turnproof check: `pr-8556`: 4 of 7 properties violated" in summary
    assert "### turnproof check: `turnproof-proposed`: all 7 properties hold" in summary
    assert summary.count("```mermaid\nsequenceDiagram") == 4
    itf = sorted(os.listdir(tmp_path / "turnproof-out"))
    assert [f for f in itf if f.endswith(".itf.json")] == [
        "pr-8556-can-proceed.itf.json", "pr-8556-results-kept.itf.json", "pr-8556-resumable.itf.json",
        "pr-8556-wire-valid.itf.json"]


@pytest.mark.skipif(shutil.which("turnproof") is None, reason="the turnproof command is not installed")
def test_workflow_check_step_with_a_bad_file(tmp_path):
    outputs, summary, _ = run_check_step(tmp_path, {
        "typo.toml": 'base = "codex-0.77-chat"\n[knobs]\nchat_grouping = "grouped"\n',
        "seed-fix-2.toml": open(os.path.join(EXAMPLES, "seed-fix-2.toml")).read(),
    })
    assert outputs["status"] == "2"  # the bad file outranks the violations of seed-fix-2
    assert "### `designs/typo.toml`: not checked" in summary
    assert re.search(r"designs/typo\.toml:3: bad value 'grouped' for knob 'chat_grouping'", summary)
    assert "### turnproof check: `seed-fix-2`:" in summary


def test_long_reports_are_cut_to_the_verdict_tables_for_the_comment(tmp_path):
    # the awk filter the step uses when the report passes GitHub's comment limit
    awk = re.search(r"awk '([^']+)'", step_script("Check the candidate designs")).group(1)
    report = ("## head\n\n### turnproof check: `a`: 1 of 7 properties violated\n| table |\n\n"
              "#### `wire-valid`: shortest counterexample\n```mermaid\nx\n```\n\n"
              "### turnproof check: `b`: all 7 properties hold\n| table b |\n")
    proc = subprocess.run(["awk", awk], input=report, capture_output=True, text=True, check=True)
    assert "mermaid" not in proc.stdout and "| table |" in proc.stdout and "| table b |" in proc.stdout


def test_workflow_is_valid_yaml_with_the_expected_steps():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(open(WORKFLOW))
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    steps = [s.get("name", s.get("uses")) for s in doc["jobs"]["check"]["steps"]]
    assert "Check the candidate designs" in steps and "Post the report on the pull request" in steps
    assert doc["permissions"]["pull-requests"] == "write"
