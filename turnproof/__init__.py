"""turnproof: does every tool call get its result before the next request?

``from turnproof import turnproof_check`` is the Python API (turnproof/api.py); it is loaded on
first use so that `turnproof` subcommands import only what they run.
"""

import os as _os

__version__ = "0.2.0"  # the one place; pyproject.toml reads it (CHANGELOG.md says what changed)

__all__ = ["turnproof_check", "Check"]

# Installed, setuptools maps model/, proofs/ and reference/ into this package (pyproject.toml), so
# `turnproof` is the only top-level name. In a source checkout they sit beside it: look there too.
_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "model")):
    __path__.append(_os.path.dirname(_here))


def __getattr__(name: str):
    if name in __all__:
        from turnproof import api

        return getattr(api, name)
    raise AttributeError(f"module 'turnproof' has no attribute {name!r}")
