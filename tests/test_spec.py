"""docs/SPEC.md: generated from the model, documented how, and kept up to date by this test."""

from __future__ import annotations

import os
import re

import pytest

from turnproof.model import provider
from turnproof.model.designs import KNOB_VALUES, NAMED
from turnproof.model.properties import PROPERTIES, SOMETIMES
from turnproof.model.turnloop import ACTIONS, FAULT_ACTION, FAULT_ACTIONS, FAULTS, FIELD_MEANING, FIELD_NAMES
from turnproof.cli import main
from turnproof.cmd_spec import COMMAND, generate, knob_comments

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "docs", "SPEC.md")


@pytest.fixture(scope="module")
def spec() -> str:
    return generate()


def test_docs_spec_is_up_to_date(spec):
    with open(SPEC, encoding="utf-8") as f:
        committed = f.read()
    assert committed == spec, f"docs/SPEC.md is out of date with the model: run `{COMMAND}`"


def test_the_regeneration_command_is_at_the_top(spec):
    head = "\n".join(spec.splitlines()[:6])
    assert "turnproof spec -o docs/SPEC.md" in head and "turnproof spec --check" in head


def test_generation_is_deterministic(spec):
    assert generate() == spec
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\d+\.\d+ s\b", spec)  # no dates, no timings


def test_every_action_with_guard_effect_and_citation(spec):
    for name, info in ACTIONS.items():
        sec = spec[spec.index(f"\n### {name}\n"):]
        sec = sec[: sec.index("\n##", 1)] if "\n##" in sec[1:] else sec
        assert f"**Cites:** {info.cites}" in sec
        assert f"**Guard:** {info.guard}" in sec and f"**Effect:** {info.effect}" in sec
        assert ("**Fault:** yes" in sec) == (name in FAULT_ACTIONS)


def test_every_property_sometimes_design_knob_and_fault(spec):
    for pid, p in PROPERTIES.items():
        assert f"| `{pid}` | {p.kind} | {' '.join(p.statement.split())} |" in spec
    for sid, text in SOMETIMES.items():
        assert f"| `{sid}` | {text} |" in spec
    for name, d in NAMED.items():
        assert f"\n### {name}\n\n**{d.title}**" in spec
    for k, values in KNOB_VALUES.items():
        row = next(line for line in spec.splitlines() if line.startswith(f"| `{k}` | `"))
        assert all(f"`{str(v).lower() if isinstance(v, bool) else v}`" in row for v in values)
    for f in FAULTS:
        assert f"| `{f}` | [`{FAULT_ACTION[f]}`]" in spec


def test_every_state_field_is_described():
    assert list(FIELD_MEANING) == list(FIELD_NAMES)
    assert set(FAULT_ACTION.values()) == set(FAULT_ACTIONS)


def test_every_provider_error_text_is_quoted_exactly(spec):
    texts = [v for k, v in vars(provider).items() if k.isupper() and isinstance(v, str) and len(v) > 30]
    assert len(texts) >= 10
    for t in texts:
        assert t in spec, t


def test_knob_comments_come_from_designs_py():
    c = knob_comments()
    assert "a5783f90c" in c["drain_on_stream_error"] and c["drain_before_completed"].startswith("seed fix 1")
    assert c["chat_grouping"] == "per-call: v0.77; consecutive: v0.78; response: ours"


def test_spec_command_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "d" / "SPEC.md"
    assert main(["spec", "-o", str(out)]) == 0
    assert out.read_text() == generate()
    assert main(["spec", "--check", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    lines[20] = lines[20] + " (edited by hand)"
    out.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["spec", "--check", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"SPEC.md:21: out of date with the model; run `{COMMAND}`" in err
    assert main(["spec", "--check", "-o", str(tmp_path / "missing.md")]) == 2
    assert main(["spec"]) == 0 and capsys.readouterr().out == generate()
