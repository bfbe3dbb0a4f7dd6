"""Turning a --design argument into a Design: a named design, or a design file (TOML)."""

from __future__ import annotations

import os
from dataclasses import replace

from turnproof.model.designs import NAMED, Design, with_knobs


def resolve_design(arg: str, wire: str | None = None) -> Design:
    """A named design or a path to a design file; ``wire`` overrides the design's wire."""
    if arg in NAMED:
        d = NAMED[arg]
    elif arg.endswith(".toml") or os.sep in arg or os.path.exists(arg):
        try:
            from turnproof.designfile import load_design_file
        except ModuleNotFoundError:
            raise ValueError(f"{arg}: design files are not supported in this build") from None
        d = load_design_file(arg)
    else:
        raise ValueError(f"unknown design {arg!r}; named designs: {', '.join(NAMED)} (or a path to a .toml design file)")
    if wire is not None and wire != d.wire:
        d = replace(with_knobs(d, d.name, wire=wire), name=f"{d.name}@{wire}")
    return d
