"""What every JSON document turnproof writes starts with: who wrote it and in which shape.

``turnproof_version`` is the package version; ``schema_version`` changes (by one) only when a
field's meaning changes or a field goes away, never when fields are added; ``kind`` names the
document (check, checks, matrix, designs, prove, lint, repair, verify), which selects its
definition in docs/turnproof.schema.json.
"""

from __future__ import annotations

from turnproof import __version__

# 2: a lint finding names its provider text by index (provider_error_ref, into its file's
#    provider_errors) instead of repeating it (provider_error): the output is linear in the problems
SCHEMA_VERSION = 2


def header(kind: str) -> dict:
    return {"turnproof_version": __version__, "schema_version": SCHEMA_VERSION, "kind": kind}


def document(kind: str, body: dict) -> dict:
    """``body`` with the header in front (its own keys win nothing: the header is not overwritten)."""
    out = header(kind)
    out.update({k: v for k, v in body.items() if k not in out})
    return out
