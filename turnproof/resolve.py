"""Turning a --design argument into a Design: a named design, or a design file (TOML)."""

from __future__ import annotations

import os
from dataclasses import replace

from turnproof.model.designs import NAMED, Design, with_knobs

# what a named design's report compares its knobs with (a design file names its own base)
REFERENCE = "codex-0.77-chat"


_stdin_design: tuple | None = None  # `-` is read once, however often it is resolved


def is_design_file(arg: str) -> bool:
    return arg not in NAMED and (arg == "-" or arg.endswith(".toml") or os.sep in arg or os.path.exists(arg))


def _from_stdin() -> tuple[Design, str]:
    global _stdin_design
    if _stdin_design is None:
        from turnproof.designfile import load_design_file_and_base

        _stdin_design = load_design_file_and_base("-")
    return _stdin_design


def resolve_design(arg: str, wire: str | None = None) -> Design:
    """A named design or a path to a design file; ``wire`` overrides the design's wire."""
    return resolve_design_and_base(arg, wire)[0]


def resolve_design_and_base(arg: str, wire: str | None = None) -> tuple[Design, str]:
    """The design, and the named design its knobs are best compared with: the base a design file
    names, else codex-0.77-chat."""
    base = REFERENCE
    if arg in NAMED:
        d = NAMED[arg]
    elif arg == "-":
        d, base = _from_stdin()
    elif is_design_file(arg):
        try:
            from turnproof.designfile import load_design_file_and_base
        except ModuleNotFoundError:
            raise ValueError(f"{arg}: design files are not supported in this build") from None
        d, base = load_design_file_and_base(arg)
    else:
        raise ValueError(f"unknown design {arg!r}; named designs: {', '.join(NAMED)} (or a path to a .toml design file)")
    if wire is not None and wire != d.wire:
        d = replace(with_knobs(d, d.name, wire=wire), name=f"{d.name}@{wire}")
    return d, base
