"""Every JSON document the commands print validates against docs/turnproof.schema.json, and the
schema's version is the one the header carries."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil

import pytest

jsonschema = pytest.importorskip("jsonschema")

from turnproof.cli import main  # noqa: E402
from turnproof.jsondoc import SCHEMA_VERSION  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = json.load(open(os.path.join(ROOT, "docs", "turnproof.schema.json"), encoding="utf-8"))
DATA = os.path.join(ROOT, "tests", "data")


def output(*argv) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main([str(a) for a in argv])
    return json.loads(out.getvalue())


def valid(doc: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)


def test_schema_version_is_the_headers():
    assert SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize("argv", [
    ["designs", "--json"],
    ["check", "--design", "codex-0.77-chat", "--calls", "2", "--json"],
    ["check", "--design", "codex-0.122-responses", "--provider", "deepseek", "--calls", "2", "--faults", "none",
     "--json"],
    ["check", "--design", "codex-0.77-chat", "--design", "turnproof-proposed", "--calls", "1", "--json"],
    ["check", "--design", "codex-0.122-responses", "--calls", "3", "--max-states", "500", "--json"],
    ["matrix", "--calls", "1", "--faults", "none", "--jobs", "1", "--json"],
    ["matrix", "--provider", "all", "--calls", "1", "--faults", "none", "--jobs", "1", "--json"],
    ["lint", os.path.join(DATA, "real"), "--json"],
    ["lint", os.path.join(DATA, "lint"), "--json"],
])
def test_documents_validate(argv):
    doc = output(*argv)
    assert doc["schema_version"] == SCHEMA_VERSION
    valid(doc)


def test_lint_error_and_repair_documents_validate(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "response_item", "payload": {"type": "message"}}\n')
    doc = output("lint", str(bad), "--json")
    assert doc["files"][0]["error"]
    valid(doc)
    src = tmp_path / "r.jsonl"
    shutil.copy(os.path.join(DATA, "lint", "rollout-8479.jsonl"), src)
    valid(output("repair", str(src), "-o", str(tmp_path / "out.jsonl"), "--json"))


def test_prove_document_validates():
    valid(output("prove", "--design", "codex-0.78-chat", "--json"))


def test_verify_document_validates(tmp_path):
    from tests.test_verify import EXPLORE_0_77, _manifest

    path = _manifest(tmp_path, EXPLORE_0_77, bounds="calls = 2")
    valid(output("verify", "--manifest", path, "--design", "codex-0.77-chat", "--stage", "explore", "--jobs", "1",
                 "--json"))


def test_the_schema_refuses_what_it_should():
    doc = output("check", "--design", "turnproof-proposed", "--calls", "1", "--faults", "none", "--json")
    valid(doc)
    for broken in ({**doc, "schema_version": SCHEMA_VERSION + 1}, {**doc, "provider": "openrouter"},
                   {**doc, "properties": {**doc["properties"], "wire-valid": {"verdict": "violated", "holds": False}}}):
        with pytest.raises(jsonschema.ValidationError):
            valid(broken)
