"""`turnproof verify`: the expectations in model/expected.toml, and the command that checks them."""

from __future__ import annotations

import json
import os
import re
import tomllib

import pytest

from turnproof.cmd_prove import removal_not_encoded
from turnproof.cli import main
from turnproof.model.designs import FIELD, NAMED
from turnproof.model.properties import PROPERTIES, SAFETY, SOMETIMES
from turnproof.incidents import SCENARIOS
from turnproof.verify import ManifestError, load_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPLORE_0_77 = "\n".join(
    [f'{p} = "{"violated" if p in ("wire-valid", "results-recorded", "resumable", "can-proceed") else "holds"}"'
     for p in PROPERTIES] + [f'{s} = "reached"' for s in SOMETIMES])


def test_every_named_design_has_every_expectation():
    from turnproof.reference.designs import FIELD as REF_FIELD

    m = load_manifest()
    assert set(NAMED) <= set(m.designs)
    assert {"turnproof-proposed@responses", "turnproof-proposed@anthropic"} <= set(m.designs)
    assert set(FIELD) <= set(m.designs)
    for name, tables in m.designs.items():
        assert set(tables["check"]) == set(PROPERTIES) | set(SOMETIMES), name
        if name in FIELD:  # history that shrinks: the explorer, z3 where it encodes the removal
            # (proofs/transitions.py: removals that keep pairs whole), the reference loop where it runs it
            assert set(tables) <= {"check", "bounds", "prove", "reproduce"}, name
            assert ("prove" in tables) == (removal_not_encoded(FIELD[name]) is None), name
            if "prove" in tables:
                assert set(tables["prove"]) == set(SAFETY), name
            assert ("reproduce" in tables) == (name in REF_FIELD), name
            if "reproduce" in tables:
                assert set(tables["reproduce"]) == set(SCENARIOS), name
            continue
        assert set(tables["prove"]) == set(SAFETY), name
        assert set(tables["reproduce"]) == set(SCENARIOS), name


def test_the_expectations_say_what_the_readme_says():
    """Known failures are expected results; turnproof-proposed holds everything, everywhere."""
    d = load_manifest().designs
    for name in ("turnproof-proposed", "turnproof-proposed@responses", "turnproof-proposed@anthropic",
                 "codex-0.122-responses"):
        assert set(d[name]["check"].values()) == {"holds", "reached"}, name
        assert set(d[name]["prove"].values()) == {"proved"} and set(d[name]["reproduce"].values()) == {"works"}
    assert d["codex-0.77-chat"]["check"]["wire-valid"] == "violated"
    assert d["codex-0.77-chat"]["reproduce"]["8479"] == "fails"
    assert d["codex-0.78-chat"]["reproduce"]["8479"] == "works"
    # issue 19: the v0.77 loop drops the results of tools that ran; a5783f90c (0.122) records them
    for name in ("codex-0.77-chat", "codex-0.77-responses", "codex-0.78-chat"):
        assert d[name]["check"]["results-recorded"] == "violated" and d[name]["prove"]["results-recorded"] == "refuted"
        assert d[name]["check"]["results-kept"] == "holds" and d[name]["prove"]["results-kept"] == "proved"


def _manifest(tmp_path, check: str, name: str = "codex-0.77-chat", bounds: str = "") -> str:
    p = tmp_path / "expected.toml"
    p.write_text(f'[bounds]\n{bounds}\n[design."{name}".check]\n{check}\n')
    return str(p)


def test_a_result_that_differs_exits_1_and_is_listed(tmp_path, capsys):
    flipped = EXPLORE_0_77.replace('calls-answered = "holds"', 'calls-answered = "violated"')
    path = _manifest(tmp_path, flipped, bounds="calls = 2")
    code = main(["verify", "--manifest", path, "--design", "codex-0.77-chat", "--stage", "explore",
                 "--jobs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "codex-0.77-chat explore calls-answered: expected violated, found holds" in out
    assert re.search(r"codex-0.77-chat +explore +5 violated, 4 hold; 3 reached +4 violated, 5 hold; 3 reached .*DIFFERS", out)


def test_results_as_expected_exit_0_with_json(tmp_path, capsys):
    path = _manifest(tmp_path, EXPLORE_0_77, bounds="calls = 2")
    code = main(["verify", "--manifest", path, "--design", "codex-0.77-chat", "--stage", "explore",
                 "--jobs", "1", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["holds"] is True and doc["kind"] == "verify"
    (r,) = doc["results"]
    assert r["ok"] and r["found"]["wire-valid"] == "violated" and r["differences"] == []


def test_a_named_design_missing_from_the_manifest_is_a_difference(tmp_path, capsys):
    path = _manifest(tmp_path, EXPLORE_0_77, bounds="calls = 1")
    code = main(["verify", "--manifest", path, "--design", "seed-fix-3", "--stage", "explore", "--jobs", "1",
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "seed-fix-3 explore: no expectation in the manifest" in out


@pytest.mark.parametrize("text,needle", [
    ('[design."codex-9".check]\n', "unknown design 'codex-9'"),
    ('[design."codex-0.77-chat".check]\nwire-valid = "maybe"\n', "'maybe' is not one of holds, violated"),
    ('[design."codex-0.77-chat".check]\nwire-valid = "holds"\n', "no expectation for calls-answered"),
    ('[design."codex-0.77-chat".chek]\n', "unknown table 'chek'"),
    ('[bounds]\ncals = 2\n', "unknown key 'cals'"),
    ('[design\n', "malformed TOML"),
])
def test_a_bad_manifest_is_one_line_exit_2(tmp_path, capsys, text, needle):
    p = tmp_path / "m.toml"
    p.write_text(text)
    with pytest.raises(ManifestError, match=re.escape(needle)):
        load_manifest(str(p))
    assert main(["verify", "--manifest", str(p)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and str(p) in err


@pytest.mark.slow
def test_verify_exits_0_on_main(capsys):
    """The suite as shipped, every stage, on a Codex design that fails and on the one that holds.
    Every named design is the README's first command, which CI runs before the tests."""
    code = main(["verify", "--no-progress", "--design", "codex-0.77-chat", "--design", "turnproof-proposed"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "expected.toml" in out.splitlines()[0]
    assert re.search(r"verify: all \d+ results \(\d+ verdicts\) as expected", out)


@pytest.mark.long
def test_verify_every_named_design_exits_0_on_main(capsys):
    code = main(["verify", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"verify: all \d+ results \(\d+ verdicts\) as expected", out)
    explored = {ln.split()[0] for ln in out.splitlines() if ln.split()[1:2] == ["explore"]}
    manifest = tomllib.load(open(os.path.join(ROOT, "model", "expected.toml"), "rb"))["design"]
    assert explored == set(manifest), sorted(explored ^ set(manifest))  # every design of the manifest ran
