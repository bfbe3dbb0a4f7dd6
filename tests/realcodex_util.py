"""The `codex` fixture: a codex-cli release's binary, or a skip naming why npm cannot get it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def codex():
    from turnproof.realcodex.binary import Unavailable, ensure_codex, registry_reachable

    def get(version: str) -> str:
        try:
            return ensure_codex(version)
        except Unavailable as e:
            why = registry_reachable()
            if why:
                pytest.skip(f"codex-cli {version}: {why}")
            raise AssertionError(f"codex-cli {version} cannot be had although npm reaches the registry: {e}") from e
    return get
