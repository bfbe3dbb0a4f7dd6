"""docs/providers.md is what the rule tables say today."""

import os

from turnproof.providers_doc import generate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_providers_md_is_current():
    with open(os.path.join(ROOT, "docs", "providers.md"), encoding="utf-8") as f:
        assert f.read() == generate(), "docs/providers.md is stale: turnproof providers -o docs/providers.md"


def test_every_rule_and_source_is_in_the_doc():
    from turnproof.model.provider import PROVIDERS_BY_NAME
    text = generate()
    for p in PROVIDERS_BY_NAME.values():
        for r in p.rules:
            assert r.id in text and r.source in text
    assert "shared/" not in text
