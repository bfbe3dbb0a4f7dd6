"""The example GitHub Actions workflow: its check step and its comment step, run here with bash
exactly as written (the comment step against a stand-in `gh` that answers like the GitHub API), on
candidate design files that hold, fail and are malformed; and what the file promises about pinning,
credentials, globs and the install line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv

import pytest
import yaml

from turnproof import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOW_PATH = os.path.join(ROOT, "examples", "github", "turnproof.yml")
EXAMPLES = os.path.join(ROOT, "examples", "designs")
WORKFLOW = yaml.safe_load(open(WORKFLOW_PATH, encoding="utf-8"))
STEPS = WORKFLOW["jobs"]["check"]["steps"]


def step(name: str) -> dict:
    return next(s for s in STEPS if s.get("name") == name)


def step_script(name: str) -> str:
    """The `run:` script of the step called ``name``, as YAML reads it (what GitHub runs)."""
    return step(name)["run"]


def _turnproof_on_path(tmp_path) -> str:
    """A folder with a `turnproof` command: this checkout's, run by this Python (an installed one may be
    an older build)."""
    d = tmp_path / "tp-bin"
    d.mkdir(exist_ok=True)
    (d / "turnproof").write_text(f"#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m turnproof \"$@\"\n")
    (d / "turnproof").chmod(0o755)
    return str(d)


def run_check_step(tmp_path, files: dict[str, str]) -> tuple[dict, str, str]:
    designs = tmp_path / "designs"
    designs.mkdir()
    for name, text in files.items():
        (designs / name).write_text(text)
    out, summary = tmp_path / "gh_output", tmp_path / "gh_summary"
    env = dict(os.environ, **{**WORKFLOW["env"], "TURNPROOF_CALLS": "2"}, GITHUB_OUTPUT=str(out),
               GITHUB_STEP_SUMMARY=str(summary), PATH=f"{_turnproof_on_path(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step_script("Check the candidate designs")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr  # GitHub runs `bash -e`: the step itself must not stop early
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    return outputs, summary.read_text(), (tmp_path / outputs["comment"]).read_text()


def test_workflow_check_step_reports_every_design(tmp_path):
    ex = lambda n: open(os.path.join(EXAMPLES, n)).read()  # noqa: E731
    outputs, summary, comment = run_check_step(tmp_path, {
        "pr-8556.toml": ex("pr-8556.toml"),
        "turnproof-proposed.toml": ex("turnproof-proposed.toml"),
    })
    assert outputs["status"] == "1"  # PR #8556 alone leaves wire-valid violated
    assert summary == comment
    assert comment.startswith(WORKFLOW["env"]["TURNPROOF_MARKER"] + "\n")  # hidden in the rendered comment
    assert "### turnproof check: `pr-8556`: 4 of 9 properties violated" in summary
    assert "### turnproof check: `turnproof-proposed`: all 9 properties hold" in summary
    assert summary.count("```mermaid\nsequenceDiagram") == 4
    itf = sorted(os.listdir(tmp_path / "turnproof-out"))
    assert [f for f in itf if f.endswith(".itf.json")] == [
        "pr-8556-can-proceed.itf.json", "pr-8556-results-recorded.itf.json", "pr-8556-resumable.itf.json",
        "pr-8556-wire-valid.itf.json"]


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
    report = ("## head\n\n### turnproof check: `a`: 1 of 8 properties violated\n| table |\n\n"
              "#### `wire-valid`: shortest counterexample\n```mermaid\nx\n```\n\n"
              "### turnproof check: `b`: all 7 properties hold\n| table b |\n")
    proc = subprocess.run(["awk", awk], input=report, capture_output=True, text=True, check=True)
    assert "mermaid" not in proc.stdout and "| table |" in proc.stdout and "| table b |" in proc.stdout


def test_workflow_is_valid_yaml_with_the_expected_steps():
    on = WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    names = [s.get("name", s.get("uses")) for s in STEPS]
    assert "Check the candidate designs" in names and "Post the report on the pull request" in names
    assert WORKFLOW["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_actions_are_pinned_by_commit_and_keep_no_credentials():
    text = open(WORKFLOW_PATH, encoding="utf-8").read()
    uses = [s for s in STEPS if "uses" in s]
    assert {u["uses"].split("@")[0] for u in uses} == {"actions/checkout", "actions/setup-python",
                                                       "actions/upload-artifact"}
    for u in uses:
        ref = u["uses"].split("@")[1]
        assert re.fullmatch(r"[0-9a-f]{40}", ref), u["uses"]  # a tag can move; a commit cannot
        assert re.search(re.escape(u["uses"]) + r"  # v\d+\.\d+\.\d+$", text, re.M), "name the release"
    checkout = next(u for u in uses if u["uses"].startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_the_paths_filter_and_the_loop_use_the_same_glob():
    on = WORKFLOW.get("on", WORKFLOW.get(True))
    glob = f"{WORKFLOW['env']['DESIGNS']}/*.toml"
    assert glob in on["pull_request"]["paths"]
    assert 'files=("$DESIGNS"/*.toml)' in step_script("Check the candidate designs")
    assert "required status check" in open(WORKFLOW_PATH, encoding="utf-8").read()  # the note on path filters


def test_the_install_line_is_a_git_url_pinned_to_this_release():
    assert WORKFLOW["env"]["TURNPROOF_TAG"] == f"v{__version__}"
    assert WORKFLOW["env"]["TURNPROOF_GIT"] == "${{ vars.TURNPROOF_GIT }}"  # no placeholder URL
    assert 'git+$TURNPROOF_GIT@$TURNPROOF_TAG' in step_script("Install turnproof")


def run_install_step(tmp_path, git_url: str, python_dir: str, **pip_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TURNPROOF_GIT=git_url, TURNPROOF_TAG=WORKFLOW["env"]["TURNPROOF_TAG"],
               PATH=f"{python_dir}{os.pathsep}{os.environ['PATH']}", **pip_env)
    env.pop("PYTHONPATH", None)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step_script("Install turnproof")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_the_install_step_names_the_variable_when_it_is_unset(tmp_path):
    proc = run_install_step(tmp_path, "", str(tmp_path))
    assert proc.returncode == 2
    assert "::error::set the repository variable TURNPROOF_GIT" in proc.stdout


@pytest.mark.slow
def test_the_install_step_installs_the_tagged_release_from_git(tmp_path):
    """The step as written, against a git repository holding this checkout's tree under the pinned tag
    (a file:// URL stands in for the host): pip builds turnproof from the tag and the command runs."""
    repo = tmp_path / "turnproof.git"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    tracked = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True, check=True).stdout
    if not tracked:
        pytest.skip("not a git checkout")
    for rel in tracked.decode().split("\0"):
        src = os.path.join(ROOT, rel)
        if rel and os.path.isfile(src):
            os.makedirs(os.path.dirname(repo / rel), exist_ok=True)
            shutil.copy2(src, repo / rel)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "release"], check=True)
    subprocess.run([*git, "-C", str(repo), "tag", WORKFLOW["env"]["TURNPROOF_TAG"]], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "after the tag"], check=True)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)  # the step runs `python -m pip`
    url = f"file://localhost{repo}"  # pip 23's URL check wants a host in a git+file URL
    # pip's own settings, as environment variables: install turnproof into the venv even where this
    # machine's Python already has it, and take z3 and networkx from there instead of downloading them
    proc = run_install_step(tmp_path, url, str(env_dir / "bin"), PIP_IGNORE_INSTALLED="1", PIP_NO_DEPS="1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = subprocess.run([str(env_dir / "bin" / "turnproof"), "--version"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout, out


# ---- the comment step, against a stand-in for `gh` ------------------------------------------------
FAKE_GH = textwrap.dedent("""\
    import json, os, sys
    args = sys.argv[1:]
    log = os.environ["FAKE_GH_LOG"]
    if os.environ.get("FAKE_GH_FAIL"):
        sys.exit(1)
    if "--paginate" in args:
        assert "--slurp" in args and args[-1].endswith("/comments"), args
        print(os.environ["FAKE_GH_COMMENTS"])
        sys.exit(0)
    method = args[args.index("--method") + 1]
    field = args[args.index("-F") + 1]
    assert field.startswith("body=@"), field
    with open(field[len("body=@"):], encoding="utf-8") as f:
        body = f.read()
    with open(log, "a", encoding="utf-8") as f:
        endpoint = next(a for a in args if a.startswith("repos/"))
        f.write(json.dumps({"method": method, "endpoint": endpoint, "body": body}) + "\\n")
""")


def run_comment_step(tmp_path, pages: list, fail: bool = False) -> tuple[list, subprocess.CompletedProcess]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "gh").write_text(f"#!{sys.executable}\n" + FAKE_GH)
    (bindir / "gh").chmod(0o755)
    comment = tmp_path / "comment.md"
    comment.write_text(WORKFLOW["env"]["TURNPROOF_MARKER"] + "\n## turnproof: new report\n")
    log = tmp_path / "gh.log"
    env = dict(os.environ, **WORKFLOW["env"], PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               GITHUB_REPOSITORY="acme/fixes", PR="7", COMMENT=str(comment), FAKE_GH_LOG=str(log),
               FAKE_GH_COMMENTS=json.dumps(pages), **({"FAKE_GH_FAIL": "1"} if fail else {}))
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step_script("Post the report on the pull request")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    calls = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return calls, proc


def _comment(cid: int, body: str, bot: bool = True) -> dict:
    return {"id": cid, "body": body, "user": {"login": "github-actions[bot]" if bot else "someone",
                                              "type": "Bot" if bot else "User"}}


def test_the_comment_step_edits_its_own_comment_found_by_the_marker(tmp_path):
    marker = WORKFLOW["env"]["TURNPROOF_MARKER"]
    pages = [[_comment(1, "LGTM", bot=False), _comment(2, "another workflow's report")],
             [_comment(3, f"{marker}\n## turnproof: old report")]]  # on the second page
    calls, proc = run_comment_step(tmp_path, pages)
    assert proc.returncode == 0, proc.stderr
    assert calls == [{"method": "PATCH", "endpoint": "repos/acme/fixes/issues/comments/3",
                      "body": f"{marker}\n## turnproof: new report\n"}]


def test_the_comment_step_posts_when_no_comment_of_its_own_exists(tmp_path):
    marker = WORKFLOW["env"]["TURNPROOF_MARKER"]
    # the last comment is another bot's, and a person quoting the marker is not the bot
    pages = [[_comment(4, f"quoting {marker}", bot=False), _comment(5, "another workflow's report")]]
    calls, proc = run_comment_step(tmp_path, pages)
    assert proc.returncode == 0, proc.stderr
    assert [(c["method"], c["endpoint"]) for c in calls] == [("POST", "repos/acme/fixes/issues/7/comments")]


def test_the_comment_step_warns_instead_of_failing_without_permission(tmp_path):
    calls, proc = run_comment_step(tmp_path, [[]], fail=True)
    assert proc.returncode == 0 and calls == []
    assert "::warning::could not comment" in proc.stdout
