"""Every row of the README's tables of real agents' repairs (examples/repairs/) is reproduced by its
command: the verdicts of `turnproof check`, and each check's verdict of `turnproof fuzz`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex

import pytest

from turnproof.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def rows(marker: str) -> list[list[str]]:
    table = README.split(f"<!-- {marker} -->")[1].split(f"<!-- /{marker} -->")[0]
    lines = [ln for ln in table.strip().splitlines()[2:]]
    return [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]


def run_json(command: str) -> tuple[int, dict]:
    argv = shlex.split(command.strip("`"))
    assert argv[0] == "turnproof"
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv[1:] + ["--json"])
    finally:
        os.chdir(cwd)
    return code, json.loads(out.getvalue())


CHECK_ROWS = rows("repairs-check-table")
FUZZ_ROWS = rows("repairs-fuzz-table")


def test_the_tables_have_every_example():
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "examples", "repairs")) if f.endswith(".toml"))
    assert sorted(re.search(r"examples/repairs/(\S+\.toml)", r[-1]).group(1) for r in CHECK_ROWS) == files
    assert sorted(re.search(r"examples/repairs/(\S+\.toml)", r[-1]).group(1) for r in FUZZ_ROWS) == files


@pytest.mark.slow
@pytest.mark.parametrize("row", CHECK_ROWS, ids=[r[-1].split("/")[-1].split()[0] for r in CHECK_ROWS])
def test_check_row(row):
    code, doc = run_json(row[-1])
    violated = {p: v["path_length"] for p, v in doc["properties"].items() if v["verdict"] == "violated"}
    shown = "all hold" if not violated else ", ".join(f"{p} FAIL({n})" for p, n in violated.items())
    assert shown == row[2]
    assert code == (1 if violated else 0)


@pytest.mark.slow
@pytest.mark.parametrize("row", FUZZ_ROWS, ids=[r[-1].split("/")[-1].split()[0] for r in FUZZ_ROWS])
def test_fuzz_row(row):
    code, doc = run_json(row[-1])
    got = ["ok" if doc["checks"][c]["holds"] else "FAIL" for c in ("accepted", "results-kept", "content-kept",
                                                                      "idempotent")]
    assert got == row[1:5]
    assert code == (0 if all(g == "ok" for g in got) else 1)
    for f in [f for c in doc["checks"].values() for f in c["failures"] if f["source"] == "explorer"]:
        if f"`{f['before']}`" in row[5]:  # a shortest history the row names: the same output
            assert f"`{f['before']}` becomes `{f['after']}`" in row[5]
