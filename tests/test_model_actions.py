"""The actions as documented are the actions as coded.

Each action method of model/turnloop.py starts with its guard: the statements up to the first
``if ...: return``. The fields those statements read (directly as ``s[FIELD]``, or through a
helper the guard calls with the state) must each be named in the docstring's Guard sentence, in
backticks, so the published guard (docs/SPEC.md) cannot drift from the code. The z3 encoding
(proofs/transitions.py) must define exactly the model's actions, and each design must be able to
take the same ones in both.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

from turnproof.model import turnloop as M
from turnproof.model.designs import NAMED
from turnproof.model.turnloop import ACTIONS, FIELD_NAMES, Params, TurnLoop
from turnproof.proofs.transitions import Encoding

INDEX_NAMES = {name.upper(): name for name in FIELD_NAMES}


def _function_ast(fn) -> ast.FunctionDef:
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def _guard_statements(fn) -> list[ast.stmt]:
    body = _function_ast(fn).body[1:]  # after the docstring
    for i, st in enumerate(body):
        if isinstance(st, ast.If) and len(st.body) == 1 and isinstance(st.body[0], ast.Return):
            return body[: i + 1]
    return []


def _helper(name: str):
    return getattr(TurnLoop, name, None) or getattr(M, name, None)


def _reads(nodes, seen: set | None = None) -> set[str]:
    """State fields read by ``nodes``: ``s[FIELD]``, and whatever a helper called with ``s`` reads."""
    seen = set() if seen is None else seen
    out: set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "s"
                    and isinstance(node.slice, ast.Name) and node.slice.id in INDEX_NAMES):
                out.add(INDEX_NAMES[node.slice.id])
            elif isinstance(node, ast.Call) and any(isinstance(a, ast.Name) and a.id == "s" for a in node.args):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                fn = _helper(name) if name else None
                if fn is not None and inspect.isfunction(fn) and name not in seen:
                    seen.add(name)
                    out |= _reads(_function_ast(fn).body, seen)
    return out


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_documented_guard_names_every_field_its_code_reads(name):
    fn = getattr(TurnLoop, name)
    read = _reads(_guard_statements(fn)) | {"phase"}  # the phase table asks each action in some phases only
    missing = sorted(f for f in read if f"`{f}`" not in ACTIONS[name].guard)
    assert not missing, f"{name}: the guard reads {missing} but its docstring's Guard does not name them"


def test_the_guard_reader_sees_reads_through_helpers():
    """The check above is only as good as its reader: it must find reads made inside helpers."""
    assert {"history", "prompt_len"} <= _reads(_guard_statements(TurnLoop.SendRequest))
    assert {"phase", "in_flight", "drained"} <= _reads(_guard_statements(TurnLoop.ToolFinish))
    assert _reads(_guard_statements(TurnLoop.StreamError)) == {"calls_ok", "faults_used"}
    assert _guard_statements(TurnLoop.StreamCompleted) == []  # no guard beyond the phase


def test_each_action_has_one_method_named_as_the_action_and_a_phase():
    for name, a in ACTIONS.items():
        assert getattr(TurnLoop, name).__name__ == name and a.guard and a.effect and a.cites
        assert any(name in acts for acts in TurnLoop.PHASE_TABLE.values()), name
    assert {a.fault for a in ACTIONS.values() if a.fault} == set(M.FAULTS)


def test_the_model_and_the_z3_encoding_define_the_same_actions():
    encoded = {n for n, f in vars(Encoding).items() if n[:1].isupper() and callable(f)}
    assert encoded == set(ACTIONS)


@pytest.mark.parametrize("design", list(NAMED))
def test_each_design_can_take_the_same_actions_in_the_model_and_in_z3(design):
    d = NAMED[design]
    model = {fn.__name__ for acts in TurnLoop(d, Params())._table.values() for fn in acts}
    assert set(Encoding(d).actions()) == model
