"""turnproof/ is library -> renderers -> command line: nothing below the command line imports it.

The command line is cli.py, __main__.py and the cmd_*.py modules (argparse, printing, exit codes). A
module that is a command of its own (a child process's entry point, a doc generator) may parse its
arguments, but imports nothing of the command line either.
Everything else (checks.py, steps.py, report.py, mermaid.py, itf.py, dot.py, api.py, lint/, and
model/, proofs/, reference/) is importable without it. Read from the source with ast, so a lazy
import inside a function counts too.
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = {"turnproof": "turnproof", "model": "turnproof.model", "proofs": "turnproof.proofs",
         "reference": "turnproof.reference"}


def _is_cli(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module in ("turnproof.cli", "turnproof.__main__") or (module.count(".") == 1 and last.startswith("cmd_"))


def _is_script(module: str) -> bool:
    """A module that is also a command of its own (`python -m ...`, a child process): it may parse
    arguments, but it is no part of the turnproof command line and may not import it either."""
    return module.endswith(".__main__") or '__name__ == "__main__"' in open(MODULES[module], encoding="utf-8").read()


def modules() -> dict[str, str]:
    """Dotted module name (as installed) -> source path, for every module of every part."""
    out = {}
    for folder, package in PARTS.items():
        base = os.path.join(ROOT, folder)
        for root, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if d not in PARTS and not d.startswith((".", "__"))]
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(root, f), base)[:-3].replace(os.sep, ".")
                    name = package if rel == "__init__" else f"{package}.{rel.removesuffix('.__init__')}"
                    out[name] = os.path.join(root, f)
    return out


def imports(name: str, path: str) -> set[str]:
    """Every module ``path`` imports, absolute, with relative imports resolved against ``name``."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    is_pkg = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


MODULES = modules()


def test_the_walk_finds_the_layers():
    assert {"turnproof.cli", "turnproof.cmd_check", "turnproof.checks", "turnproof.steps", "turnproof.report",
            "turnproof.lint.repair", "turnproof.model.explorer", "turnproof.reference.loop"} <= set(MODULES)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not _is_cli(n)))
def test_nothing_below_the_command_line_imports_it(name):
    bad = sorted(m for m in imports(name, MODULES[name]) if _is_cli(m) or (m == "argparse" and not _is_script(name)))
    assert not bad, f"{name} imports {bad}: move what it needs below the command line"


def test_checks_has_no_print_and_no_argparse():
    tree = ast.parse(open(MODULES["turnproof.checks"], encoding="utf-8").read())
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "print" not in calls
    assert "argparse" not in imports("turnproof.checks", MODULES["turnproof.checks"])


def test_renderers_do_not_import_each_other_in_a_circle():
    # a package's __init__ is run by any import of its modules: not an edge of its own
    graph = {n: {m for m in imports(n, MODULES[n]) if m in MODULES and m != n and m not in PARTS.values()}
             for n in MODULES}

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            x = todo.pop()
            if x == b:
                return True
            if x not in seen:
                seen.add(x)
                todo += graph.get(x, ())
        return False

    for a in ("turnproof.report", "turnproof.mermaid", "turnproof.dot", "turnproof.steps"):
        for b in graph[a]:
            assert not reaches(b, a), f"import circle: {a} -> {b} -> ... -> {a}"


def test_exit_codes_are_defined_once():
    import re

    for name, path in MODULES.items():
        if name == "turnproof.exitcodes" or not name.startswith("turnproof") or ".reference" in name:
            continue
        src = open(path, encoding="utf-8").read()
        assert not re.search(r"^EXIT_\w+(, EXIT_\w+)* = ", src, re.M), f"{name} defines exit codes: use turnproof.exitcodes"
