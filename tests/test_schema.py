"""The version every machine-readable output carries, and the one verdict encoding of check and
matrix (the JSON Schema itself is tested in tests/test_jsonschema.py)."""

from __future__ import annotations

import json
import os

from turnproof import __version__
from turnproof.cli import main
from turnproof.model.properties import PROPERTIES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = json.load(open(os.path.join(ROOT, "docs", "turnproof.schema.json"), encoding="utf-8"))


def output(capsys, *argv) -> dict:
    main([str(a) for a in argv])
    return json.loads(capsys.readouterr().out)


def test_the_schema_names_the_models_property_ids():
    assert SCHEMA["$defs"]["property_id"]["enum"] == list(PROPERTIES)


def test_every_json_document_starts_with_its_writer(capsys):
    for argv in (["designs", "--json"], ["check", "--design", "turnproof-proposed", "--calls", "1", "--json"],
                 ["matrix", "--calls", "1", "--faults", "none", "--jobs", "1", "--json"]):
        doc = output(capsys, *argv)
        assert list(doc)[:3] == ["turnproof_version", "schema_version", "kind"]
        assert doc["turnproof_version"] == __version__


def test_check_and_matrix_share_one_verdict_encoding(capsys):
    check = output(capsys, "check", "--design", "codex-0.77-chat", "--calls", "1", "--faults", "none", "--json")
    matrix = output(capsys, "matrix", "--calls", "1", "--faults", "none", "--jobs", "1", "--json")
    row = next(r for r in matrix["rows"] if r["design"] == "codex-0.77-chat")
    for pid in PROPERTIES:
        c = check["properties"][pid]
        assert row["properties"][pid] == {k: c[k] for k in ("verdict", "holds", "path_length") if k in c}


def test_itf_meta_and_markdown_footers_carry_the_version(capsys, tmp_path):
    main(["check", "--design", "codex-0.77-chat", "--calls", "1", "--itf", str(tmp_path / "t.itf.json")])
    assert json.load(open(tmp_path / "t.itf.json"))["#meta"]["turnproof_version"] == __version__
    capsys.readouterr()
    main(["check", "--design", "codex-0.77-chat", "--calls", "1", "--format", "markdown"])
    assert capsys.readouterr().out.rstrip().endswith(f"<sub>turnproof {__version__}</sub>")
    main(["matrix", "--calls", "1", "--faults", "none", "--jobs", "1", "--format", "markdown"])
    assert capsys.readouterr().out.rstrip().endswith(f"<sub>turnproof {__version__}</sub>")
