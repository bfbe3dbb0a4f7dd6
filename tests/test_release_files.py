"""The files that make turnproof installable, citable and licensed say the same version and license."""

from __future__ import annotations

import os
import re
import tomllib

import pytest

from turnproof import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_pyproject_takes_the_version_from_the_package_and_says_the_license_in_spdx():
    py = tomllib.loads(_read("pyproject.toml"))
    assert "version" in py["project"]["dynamic"] and "version" not in py["project"]
    assert py["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "turnproof.__version__"}
    assert py["project"]["license"] == "Apache-2.0" and py["project"]["license-files"] == ["LICENSE"]
    need = [r for r in py["build-system"]["requires"] if r.startswith("setuptools")]
    assert need and int(re.search(r">=(\d+)", need[0]).group(1)) >= 77  # PEP 639 license strings
    assert "py.typed" in py["tool"]["setuptools"]["package-data"]["turnproof"]
    assert os.path.exists(os.path.join(ROOT, "turnproof", "py.typed"))
    extras = " ".join(py["project"]["optional-dependencies"]["test"])
    assert "PyYAML" in extras and "jsonschema" in extras


def test_license_is_apache_2():
    text = _read("LICENSE")
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_changelog_has_a_section_per_release_newest_first():
    heads = re.findall(r"^## (\d+\.\d+\.\d+)(.*)$", _read("CHANGELOG.md"), re.M)
    versions = [v for v, _ in heads]
    assert versions[0] == __version__ and "0.1.0" in versions
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)


def test_citation_cff():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load(_read("CITATION.cff"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):
        assert cff[key]
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    assert str(cff["version"]) == __version__ and cff["license"] == "Apache-2.0"
