"""Candidate designs as files: a named base design plus the knobs a proposed fix changes.

A design file is TOML:

    base = "codex-0.77-chat"        # a named design (`turnproof designs`)
    title = "Drain before Completed"
    description = "What the fix does, in a sentence or two."
    name = "my-fix"                 # optional; the file's stem otherwise

    [knobs]                         # any of model.designs.KNOB_VALUES
    drain_before_completed = true

    [hooks]                         # optional: code in place of knobs (turnproof/hooks.py)
    repair = "fixes:repair_history"  # module (beside this file, or on PYTHONPATH) : function

The result is an ordinary ``model.designs.Design``: the same state machine runs it, so a verdict
difference between a file and its base is caused by exactly the knobs (and hooks) the file lists.
Every mistake (malformed TOML, unknown key, unknown knob, bad value, a hook that cannot be
imported) is a ValueError with one line naming the file and, where it can be found, the line: the
CLI turns it into exit 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import replace

from turnproof.fileio import UnsafePath, read_limited
from turnproof.model.designs import NAMED, Design, with_knobs

TOP_KEYS = ("base", "name", "title", "description", "knobs", "hooks")
_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


class DesignFileError(ValueError):
    """A design file that cannot be used; ``str()`` is the one-line message."""


def _key_line(text: str, key: str, table: str | None) -> int | None:
    """1-based line of ``key = ...`` at top level (table None) or inside ``[table]``."""
    current = None
    pat = re.compile(r'^\s*(?:"%s"|%s)\s*=' % (re.escape(key), re.escape(key)))
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[] \t").strip('"')
            continue
        if current == table and pat.match(line):
            return n
        # dotted form at top level: knobs.wire = "chat"
        if table and current is None and re.match(r"^\s*%s\.%s\s*=" % (re.escape(table), re.escape(key)), line):
            return n
    return None


def _shown(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v) if isinstance(v, str) else str(v)


def parse_design(text: str, path: str) -> Design:
    """The design a file's ``text`` describes (``path`` names it in errors and gives the default name)."""
    return parse_design_and_base(text, path)[0]


def parse_design_and_base(text: str, path: str) -> tuple[Design, str]:
    """The design a file's ``text`` describes, and the name of the base design it changes."""

    def fail(msg: str, key: str | None = None, table: str | None = None) -> DesignFileError:
        line = _key_line(text, key, table) if key else None
        return DesignFileError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")

    try:
        data = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise DesignFileError(f"{path}: malformed TOML: nested too deeply") from None
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _AT.search(msg)
        line, col = getattr(e, "lineno", None), getattr(e, "colno", None)  # Python 3.14 has them
        if m:
            line, col = m.group(1), m.group(2)
        where = f"{path}:{line}:{col}" if line else path
        raise DesignFileError(f"{where}: malformed TOML: {_AT.sub('', msg).strip()}") from None
    for k in data:
        if k not in TOP_KEYS:
            raise fail(f"unknown key {k!r}; allowed keys: {', '.join(TOP_KEYS)}", k)
    for k in ("base", "name", "title", "description"):
        if k in data and not isinstance(data[k], str):
            raise fail(f"{k!r} must be a string, not {type(data[k]).__name__}", k)
    if "base" not in data:
        raise fail(f"missing 'base'; give one of the named designs: {', '.join(NAMED)}")
    base_name = data["base"]
    if base_name not in NAMED:
        raise fail(f"unknown base design {base_name!r}; named designs: {', '.join(NAMED)}", "base")
    base = NAMED[base_name]
    knobs = data.get("knobs", {})
    if not isinstance(knobs, dict):
        raise fail("'knobs' must be a table ([knobs])", "knobs")
    stem = os.path.splitext(os.path.basename(path))[0]
    # a file name may hold characters a design name may not (spaces): those become "-"
    name = data.get("name", re.sub(r"[^A-Za-z0-9._@-]", "-", stem).lstrip("-._@") or "design")
    if not _NAME_OK.match(name):
        raise fail(f"design name {name!r} must be letters, digits, '.', '_', '@' or '-'",
                   "name" if "name" in data else None)
    for k, v in knobs.items():
        try:
            with_knobs(base, name, **{k: v})
        except ValueError as e:
            raise fail(str(e), k, "knobs") from None
    hooks_table = data.get("hooks")
    own = False
    if hooks_table is not None:
        knobs, own = _model_own_repair(hooks_table, knobs, fail)
    design = with_knobs(base, name, **knobs)
    hooks = _load_hooks(hooks_table, knobs, design, path, fail, text, own) if hooks_table is not None else None
    if hooks:
        design = replace(design, hooks=hooks)
        if name in NAMED:
            raise fail(f"name {name!r} is a named design; a design with hooks needs a name of its own",
                       "name" if "name" in data else None)
    if name in NAMED and NAMED[name].knobs() != design.knobs():
        # a file must not pass itself off as a named design it differs from
        raise fail(f"name {name!r} is a named design with other knobs; choose another name",
                   "name" if "name" in data else None)
    changed = ", ".join([f"{k}={_shown(v)}" for k, v in knobs.items()]
                        + [f"{k} hook {v}" for k, v in (design.hooks.names if design.hooks else ())
                           if k != "shape"])
    title = data.get("title") or f"{base_name} with {changed or 'no change'} (from {os.path.basename(path)})"
    return replace(design, title=title, description=" ".join(data.get("description", "").split())), base_name


def _model_own_repair(table: object, knobs: dict, fail) -> tuple[dict, bool]:
    """A repair hook naming the model's own normalization is the knob (prove can reason about it)."""
    from turnproof.hooks import MODEL_REPAIRS

    if not isinstance(table, dict):
        raise fail("'hooks' must be a table ([hooks])", "hooks")
    mode = MODEL_REPAIRS.get(table.get("repair")) if isinstance(table.get("repair"), str) else None
    if mode is None:
        return knobs, False
    if "normalization" in knobs and knobs["normalization"] != mode:
        raise fail(f"the repair hook is normalization {mode!r}, the knob says {knobs['normalization']!r}",
                   "repair", "hooks")
    table.pop("repair")
    return {**knobs, "normalization": mode}, True


def _load_hooks(table: dict, knobs: dict, design: Design, path: str, fail, text: str, own: bool):
    """The [hooks] table, checked and imported (turnproof/hooks.py)."""
    from turnproof.hooks import HOOK_KEYS, SHAPES, STEPS, HookError, HookSpec, check_timeout, make_hooks

    for k, v in table.items():
        if k not in HOOK_KEYS:
            raise fail(f"unknown hook {k!r}; allowed: {', '.join(HOOK_KEYS)}", k, "hooks")
        if k in STEPS and not isinstance(v, str):
            raise fail(f"hook {k!r} must be a string \"package.module:function\", not {type(v).__name__}",
                       k, "hooks")
    shape = table.get("shape")
    if shape is not None and shape not in SHAPES:
        raise fail(f"bad value {shape!r} for 'shape'; allowed values: {', '.join(SHAPES)}", "shape", "hooks")
    try:
        timeout = check_timeout(table.get("timeout", 2.0))
    except ValueError as e:
        raise fail(str(e), "timeout", "hooks") from None
    for step, knob in (("repair", "normalization"), ("on_lost_output", "persist_synthetic")):
        if step in table and knob in knobs:
            raise fail(f"the {step} hook takes the place of the {knob!r} knob: set one of them", knob, "knobs")
    targets = tuple((k, table[k], _key_line(text, k, "hooks")) for k in STEPS if k in table)
    if not targets:
        if own:  # the model's own repair, and nothing else: the knobs alone
            return None
        raise fail(f"[hooks] names no hook; give one of {', '.join(STEPS)}")
    spec = HookSpec(targets, shape, timeout)
    try:
        return make_hooks(spec, design.wire, design.chat_grouping,
                          os.path.dirname(os.path.abspath(path)), path)
    except HookError as e:
        raise DesignFileError(str(e)) from None


MAX_BYTES = 1 << 20  # a design file is a dozen lines; this bounds what a wrong path (/dev/zero) can cost


def load_design_file(path: str) -> Design:
    """Read and check a design file (see the module docstring for the format)."""
    return load_design_file_and_base(path)[0]


def load_design_file_and_base(path: str) -> tuple[Design, str]:
    """The design a file describes, and the name of the base design it changes.

    A FIFO never blocks the open, a device or socket is refused, and at most MAX_BYTES are read.
    """
    try:
        raw = read_limited(path, MAX_BYTES, "design file")
    except UnsafePath as e:
        raise DesignFileError(str(e)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DesignFileError(f"{path}:{line}: not UTF-8 text") from None
    return parse_design_and_base(text, path)


def design_toml(design: Design, base: str = "codex-0.77-chat") -> str:
    """A design file for ``design``: ``base`` plus the knobs that differ (round-trips through parse_design)."""
    b = NAMED[base].knobs()
    lines = [f"base = {_toml_str(base)}"]
    if design.title:
        lines.append(f"title = {_toml_str(design.title)}")
    if design.description:
        lines.append(f"description = {_toml_str(design.description)}")
    lines += ["", "[knobs]"]
    for k, v in design.knobs().items():
        if v != b[k]:
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return _toml_str(str(v))

