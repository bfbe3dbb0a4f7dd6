"""docs/SPEC.md: generated from the model, documented how, and kept up to date by this test."""

from __future__ import annotations

import os
import re

import pytest

from turnproof.model import provider
from turnproof.model.designs import KNOB_FIELDS, KNOB_VALUES, NAMED
from turnproof.model.properties import PROPERTIES, REACHABILITY, SOMETIMES
from turnproof.model.turnloop import ACTIONS, FAULT_ACTION, FAULT_ACTIONS, FAULTS, FIELD_MEANING, FIELD_NAMES
from turnproof.cli import main
from turnproof import __version__, cmd_spec
from turnproof.cmd_spec import COMMAND, STAMP, generate, without_stamp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "docs", "SPEC.md")


@pytest.fixture(scope="module")
def spec() -> str:
    return generate()


def test_docs_spec_is_up_to_date(spec):
    with open(SPEC, encoding="utf-8") as f:
        committed = f.read()
    assert without_stamp(committed) == without_stamp(spec), f"docs/SPEC.md is out of date with the model: run `{COMMAND}`"


def test_the_regeneration_command_is_at_the_top(spec):
    head = "\n".join(spec.splitlines()[:8])
    assert "turnproof spec -o docs/SPEC.md" in head and "turnproof spec --check" in head


def test_generation_is_deterministic_but_for_the_stamp(spec):
    assert without_stamp(generate()) == without_stamp(spec)
    body = without_stamp(spec)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\d+\.\d+ s\b", body)  # no dates, no timings elsewhere


def test_the_stamp_names_version_date_and_commit(spec):
    stamps = [line for line in spec.splitlines() if line.startswith(STAMP)]
    assert len(stamps) == 1
    m = re.fullmatch(re.escape(STAMP) + r"(\S+) on (\d{4}-\d\d-\d\d) from commit (\w+|unknown \(not a git checkout\))"
                     r"( with uncommitted changes)? -->", stamps[0])
    assert m and m.group(1) == __version__, stamps[0]


def test_definitions_come_before_rationale_and_properties_have_anchors(spec):
    assert spec.index("# Part 1. Definitions (normative)") < spec.index("## 1. State") \
        < spec.index("# Part 2. Rationale (informative)") < spec.index("What the model keeps")
    for pid in list(PROPERTIES) + list(REACHABILITY):
        assert f"\n### {pid}\n" in spec or f"| `{pid}` |" in spec
    for pid in PROPERTIES:
        assert f"\n### {pid}\n" in spec and f"[`{pid}`](#{pid})" in spec  # SPEC.md#calls-answered
    assert "never reused for a different statement" in spec


def test_codex_references_are_pinned():
    body = without_stamp(generate())
    assert "HEAD" not in body and "/blob/main/" not in body and "/tree/main/" not in body


def test_cmd_spec_renders_and_reads_no_source():
    """model/ owns its metadata: the renderer keeps no mirror of it and parses no Python source."""
    import inspect

    src = inspect.getsource(cmd_spec)
    for mirror in ("FIELD_MEANING =", "FAULT_ACTION =", "PARAM_MEANING", "KNOB_SEE", "getsource", "re.finditer"):
        assert mirror not in src, mirror


def test_every_action_with_guard_effect_and_citation(spec):
    for name, info in ACTIONS.items():
        sec = spec[spec.index(f"\n### {name}\n"):]
        sec = sec[: sec.index("\n##", 1)] if "\n##" in sec[1:] else sec
        assert f"**Cites:** {info.cites}" in sec
        assert f"**Guard:** {info.guard}" in sec and f"**Effect:** {info.effect}" in sec
        assert ("**Fault:** yes" in sec) == (name in FAULT_ACTIONS)


def test_every_property_sometimes_design_knob_and_fault(spec):
    for pid, p in PROPERTIES.items():
        assert f"| [`{pid}`](#{pid}) | {p.kind} | {' '.join(p.statement.split())} |" in spec
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


def test_knob_docs_and_value_notes_come_from_the_design_fields(spec):
    for k, f in KNOB_FIELDS.items():
        row = next(line for line in spec.splitlines() if line.startswith(f"| `{k}` | `"))
        assert " ".join(f.metadata["doc"].split()) in row
    assert "`per-call` (v0.77: one assistant message per call (rust-v0.77.0 codex-api/src/requests/chat.rs:201-225))" \
        in spec and "`response` (ours)" in spec


def test_spec_command_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "d" / "SPEC.md"
    assert main(["spec", "-o", str(out)]) == 0
    assert without_stamp(out.read_text()) == without_stamp(generate())
    assert main(["spec", "--check", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    stamp = next(i for i, line in enumerate(lines) if line.startswith(STAMP))
    lines[stamp] = STAMP + "0.0.1 on 2001-01-01 from commit 000000000000 -->"  # another day, another commit
    out.write_text("\n".join(lines) + "\n")
    assert main(["spec", "--check", "-o", str(out)]) == 0
    lines[20] = lines[20] + " (edited by hand)"
    out.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["spec", "--check", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"SPEC.md:21: out of date with the model; run `{COMMAND}`" in err
    assert main(["spec", "--check", "-o", str(tmp_path / "missing.md")]) == 2
    assert main(["spec"]) == 0 and without_stamp(capsys.readouterr().out) == without_stamp(generate())
