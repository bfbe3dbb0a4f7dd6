"""Readable and machine-readable verdicts: the one counterexample format (pinned by a golden test)."""

from __future__ import annotations

import textwrap

from turnproof import __version__
from turnproof.checks import verdict
from turnproof.jsondoc import document
from turnproof.mermaid import sequence_diagram
from turnproof.model.designs import NAMED
from turnproof.model.properties import PROPERTIES, SOMETIMES
from turnproof.model.provider import Rejection
from turnproof.model.turnloop import TurnLoop
from turnproof.resolve import REFERENCE, provider_label, provider_of, wire_label
from turnproof.steps import step_name, steps


def _rej_lines(model: TurnLoop, rej: Rejection) -> list[str]:
    lines = [f"{provider_label(model.d)} answers HTTP 400:", f"  {rej.text}"]
    if rej.param:
        lines.append(f"  (param: {rej.param})")
    return lines


def violation_text(model: TurnLoop, v) -> str:
    p = PROPERTIES[v.prop]
    n_steps = len(v.path) - 1
    lines = [f"VIOLATED {v.prop}: {p.statement}",
             f"design {model.d.name} ({wire_label(model.d)}), calls {model.p.calls}, path length {n_steps}"]
    for st in steps(model, v.path):
        lines.append(f"  {st['n']:>2}. {step_name(st['action'], st['arg']):<24} {st['change']}")
        if "event" in st:  # which real event a fault step stands for
            lines.extend(textwrap.wrap(st["event"], 100, initial_indent="      event: ",
                                       subsequent_indent="             ", break_on_hyphens=False))
        if "request" in st:
            lines.append(f"      request {st['request']} -> {st['verdict'] if st['verdict'] == 'accepted' else 'rejected'}")
    if isinstance(v.detail, Rejection):
        last = v.path[-2][2]
        body = model.request(last).body
        lines.append("  the request, as sent:")
        lines.extend("    " + _msg_summary(model.d.wire, i, m) for i, m in enumerate(body))
        lines.extend("  " + x for x in _rej_lines(model, v.detail))
    else:
        lines.append(f"  {v.detail}")
    if v.continuation:
        lines.append("  and from here, without further faults:")
        for st in steps(model, [v.path[-1]] + v.continuation, start=n_steps + 1):
            lines.append(f"  {st['n']:>2}. {step_name(st['action'], st['arg']):<24} {st['change']}")
            if "verdict" in st and st["verdict"] != "accepted":
                lines.append(f"      request {st['request']} -> {st['verdict']}")
    if v.cycle:
        lines.append("  cycle: " + " -> ".join(step_name(a, b) for (a, b), _ in v.cycle) + " -> (again)")
    return "\n".join(lines)


def _msg_summary(wire: str, i: int, m: dict) -> str:
    if wire == "chat":
        if m.get("tool_calls"):
            ids = ",".join(tc["id"] for tc in m["tool_calls"])
            return f"[{i}] assistant tool_calls=[{ids}]" + (" +text" if m.get("content") else "")
        if m["role"] == "tool":
            return f"[{i}] tool {m['tool_call_id']}"
        return f"[{i}] {m['role']}"
    if wire == "anthropic":
        blocks = []
        content = m["content"] if isinstance(m.get("content"), list) else [{"type": "text"}]
        for b in content:
            if b["type"] == "tool_use":
                blocks.append(f"tool_use {b['id']}")
            elif b["type"] == "tool_result":
                blocks.append(f"tool_result {b['tool_use_id']}")
            else:
                blocks.append(b["type"])
        return f"[{i}] {m['role']}: " + ", ".join(blocks)
    if wire in ("gemini", "bedrock"):  # parts / content blocks, each named by its one key
        key, call, result, cid = (("parts", "functionCall", "functionResponse", "id") if wire == "gemini"
                                  else ("content", "toolUse", "toolResult", "toolUseId"))
        parts = [f"{k} {p[k].get(cid, '')}".rstrip() if k in (call, result) else k
                 for p in m.get(key, []) for k in list(p)[:1]]
        return f"[{i}] {m.get('role')}: " + ", ".join(parts)
    t = m.get("type")
    return f"[{i}] {t} {m.get('call_id', m.get('role', ''))}".rstrip()


def result_dict(model: TurnLoop, result, faults: list[str]) -> dict:
    """The document `turnproof check --format json` prints (docs/turnproof.schema.json, kind check)."""
    props = {}
    for pid, p in PROPERTIES.items():
        v = result.violations.get(pid)
        entry: dict = {"kind": p.kind, "statement": p.statement}
        entry.update(verdict(v, result.truncated))
        if v is not None:
            entry["steps"] = steps(model, v.path)
            if isinstance(v.detail, Rejection):
                entry["provider_error"] = v.detail.text
                entry["rule"] = v.detail.rule
                entry["call_ids"] = list(v.detail.call_ids)
            else:
                entry["detail"] = str(v.detail)
            if v.continuation:
                entry["continuation"] = steps(model, [v.path[-1]] + v.continuation, start=len(v.path))
            if v.cycle:
                entry["cycle"] = [step_name(a, b) for (a, b), _ in v.cycle]
        props[pid] = entry
    return document("check", {
        "design": model.d.name, "title": model.d.title, "description": model.d.description,
        "wire": model.d.wire, "provider": provider_of(model.d), "knobs": model.d.knobs(),
        **({"hooks": dict(model.d.hooks.names)} if model.d.hooks else {}),
        "calls": model.p.calls, "rounds": model.p.rounds, "turns": model.p.turns, "faults": faults,
        "max_faults": model.p.max_faults,
        "retries": model.p.retries, "text": model.p.text, "reduce": model.p.reduce,
        "holds": not result.violations and not result.truncated,
        "properties": props,
        "sometimes": {k: {"statement": SOMETIMES[k], "reached_at_depth": result.sometimes.get(k)}
                      for k in SOMETIMES},
        "stats": {"states": result.states, "steps": result.edges, "depth": result.depth,
                  "seconds": round(result.seconds + result.graph_seconds, 3),
                  "states_per_second": round(result.states_per_second), "truncated": result.truncated},
        "coverage": result.coverage,
    })


# ---- Markdown, for a pull-request comment ------------------------------------------------------
def _knob_v(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def markdown_report(model: TurnLoop, result, faults: list[str], design_arg: str | None = None,
                    base: str = REFERENCE) -> str:
    """A verdict per property, then each shortest counterexample as a Mermaid sequence diagram.

    ``design_arg`` is what selects the design on the command line (``--design`` and its value's
    other options, shell-quoted), for the replay command. ``base`` is the named design whose knobs
    the report compares with (a design file's own base).
    """
    d, p = model.d, model.p
    bad = [pid for pid in PROPERTIES if pid in result.violations]
    if bad:
        headline = f"{len(bad)} of {len(PROPERTIES)} properties violated"
    elif result.truncated:
        headline = "no property violated, but the search stopped early: nothing shown to hold"
    else:
        headline = f"all {len(PROPERTIES)} properties hold"
    out = [f"### turnproof check: `{d.name}`: {headline}", ""]
    if d.title:
        out.append(f"**{d.title}**" + (f"  \n{d.description}" if d.description else ""))
        out.append("")
    ref = NAMED[base].knobs()
    changed = [f"`{k}={_knob_v(v)}`" for k, v in d.knobs().items() if v != ref[k]]
    out.append(f"Wire: {provider_label(d)}. Knobs changed from `{base}`: "
               + (", ".join(changed) if changed else "none") + "."
               + (" Hooks (code in place of knobs): " + ", ".join(f"`{k} = {v}`" for k, v in d.hooks.names) + "."
                  if d.hooks else ""))
    secs = result.seconds + result.graph_seconds
    out.append(f"Checked with {p.calls} parallel calls, {p.turns} turns, faults "
               f"{', '.join(faults) or 'none'} (at most {p.max_faults} per session): "
               f"{result.states:,} states, {result.edges:,} steps, depth {result.depth}, {secs:.2f} s.")
    if result.truncated:
        out.append(f"**The search stopped at {result.states:,} states (`--max-states`)**: the violations "
                   "shown are real; the other properties are unknown, not shown to hold.")
    out += ["", "| property | kind | verdict | statement |", "|---|---|---|---|"]
    for pid, prop in PROPERTIES.items():
        v = result.violations.get(pid)
        if v is not None:
            cell = f"**VIOLATED** ({len(v.path) - 1} steps)"
        else:
            cell = "unknown" if result.truncated else "holds"
        statement = prop.statement.replace("|", "\\|")  # a bare | would end the table cell
        out.append(f"| `{pid}` | {prop.kind} | {cell} | {statement} |")
    never = [sid for sid in SOMETIMES if result.sometimes.get(sid) is None]
    reached = [f"`{sid}` (depth {result.sometimes[sid]})" for sid in SOMETIMES if sid not in never]
    out.append("")
    out.append("Reachability (`sometimes`): " + (", ".join(reached) or "none") + " reached"
               + (f"; **never reached**: {', '.join(f'`{s}`' for s in never)} (a verdict that needs them "
                  "is vacuous; enable more faults)" if never else "") + ".")
    for pid in bad:
        v = result.violations[pid]
        out += ["", f"#### `{pid}`: shortest counterexample, {len(v.path) - 1} steps", "",
                f"> {PROPERTIES[pid].statement}", ""]
        if isinstance(v.detail, Rejection):
            out.append(f"{provider_label(d)} answers HTTP 400 on step {len(v.path) - 1}:")
            out += ["", "```text", v.detail.text, "```", ""]
        else:
            out += [str(v.detail)[:1].upper() + str(v.detail)[1:] + ".", ""]
        out += ["```mermaid", sequence_diagram(model, v), "```", "",
                "<details><summary>the same path as text</summary>", "", "```text",
                violation_text(model, v), "```", "", "</details>"]
    if design_arg is not None:
        cmd = (f"turnproof check --design {design_arg} --calls {p.calls} --turns {p.turns} "
               f"--faults {','.join(faults) or 'none'} --max-faults {p.max_faults} --retries {p.retries}"
               + ("" if p.text else " --no-text") + ("" if p.reduce else " --no-reduce"))
        out += ["", f"Replay: `{cmd}`"]
    out += ["", f"<sub>turnproof {__version__}</sub>"]
    return "\n".join(out) + "\n"
