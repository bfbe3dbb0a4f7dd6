"""The state graph around a violation, as Graphviz DOT (and SVG when Graphviz is installed).

The picture holds the counterexample's states (the shortest path, then what follows it without
further faults, or the cycle) and, around them, the states one step away (``radius`` steps in
general): the choices the path did not take. Edges carry the model's action names; path edges
are bold, fault steps dashed, the step the property fails on red, and off-path states are grey
and smaller, so the eye follows the path and still sees where the session could have gone.
States are found by re-running the model's ``successors``, so every edge drawn is a real step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

from turnproof.model import items as I
from turnproof.model.provider import Rejection
from turnproof.model.turnloop import FAULT_ACTIONS, STREAM, TEXT_HELD, State, TurnLoop
from turnproof.resolve import wire_label
from turnproof.steps import step_name

MAX_NODES = 160  # past this the picture stops being readable: neighbours are cut, never the path


def _q(text: str) -> str:
    """A DOT double-quoted string (newlines become left-justified line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l") + '"'


def _held(s: tuple) -> bool:
    """Assistant text streamed but not yet recorded (chat aggregated mode, or seed fix 1's drain)."""
    v = State(*s)
    return (v.phase == STREAM and v.text == TEXT_HELD) or v.text_after_drain


def state_label(s: tuple) -> str:
    v = State(*s)
    infl = ", ".join(f"C{v.base_id + i}:{st}" for i, st in enumerate(v.in_flight))
    file = I.show_all(tuple(it for it in v.file if it[0] != "turn_aborted"))
    queue = I.show_all(tuple(it for it in v.queue if it[0] != "turn_aborted"))
    lines = [f"{v.phase}" + (" (assistant text held)" if _held(s) else ""),
             f"history {I.show_all(v.history)}", f"file    {file}"]
    if queue != "[]":
        lines.append(f"queue   {queue}")  # recorded, not yet written by the rollout writer
    if infl:
        lines.append(f"tools   {infl}")
    return "\n".join(lines) + "\n"


def violation_dot(model: TurnLoop, v, radius: int = 1, max_nodes: int = MAX_NODES) -> str:
    """DOT source for the neighbourhood of violation ``v`` (see the module docstring)."""
    main: list = [(None, None, v.path[0][2])] + list(v.path[1:]) + list(v.continuation)
    if v.cycle:
        main += [(a, arg, t) for (a, arg), t in v.cycle]
    ids: dict = {}
    order: list = []

    def node(s: tuple) -> str:
        if s not in ids:
            ids[s] = f"s{len(ids)}"
            order.append(s)
        return ids[s]

    on_path = set()
    path_edges: list = []  # (src, dst, action, arg, n)
    for n, (action, arg, t) in enumerate(main):
        node(t)
        on_path.add(t)
        if n:
            path_edges.append((main[n - 1][2], t, action, arg, n))
    bad_step = len(v.path) - 1  # the step the property is judged on (safety) or the last path step
    drawn = {(a, b, act, arg) for a, b, act, arg, _ in path_edges}
    side_edges: list = []
    frontier = list(order)
    cut = False
    for _ in range(radius):
        nxt = []
        for s in frontier:
            for action, arg, t in model.successors(s):
                key = (s, t, action, arg)
                if key in drawn:
                    continue
                if t not in ids and len(ids) >= max_nodes:
                    cut = True
                    continue
                drawn.add(key)
                new = t not in ids
                node(t)
                side_edges.append((s, t, action, arg))
                if new:
                    nxt.append(t)
        frontier = nxt
    title = (f"turnproof: {v.prop} violated by {model.d.name} ({wire_label(model.d)}), "
             f"calls {model.p.calls}: path of {len(v.path) - 1} steps"
             + (f", then {len(v.continuation)} without faults" if v.continuation else "")
             + (", then a cycle" if v.cycle else "")
             + (f"; neighbours cut at {max_nodes} states" if cut else ""))
    out = ["digraph turnproof {",
           f"  label={_q(title)}; labelloc=t; fontname=\"Helvetica\";",
           "  rankdir=TB; nodesep=0.3; ranksep=0.35;",
           "  node [shape=box, style=\"rounded,filled\", fontname=\"Courier\", fontsize=10];",
           "  edge [fontname=\"Helvetica\", fontsize=9];"]
    first, last = v.path[0][2], v.path[-1][2]
    for s in order:
        if s in on_path:
            fill = "#d8ecff" if s is first else ("#ffd6d6" if s == last else "#ffffff")
            extra = ", penwidth=2"
        else:
            fill, extra = "#f2f2f2", ", color=\"#999999\", fontcolor=\"#666666\", fontsize=8"
        out.append(f"  {ids[s]} [label={_q(state_label(s))}, fillcolor=\"{fill}\"{extra}];")
    for s, t, action, arg, n in path_edges:
        attrs = [f"label={_q(f'{n}. {step_name(action, arg)}')}", "penwidth=2.2"]
        if n == bad_step:
            attrs.append("color=\"#cc0000\", fontcolor=\"#cc0000\"")
        elif n > bad_step:
            attrs.append("color=\"#e07000\"")  # after the violation: continuation or cycle
        if action in FAULT_ACTIONS:
            attrs.append("style=dashed")
        out.append(f"  {ids[s]} -> {ids[t]} [{', '.join(attrs)}];")
    for s, t, action, arg in side_edges:
        attrs = [f"label={_q(step_name(action, arg))}", "color=\"#aaaaaa\"", "fontcolor=\"#888888\""]
        if action in FAULT_ACTIONS:
            attrs.append("style=dashed")
        out.append(f"  {ids[s]} -> {ids[t]} [{', '.join(attrs)}];")
    # what the property says went wrong, pinned to the state it was judged in
    if isinstance(v.detail, Rejection):
        why = f"{v.prop}: the provider answers HTTP 400:\n{_wrap(v.detail.text)}"
    else:
        why = f"{v.prop}: {_wrap(str(v.detail))}"
    out.append(f"  why [shape=note, style=filled, fillcolor=\"#fff4c2\", fontname=\"Helvetica\", "
               f"label={_q(why)}];")
    out.append(f"  {ids[last]} -> why [style=dotted, arrowhead=none];")
    out.append("}")
    return "\n".join(out) + "\n"


def _wrap(text: str, width: int = 60) -> str:
    return "\n".join(textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False))


def render_svg(dot_path: str) -> str | None:
    """Render ``dot_path`` to SVG next to it when Graphviz's `dot` is installed; the SVG path or None."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    svg = os.path.splitext(dot_path)[0] + ".svg"
    proc = subprocess.run([exe, "-Tsvg", dot_path, "-o", svg], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise ValueError(f"{dot_path}: Graphviz failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return svg
