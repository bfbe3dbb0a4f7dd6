"""Every row of the README's table of removal incidents is what the explorer finds: the verdict and
shortest length of the row's property for its design (at the field table's bounds), and, for a
violation, the provider's answer among the rejections of the request that breaks it."""

from __future__ import annotations

import os

import pytest

from turnproof import checks
from turnproof.model.designs import FIELD, FIELD_AGENTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
MARK = "removal-incidents-table"


def rows() -> list[list[str]]:
    table = README.split(f"<!-- {MARK} -->")[1].split(f"<!-- /{MARK} -->")[0]
    return [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in table.strip().splitlines()[2:]]


ROWS = rows()


def _derive(design: str, prop: str) -> tuple[str, list[str]]:
    d = FIELD[design]
    params = checks.field_params(d, checks.make_params(**checks.DEFAULT_BOUNDS))
    model, result = checks.check_design(d, params)
    v = result.violations.get(prop)
    if v is None:
        return "holds", []
    action, arg, _ = v.path[-1]
    r = model.request_at(v.path[-2][2], action, arg)
    return f"FAIL({len(v.path) - 1})", [x.text for x in r.rejections] if r else []


def test_the_table_names_every_agent_design_and_each_incident_has_its_fix():
    named = {r[3] for r in ROWS}
    assert FIELD_AGENTS <= named and {"codex-0.47-compact", "codex-0.78-compact"} <= named
    assert all(r[3] in FIELD for r in ROWS)
    for r in ROWS:
        assert (r[5] == "holds") == (r[6] == ""), r


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.slow) if r[3] not in FIELD_AGENTS else r
                                 for r in ROWS], ids=[f"{r[3]}:{r[4]}" for r in ROWS])
def test_row(row):
    shortest, texts = _derive(row[3], row[4])
    assert shortest == row[5]
    if row[6]:
        assert row[6].replace("\\|", "|") in texts, texts
