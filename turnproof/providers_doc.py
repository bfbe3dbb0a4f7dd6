"""docs/providers.md, generated from model/provider.py's rule tables (a test fails when it is stale).

    turnproof providers -o docs/providers.md      (turnproof/cmd_providers.py)
"""

from __future__ import annotations


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`" if "`" in text else f"`{text}`"


def generate() -> str:
    from turnproof.model.provider import PROVIDERS_BY_NAME

    out = ["# Providers: what each one demands of tool calls and results", "",
           "Generated from `model/provider.py` by `turnproof providers -o docs/providers.md`; "
           "do not edit by hand.", "",
           "`wire-valid` is judged by the configured provider (`turnproof check --provider NAME`, "
           "`turnproof matrix --provider all`, `turnproof lint --provider NAME`). Each rule gives the exact text the "
           "provider answers with (`{ids}`, `{id}`, `{i}`, `{j}`, `{n}`, `{role}`, `{prev}`, `{type}` are filled in) "
           "and the public source where that text can be seen.", "",
           "| provider | `--provider` | wires |", "|---|---|---|"]
    for p in PROVIDERS_BY_NAME.values():
        out.append(f"| {p.title} | `{p.name}` | {', '.join(p.wires)} |")
    for p in PROVIDERS_BY_NAME.values():
        out += ["", f"## {p.title} (`{p.name}`)", ""]
        if p.notes:
            out += [p.notes, ""]
        out += ["| rule | what it demands | error text | source |", "|---|---|---|---|"]
        for r in p.rules:
            out.append(f"| `{r.id}` | {r.says} | {_cell(r.text)} | {r.source} |")
    return "\n".join(out) + "\n"
