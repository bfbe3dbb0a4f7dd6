"""Turning a --design argument into a Design: a named design, or a design file (TOML)."""

from __future__ import annotations

import os
from dataclasses import replace

from turnproof.model.designs import FIELD, NAMED, Design, with_knobs
from turnproof.model.provider import DEFAULT_FOR_WIRE, NAMES as PROVIDER_NAMES, PROVIDERS as WIRE_TITLES, PROVIDERS_BY_NAME

# what a named design's report compares its knobs with (a design file names its own base)
REFERENCE = "codex-0.77-chat"


_stdin_design: tuple | None = None  # `-` is read once, however often it is resolved


def is_design_file(arg: str) -> bool:
    return arg not in NAMED and arg not in FIELD and (arg == "-" or arg.endswith(".toml") or os.sep in arg or os.path.exists(arg))


def _from_stdin() -> tuple[Design, str]:
    global _stdin_design
    if _stdin_design is None:
        from turnproof.designfile import load_design_file_and_base

        _stdin_design = load_design_file_and_base("-")
    return _stdin_design


def resolve_design(arg: str, wire: str | None = None, provider: str | None = None) -> Design:
    """A named design or a path to a design file; ``wire`` overrides the design's wire, ``provider``
    the provider that judges its requests (see with_provider)."""
    return resolve_design_and_base(arg, wire, provider)[0]


def check_provider(name: str) -> str:
    """``name`` if it is a provider of model/provider.py, else a ValueError naming the allowed ones."""
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {name!r}; allowed: {', '.join(PROVIDER_NAMES)}")
    return name


def provider_of(d: Design) -> str:
    """The provider that judges ``d``'s requests: its knob, or the wire's own provider for "default"."""
    return DEFAULT_FOR_WIRE[d.wire] if d.provider == "default" else d.provider


def with_provider(d: Design, provider: str, wire_given: bool = False) -> Design:
    """``d`` judged by ``provider``. A provider that does not serve ``d``'s wire moves it to the first
    wire it serves (the name then says so, ``NAME@wire``), unless the wire was asked for explicitly:
    then it is an error naming the wires the provider serves."""
    p = PROVIDERS_BY_NAME[check_provider(provider)]
    if d.wire in p.wires:
        return with_knobs(d, d.name, provider=provider)
    if wire_given or d.hooks:  # a design's hooks are written for its wire
        raise ValueError(f"provider {provider} does not serve the {d.wire} wire (it serves {', '.join(p.wires)})")
    base = d.name.rsplit("@", 1)[0] if "@" in d.name else d.name
    return with_knobs(d, f"{base}@{p.wires[0]}", provider=provider, wire=p.wires[0])


def resolve_design_and_base(arg: str, wire: str | None = None, provider: str | None = None) -> tuple[Design, str]:
    """The design, and the named design its knobs are best compared with: the base a design file
    names, else codex-0.77-chat."""
    base = REFERENCE
    if arg in NAMED or arg in FIELD:
        d = NAMED[arg] if arg in NAMED else FIELD[arg]
    elif arg == "-":
        d, base = _from_stdin()
    elif is_design_file(arg):
        try:
            from turnproof.designfile import load_design_file_and_base
        except ModuleNotFoundError:
            raise ValueError(f"{arg}: design files are not supported in this build") from None
        d, base = load_design_file_and_base(arg)
    else:
        raise ValueError(f"unknown design {arg!r}; named designs: {', '.join(NAMED)}, {', '.join(FIELD)} (or a "
                         "path to a .toml design file)")
    if wire is not None and wire != d.wire:
        if d.hooks:
            raise ValueError(f"{arg}: --wire {wire}: the design's hooks are written for the {d.wire} wire; "
                             "set `wire` in its [knobs] instead")
        d = replace(with_knobs(d, d.name, wire=wire), name=f"{d.name}@{wire}")
    if provider is not None:
        d = with_provider(d, provider, wire_given=wire is not None)
    return d, base


def wire_label(d: Design) -> str:
    """``wire chat``, and the provider when it is not the wire's own: ``wire chat, provider mistral``."""
    return f"wire {d.wire}" + ("" if d.provider == "default" else f", provider {d.provider}")


def provider_label(d: Design) -> str:
    """Who answers ``d``'s requests, in words: the wire's API ("OpenAI Chat Completions"), or the
    provider on that wire ("Mistral (chat)")."""
    if d.provider == "default":
        return WIRE_TITLES.get(d.wire, d.wire)
    return f"{PROVIDERS_BY_NAME[d.provider].title} ({d.wire})"
