"""`turnproof spec`: docs/SPEC.md, the citable specification, generated from the model itself.

Everything in the file is read from model/ at generation time: the module docstrings (what the
model keeps and why, the two reductions, normalization, request building), the state fields
(model.turnloop.FIELD_NAMES), every action with its guard, effect and the codex-rs function it
cites (model.turnloop.ACTIONS), every property with its stable ID (model.properties), the
parameters and their bounds (model.turnloop.Params, probed), the faults, the knobs with the
comments designs.py gives them, every named design, and the providers' rules with their error
texts (model.provider). The output is deterministic (no dates, no timings), so a test can compare
the committed file with a fresh generation: `turnproof spec --check` does the same for CI.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import sys

from turnproof.exitcodes import EXIT_OK, EXIT_VIOLATED as EXIT_STALE
DEFAULT_PATH = os.path.join("docs", "SPEC.md")
COMMAND = "turnproof spec -o docs/SPEC.md"

# Knobs whose comment in designs.py is only their list of values: where the spec explains them.
KNOB_SEE = {"wire": "the provider API requests are built for: see Request building and Provider rules",
            "normalization": "what history goes through before a request or on resume: see Normalization"}

PARAM_MEANING = {
    "calls": "parallel tool calls the first response may carry (`--calls`)",
    "turns": "user turns (`--turns`); a crash or an interrupt always grants one more",
    "faults": "the faults that may happen (`--faults`)",
    "retries": "stream retries per request (`--retries`; Codex: stream_max_retries = 5)",
    "max_faults": "faults per session, each kind at most once (`--max-faults`)",
    "text": "a response with calls may also carry assistant text (`--no-text` turns it off)",
    "reduce": "the two sound reductions below (`--no-reduce` turns them off)",
}


# ---- small Markdown helpers ----------------------------------------------------------------------
def _doc(obj) -> str:
    """A docstring as Markdown: dedented, its first line kept as a sentence."""
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _v(x: object) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    if x is None:
        return "unset"
    if isinstance(x, tuple):
        return "[" + ", ".join(map(str, x)) + "]"
    return str(x)


def _anchor(title: str) -> str:
    """GitHub's heading anchor for ``title``."""
    a = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return a.replace(" ", "-")


# ---- facts read from the model -----------------------------------------------------------------
def knob_comments() -> dict[str, str]:
    """The comment designs.py writes beside (or above) each Design field."""
    from turnproof.model.designs import Design

    src = inspect.getsource(Design).splitlines()
    out: dict[str, str] = {}
    pending: list[str] = []
    for line in src:
        s = line.strip()
        if s.startswith("#"):
            pending.append(s.lstrip("#").strip())
            continue
        m = re.match(r"^(\w+)\s*:\s*[^=]+=\s*[^#]*(?:#\s*(.*))?$", s)
        if m and m.group(1) in Design.__dataclass_fields__:
            above = " ".join(pending)
            if len(pending) == 1 and len(above.split()) < 4 and not re.search(r"[.:;]", above):
                above = ""  # a group label such as "# request building", not about this field
            side = _values_comment(m.group(1), (m.group(2) or "").strip())
            if above and side:
                above += " " if above.endswith(".") else ". "
            out[m.group(1)] = above + side
            pending = []
        elif not s or s.startswith("def ") or s.startswith("@"):
            pending = []
    return out


def _values_comment(knob: str, side: str) -> str:
    """A trailing comment that only lists the knob's values repeats the values column: keep only
    what it adds ("per-call (v0.77) | consecutive (v0.78)" -> "per-call: v0.77; consecutive: v0.78")."""
    from turnproof.model.designs import KNOB_VALUES

    entries = [e.strip() for e in side.split("|")]
    if len(entries) < 2 or knob not in KNOB_VALUES:
        return side
    names = [re.sub(r"\s*\(.*\)$", "", e) for e in entries]
    if names != [_v(x) for x in KNOB_VALUES[knob]]:
        return side
    notes = [f"{n}: {e[len(n):].strip()[1:-1]}" for n, e in zip(names, entries) if e != n]
    return "; ".join(notes)


def param_bounds() -> dict[str, tuple[int, int]]:
    """The valid range of each integer parameter, found by asking Params itself."""
    from turnproof.model.turnloop import Params

    out = {}
    for f in dataclasses.fields(Params):
        if f.type not in ("int", int):
            continue
        ok = []
        for v in range(-1, 33):
            try:
                Params(**{f.name: v})
                ok.append(v)
            except ValueError:
                pass
        if ok:
            out[f.name] = (min(ok), max(ok))
    return out


def provider_rules() -> list[tuple[str, str, str, str]]:
    """[(provider, rule id, error text template, source)] from model/provider.py's tables."""
    from turnproof.model.provider import PROVIDERS_BY_NAME

    return [(p.title, r.id, r.text, r.source) for p in PROVIDERS_BY_NAME.values() for r in p.rules]


# ---- the document ------------------------------------------------------------------------------
def generate() -> str:
    from turnproof.model import designs, items, normalize, properties, provider, turnloop, wire
    from turnproof.model.designs import KNOB_VALUES, NAMED, SHIPPED
    from turnproof.model.properties import PROPERTIES, SOMETIMES, TurnLoopSpec
    from turnproof.model.turnloop import ACTIONS, FAULT_ACTION, FAULTS, FIELD_MEANING, FIELD_NAMES, Params, TurnLoop

    L: list[str] = []
    add = L.append
    add("# turnproof specification")
    add("")
    add(f"<!-- Generated from model/ by `{COMMAND}`: do not edit by hand. "
        "tests/test_spec.py fails when this file differs from a fresh generation. -->")
    add("")
    add(f"Regenerate with `{COMMAND}`; `turnproof spec --check` exits 1 when this file is out of date.")
    add("Every name below is the one the code uses: action names are the model's (`model.turnloop.ACTIONS`), "
        "property IDs are stable (`model.properties.PROPERTIES`), design names are `model.designs.NAMED`.")
    add("")
    sections = ["The question", "The model", "State", "Actions", "Properties", "Parameters and bounds",
                "Designs", "Normalization", "Request building", "Provider rules", "History items"]
    add("Contents: " + " · ".join(f"[{s}](#{_anchor(f'{i}. {s}')})" for i, s in enumerate(sections, 1)))
    n = iter(range(1, len(sections) + 1))

    def section(title: str) -> None:
        add("")
        add(f"## {next(n)}. {title}")
        add("")

    section("The question")
    add("Does every tool call an LLM agent makes get its result before the next request, whatever the "
        "response stream, the tools, the user and the machine do? The model is the Codex turn loop "
        "(openai/codex, `codex-rs`, rust-v0.77.0 onwards, issue #8479: parallel calls on the chat wire API, "
        "*\"An assistant message with 'tool_calls' must be followed by tool messages ...\"*). "
        "A design is a set of knob values; the same state machine runs every design, and the explorer "
        "judges every property on every reachable state.")

    section("The model")
    add("From `model/turnloop.py`:")
    add("")
    add(_doc(turnloop))

    section("State")
    add("A state is a plain tuple; its fields, in order (`model.turnloop.FIELD_NAMES`), with their value "
        "in the initial state of a default run:")
    add("")
    init = TurnLoop(NAMED["codex-0.77-chat"], Params()).init_states()[0]
    add("| # | field | initial | meaning |")
    add("|---|---|---|---|")
    for i, (name, value) in enumerate(zip(FIELD_NAMES, init)):
        shown = items.show_all(value) if name in ("history", "queue", "file") else _v(value)
        add(f"| {i} | `{name}` | `{shown}` | {_cell(FIELD_MEANING.get(name, '(not described)'))} |")

    section("Actions")
    add("Each action is a step of the state machine: the guard says when it is enabled, the effect what "
        "it changes (everything else stays). *Fault* actions are the environment misbehaving; the "
        "`can` and `eventually` properties never rely on them. Arguments: `StreamToolCall(#n)` is the "
        "n-th call of the response, `ToolFinish(Cn)` and the other tool and drain steps name the call, "
        "`Crash(k=n)` says how many queued lines had reached the file, `SendRequest` is `accepted` "
        "or `rejected`.")
    add("")
    add("| action | fault | cites (codex-rs) |")
    add("|---|---|---|")
    for a, info in ACTIONS.items():
        add(f"| [`{a}`](#{_anchor(a)}) | {'fault' if info.fault else ''} | {_cell(info.cites)} |")
    for a, info in ACTIONS.items():
        add("")
        add(f"### {a}")
        add("")
        add(f"- **Cites:** {info.cites}")
        add(f"- **Fault:** {'yes, enabled by fault `' + str(info.fault) + '`' if info.fault else 'no'}")
        add(f"- **Guard:** {info.guard}")
        add(f"- **Effect:** {info.effect}")
        if any(a in PROPERTIES[p].on for p in properties.SAFETY):
            add(f"- **Judged:** every `always` property ({', '.join(f'`{p}`' for p in properties.SAFETY)}) "
                "is judged on the request this step sends")
        for p in PROPERTIES.values():
            if p.kind == "can" and a in p.on:
                add(f"- **Judged:** `{p.id}` is judged from the state this step leads to")

    section("Properties")
    add(_doc(properties).split("\n\n")[0].replace("\n", " "))
    add("")
    add("| ID | kind | statement |")
    add("|---|---|---|")
    for pid, p in PROPERTIES.items():
        add(f"| `{pid}` | {p.kind} | {_cell(p.statement)} |")
    add("")
    add("Reachability checks (`sometimes`): a run in which one of these is never reached proves "
        "nothing about the behaviour it names.")
    add("")
    add("| ID | statement |")
    add("|---|---|")
    for sid, text in SOMETIMES.items():
        add(f"| `{sid}` | {_cell(text)} |")

    section("Parameters and bounds")
    add("`model.turnloop.Params`, with the defaults `turnproof check` uses and the ranges `Params` accepts:")
    add("")
    bounds = param_bounds()
    add("| parameter | default | range | meaning |")
    add("|---|---|---|---|")
    for f in dataclasses.fields(Params):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if f.name == "faults":
            default = ", ".join(x for x in FAULTS if x in default)
        rng = f"{bounds[f.name][0]}..{bounds[f.name][1]}" if f.name in bounds else ""
        add(f"| `{f.name}` | {_v(default)} | {rng} | {_cell(PARAM_MEANING.get(f.name, ''))} |")
    add("")
    add("Faults (`--faults`, `model.turnloop.FAULTS`), each enabling one fault action:")
    add("")
    add("| fault | action |")
    add("|---|---|")
    for f in FAULTS:
        add(f"| `{f}` | [`{FAULT_ACTION[f]}`](#{_anchor(FAULT_ACTION[f])}) |")
    add("")
    add("The bounds and the two reductions are argued in *The model* above (from the `model/turnloop.py` "
        "docstring): each reduction is on by default and off with `--no-reduce`, and a test compares "
        "the verdicts with and without them.")

    section("Designs")
    add(_doc(designs))
    add("")
    comments = knob_comments()
    base = NAMED["codex-0.77-chat"]
    add("Knobs (`model.designs.KNOB_VALUES`), with the value in `codex-0.77-chat`:")
    add("")
    add("| knob | values | codex-0.77-chat | what it decides |")
    add("|---|---|---|---|")
    for k, vals in KNOB_VALUES.items():
        add(f"| `{k}` | {', '.join(f'`{_v(x)}`' for x in vals)} | `{_v(getattr(base, k))}` | "
            f"{_cell(comments.get(k) or KNOB_SEE.get(k, ''))} |")
    add("")
    add("Named designs (`model.designs.NAMED`; the shipped Codex versions are "
        + ", ".join(f"`{s}`" for s in SHIPPED) + "):")
    for name, d in NAMED.items():
        add("")
        add(f"### {name}")
        add("")
        add(f"**{d.title}**" if d.title else f"**{name}**")
        if d.description:
            add("")
            add(d.description)
        add("")
        if name == "codex-0.77-chat":
            add("Knobs: " + ", ".join(f"`{k}={_v(x)}`" for k, x in d.knobs().items()) + ".")
        else:
            changed = [f"`{k}={_v(x)}`" for k, x in d.knobs().items() if x != getattr(base, k)]
            add("Knobs: `codex-0.77-chat` with " + (", ".join(changed) or "no change") + ".")
    add("")
    add("All designs side by side (a `·` is the `codex-0.77-chat` value):")
    add("")
    names = list(NAMED)
    add("| knob | " + " | ".join(f"`{x}`" for x in names) + " |")
    add("|---|" + "---|" * len(names))
    for k in KNOB_VALUES:
        row = ["`" + _v(getattr(NAMED[x], k)) + "`" if getattr(NAMED[x], k) != getattr(base, k) or x == base.name
               else "·" for x in names]
        add(f"| `{k}` | " + " | ".join(row) + " |")
    add("")
    add("A candidate fix is a design file (TOML: `base`, `title`, `description`, `[knobs]`) passed to "
        "`--design`; see `examples/designs/`.")

    section("Normalization")
    add("From `model/normalize.py`:")
    add("")
    add(_doc(normalize))

    section("Request building")
    add("From `model/wire.py`:")
    add("")
    add(_doc(wire))

    section("Provider rules")
    add(_doc(provider))
    add("")
    add("The rules the model judges requests with, and the text each provider answers with "
        "(`{ids}`, `{id}`, `{i}`, `{j}`, `{n}` are filled in):")
    add("")
    add("| provider | rule | error text | source |")
    add("|---|---|---|---|")
    for title, rule, text, source in provider_rules():
        add(f"| {title} | `{rule}` | {_code_cell(text)} | {source} |")
    add("")
    add("Each provider's notes and the generated table: [providers.md](providers.md).")

    section("History items")
    add("From `model/items.py`:")
    add("")
    add(_doc(items))
    add("")
    add("Origins of a result (`model.items.ORIGINS`): " + ", ".join(f"`{o}`" for o in items.ORIGINS)
        + "; made up by a normalization: " + ", ".join(f"`{o}`" for o in sorted(items.MADE_UP)) + ".")
    return "\n".join(L).rstrip("\n") + "\n"


def _code_cell(text: str) -> str:
    """Exact error text in a table cell: a code span, with its own backticks kept."""
    t = " ".join(text.split()).replace("|", "\\|")
    if "`" in t:
        return "``` " + t + " ```"
    return "`" + t + "`"


# ---- the command -------------------------------------------------------------------------------
def add_spec_arguments(p) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help=f"write the spec to FILE (e.g. {DEFAULT_PATH}); "
                   "without it, print it")
    p.add_argument("--check", action="store_true",
                   help=f"compare FILE (default {DEFAULT_PATH}) with a fresh generation: exit 1 if it is out of date")


def run_spec(args) -> int:
    text = generate()
    if args.check:
        path = args.output or DEFAULT_PATH
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except OSError as e:
            raise ValueError(f"{path}: cannot read: {e.strerror}") from None
        if old == text:
            print(f"{path} is up to date", file=sys.stderr)
            return EXIT_OK
        first = next((i for i, (a, b) in enumerate(zip(old.splitlines(), text.splitlines()), 1) if a != b),
                     min(len(old.splitlines()), len(text.splitlines())) + 1)
        print(f"{path}:{first}: out of date with the model; run `{COMMAND}`", file=sys.stderr)
        return EXIT_STALE
    if args.output:
        from turnproof.fileio import UnsafePath, write_bytes

        try:
            d = os.path.dirname(args.output)
            if d:
                os.makedirs(d, exist_ok=True)
            write_bytes(args.output, text.encode("utf-8"))  # atomic; a device or directory is refused
        except UnsafePath as e:
            raise ValueError(f"-o: {e}") from None
        except OSError as e:
            raise ValueError(f"-o: {args.output}: cannot write: {e.strerror or e}") from None
        print(f"wrote {args.output}", file=sys.stderr)
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK
