"""Reports: the Markdown PR comment (with Mermaid diagrams), JSON, ITF traces, the DOT picture and
the Python API, each checked against the model run that produced it."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from hypothesis import given, settings, strategies as st

from turnproof.model.designs import NAMED, with_knobs
from turnproof.model.properties import PROPERTIES
from turnproof.model.turnloop import ACTIONS, FAULT_ACTIONS, FIELD_NAMES, Params, parse_faults
from turnproof.api import turnproof_check
from turnproof.checks import check_design
from turnproof.dot import violation_dot
from turnproof.itf import decode_state, violation_itf
from turnproof.mermaid import LANES, escape, sequence_diagram, wrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MISSING_1 = ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
             "'tool_call_id'. The following tool_call_ids did not have response messages: call_1")


def mermaid_blocks(md: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", md, flags=re.S)


# The subset of Mermaid's sequenceDiagram grammar the reports may use; anything else is a bug.
_ID = "|".join(k for _, k, _ in LANES)
_TEXT = r"[^;#<>`%\n]*(?:(?:#\w+;|<br/>)[^;#<>`%\n]*)*"  # escaped text: entity codes and <br/> only
_LINE = re.compile(
    rf"^(?:sequenceDiagram"
    rf"|    (?:actor|participant) (?:{_ID}) as {_TEXT}"
    rf"|\s+(?:{_ID})(?:->>|-->>|-\)|--\)|-x|--x)(?:{_ID}): {_TEXT}"
    rf"|\s+Note (?:over (?:{_ID})(?:,(?:{_ID}))?|(?:left|right) of (?:{_ID})): {_TEXT}"
    rf"|\s+rect rgb\(\d+, \d+, \d+\)|\s+loop {_TEXT}|\s+end)$")


def check_mermaid(src: str) -> None:
    depth = 0
    for line in src.splitlines():
        assert _LINE.match(line), f"not in the allowed Mermaid grammar: {line!r}"
        if re.match(r"^\s+(rect|loop) ", line):
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
    assert depth == 0, "unbalanced rect/loop blocks"


def step_numbers(src: str) -> list[tuple[int, str]]:
    """(n, action) of every step label "n. Action" in a diagram."""
    return [(int(n), a) for n, a in re.findall(r": (\d+)\. ([A-Z][A-Za-z]+)", src)]


@pytest.fixture(scope="module")
def v077():
    """codex-0.77-chat, 3 calls, crash and interrupt: wire-valid, resumable and can-proceed fail."""
    return check_design(NAMED["codex-0.77-chat"], Params(calls=3, faults=parse_faults("crash,interrupt"), text=False))


@pytest.fixture(scope="module")
def looping():
    """A design that retries rejected requests: turn-ends fails with a cycle."""
    d = with_knobs(NAMED["codex-0.77-chat"], "retrying", retry_rejected=True)
    return check_design(d, Params(calls=2, faults=frozenset(), text=False))


# ---- Markdown ----------------------------------------------------------------------------------
def test_markdown_for_codex_077_has_a_mermaid_diagram_of_the_counterexample(capsys, cli):
    code, md, err = cli("check", "--design", "codex-0.77-chat", "--calls", "3", "--faults", "none",
                            "--no-text", "--format", "markdown")
    assert code == 1
    assert "| `wire-valid` | always | **VIOLATED** (10 steps) |" in md
    assert "| `calls-answered` | always | holds |" in md
    blocks = mermaid_blocks(md)
    assert len(blocks) == 2  # wire-valid and can-proceed, in PROPERTIES order
    wv = blocks[0]
    check_mermaid(wv)
    for _, key, lane in LANES:
        assert re.search(rf"(actor|participant) {key} as {lane}", wv)
    # the path, step by step, under the model's action names
    assert [a for _, a in step_numbers(wv)] == ["UserMessage", "SendRequest", "StreamToolCall", "StreamToolCall",
                                                "StreamCompleted", "ToolFinish", "DrainOutput", "ToolFinish",
                                                "DrainOutput", "SendRequest"]
    # the rejecting step: loop -> provider, a 400 back, and the provider's own words
    rejected = wv[wv.index("10. SendRequest rejected"):]
    assert rejected.startswith("10. SendRequest rejected: [U,C1,C2,O1,O2]")
    assert "P--xL: HTTP 400 (chat-missing-tool-response)" in rejected
    note = re.search(r"Note over P: (.*)", rejected).group(1).replace("<br/>", " ")
    assert note == MISSING_1 + " (param: messages.[3].role)"
    # what was recorded comes from the state change: each call and output goes to the rollout file
    assert wv.count("L-)R: record [C") == 2 and wv.count("L-)R: record [O") == 2
    assert "Replay: `turnproof check --design codex-0.77-chat --calls 3" in md


PINNED_8479 = """\
    U->>L: 1. UserMessage: a new turn
    L-)R: record [U]
    L->>P: 2. SendRequest accepted: [U]
    P-->>M: 200: the response streams
    M->>L: 3. StreamToolCall(#35;1): call C1
    L-)R: record [C1]
    L-)T: spawn C1 (in_flight: C1)
    M->>L: 4. StreamToolCall(#35;2): call C2
    L-)R: record [C2]
    L-)T: spawn C2 (in_flight: C1, C2)
    M->>L: 5. StreamCompleted: Completed, then drain_in_flight
    T-->>L: 6. ToolFinish(C1): done
    T->>L: 7. DrainOutput(C1): output taken, in call order
    L-)R: record [O1]
    T-->>L: 8. ToolFinish(C2): done
    T->>L: 9. DrainOutput(C2): output taken, in call order
    L-)R: record [O2]
    rect rgb(255, 228, 228)
        L->>P: 10. SendRequest rejected: [U,C1,C2,O1,O2]
        P--xL: HTTP 400 (chat-missing-tool-response)
        Note over P: An assistant message with 'tool_calls' must be followed<br/>by tool messages \
responding to each 'tool_call_id'. The<br/>following tool_call_ids did not have response messages:<br/>call_1 \
(param: messages.[3].role)
    end
    Note over U,R: VIOLATED wire-valid: the provider rejects the request"""


def test_the_8479_diagram_is_pinned():
    # the one diagram a reader of #8479 should see; a change to it is a change of format
    r = turnproof_check("codex-0.77-chat", calls=3, faults="none", text=False)
    src = sequence_diagram(r.model, r.counterexample("wire-valid"))
    assert src.split("\n", 7)[7] == PINNED_8479


def test_markdown_diagrams_follow_every_counterexample_step(v077):
    from turnproof.report import markdown_report

    model, result = v077
    md = markdown_report(model, result, ["crash", "interrupt"])
    blocks = mermaid_blocks(md)
    assert len(blocks) == len(result.violations) == 3
    for pid, src in zip([p for p in PROPERTIES if p in result.violations], blocks):
        check_mermaid(src)
        v = result.violations[pid]
        want = [a for a, _, _ in v.path[1:]] + [a for a, _, _ in v.continuation]
        got = step_numbers(src)
        assert [n for n, _ in got] == list(range(1, len(want) + 1))
        assert [a for _, a in got] == want and set(want) <= set(ACTIONS)
    resumable = blocks[list(p for p in PROPERTIES if p in result.violations).index("resumable")]
    assert "and from here, without further faults:" in resumable
    assert re.search(r"R->>L: \d+\. Resume: replay", resumable)


def test_the_replay_command_in_the_report_reproduces_it(capsys, tmp_path, cli):
    import shlex

    spaced = tmp_path / "my fix.toml"
    spaced.write_text('base = "codex-0.77-chat"\n[knobs]\nhard_abort_drain = false\n')
    code, md, _ = cli("check", "--design", str(spaced), "--wire", "anthropic", "--calls", "2",
                          "--faults", "crash,interrupt", "--no-text", "--format", "markdown")
    cmd = re.search(r"^Replay: `(.*)`$", md, flags=re.M).group(1)
    argv = shlex.split(cmd)
    assert argv[0] == "turnproof" and "--wire" in argv
    code2, again, _ = cli(*argv[1:], "--format", "markdown")
    strip = lambda s: re.sub(r", [\d.]+ s\.", "", s)  # noqa: E731
    assert code2 == code and strip(again) == strip(md)


def test_cycle_is_drawn_as_a_mermaid_loop(looping):
    model, result = looping
    v = result.violations["turn-ends"]
    assert v.cycle
    src = sequence_diagram(model, v)
    check_mermaid(src)
    loop = src[src.index("    loop "):]
    assert "SendRequest rejected" in loop and loop.rstrip().endswith("end")


def test_markdown_when_everything_holds(capsys, cli):
    code, md, _ = cli("check", "--design", "examples/designs/turnproof-proposed.toml",
                          "--calls", "2", "--format", "markdown")
    assert code == 0
    assert md.startswith("### turnproof check: `turnproof-proposed`: all 9 properties hold")
    assert "```mermaid" not in md and "VIOLATED" not in md
    assert "**turnproof-proposed: pair by position, on every path**" in md


def test_escape_leaves_no_mermaid_syntax_in_text():
    assert escape("a;b#c<d>e`f") == "a#59;b#35;c#60;d#62;e#96;f"
    check_mermaid("sequenceDiagram\n    Note over L: " + escape("messages.22: `tool_use` ids; #1 <x>"))


def test_anthropic_error_text_survives_in_the_diagram():
    m, r = check_design(with_knobs(NAMED["codex-0.78-chat"], "ant", wire="anthropic"),
                        Params(calls=2, faults=parse_faults("crash")))
    src = sequence_diagram(m, r.violations["wire-valid"])
    check_mermaid(src)
    note = re.search(r"Note over P: (.*)", src).group(1).replace("<br/>", " ")
    unescaped = re.sub(r"#(\d+);", lambda x: chr(int(x.group(1))), note)
    assert unescaped == r.violations["wire-valid"].detail.text


# ---- JSON and text -----------------------------------------------------------------------------
def test_json_format_and_its_alias(capsys, cli):
    args = ["check", "--design", "codex-0.78-chat", "--calls", "2", "--faults", "none"]
    c1, a, _ = cli(*args, "--format", "json")
    c2, b, _ = cli(*args, "--json")
    da, db = json.loads(a), json.loads(b)
    for d in (da, db):
        d["stats"].pop("seconds"), d["stats"].pop("states_per_second")
    assert da == db and c1 == c2 == 1
    assert list(da["properties"]) == list(PROPERTIES)
    assert da["properties"]["wire-valid"]["provider_error"] == MISSING_1
    c3, t, _ = cli(*args, "--format", "text")
    c4, t2, _ = cli(*args)
    strip = lambda s: re.sub(r"in [\d.]+ s \([\d,]+ states/s\)", "", s)  # noqa: E731
    assert c3 == c4 == 1 and strip(t) == strip(t2) and "VIOLATED wire-valid" in t
    code, _, err = cli(*args, "--json", "--format", "markdown")
    assert code == 2 and "--json conflicts with --format markdown" in err


def test_matrix_markdown_with_a_design_file_row(capsys, cli):
    code, out, _ = cli("matrix", "--calls", "2", "--faults", "none", "--jobs", "1", "--format", "markdown",
                           "--design", os.path.join(ROOT, "examples", "designs", "pr-8556.toml"))
    rows = {r.split(" | ")[0][2:]: r for r in out.splitlines() if r.startswith("| ") and " | chat | " in r}
    assert code == 1 and rows["pr-8556"].split(" | ")[1:] == rows["codex-0.78-chat"].split(" | ")[1:]
    assert set(rows["turnproof-proposed"].split(" | ")[2:-1]) == {"ok"}
    assert f"- `pr-8556`, `wire-valid`: `{MISSING_1}`" in out
    code, _, err = cli("matrix", "--calls", "1", "--design", "no/such.toml")
    assert code == 2 and "no/such.toml: no such design file" in err


# ---- ITF ---------------------------------------------------------------------------------------
def _no_variant_lookalikes(x) -> bool:
    """Quint reads any object with a "tag" key as a variant, and "#..." keys as ITF encodings."""
    if isinstance(x, dict):
        keys = set(x) - {"#meta"}
        if "tag" in keys or any(k.startswith("#") and k not in ("#bigint", "#set", "#tup", "#map") for k in keys):
            return False
        return all(_no_variant_lookalikes(v) for k, v in x.items() if k != "#meta")
    if isinstance(x, list):
        return all(_no_variant_lookalikes(v) for v in x)
    return True


def _ints_are_bigints(x) -> bool:
    if isinstance(x, bool) or isinstance(x, str):
        return True
    if isinstance(x, int):
        return False
    if isinstance(x, dict):
        return all(_ints_are_bigints(v) for k, v in x.items() if k != "#meta")
    if isinstance(x, list):
        return all(_ints_are_bigints(v) for v in x)
    return x is not None and not isinstance(x, float)


def _replays(model, trace) -> None:
    """Every state decodes to a model state, and each is a successor of the one before by its action."""
    states = [decode_state(st) for st in trace["states"]]
    assert states[0] in model.init_states()
    for prev, nxt, shown in zip(states, states[1:], trace["states"][1:]):
        steps = [(a, t) for a, _, t in model.successors(prev)]
        assert (shown["mbt::actionTaken"], nxt) in steps


def test_itf_trace_replays_in_the_model(v077):
    model, result = v077
    for pid, v in result.violations.items():
        tr = json.loads(json.dumps(violation_itf(model, v)))  # exactly what a file would hold
        assert tr["#meta"]["format"] == "ITF" and tr["#meta"]["property"] == pid
        assert tr["vars"] == list(FIELD_NAMES) + ["mbt::actionTaken", "action_arg"]
        assert [s["#meta"]["index"] for s in tr["states"]] == list(range(len(tr["states"])))
        assert len(tr["states"]) == len(v.path) + len(v.continuation) and "loop" not in tr
        assert all(set(s) == set(tr["vars"]) | {"#meta"} for s in tr["states"])
        assert _ints_are_bigints(tr["states"]) and _no_variant_lookalikes(tr["states"])
        assert [decode_state(s) for s in tr["states"][: len(v.path)]] == [s for _, _, s in v.path]
        assert tr["states"][0]["mbt::actionTaken"] == "init"
        _replays(model, tr)
    fu = violation_itf(model, result.violations["resumable"])["states"][-1]["faults_used"]
    assert fu["#set"] == ["crash"] or "interrupt" in fu["#set"]


def test_itf_lasso_for_a_cycle(looping):
    model, result = looping
    tr = violation_itf(model, result.violations["turn-ends"])
    assert "loop" in tr
    states = [decode_state(s) for s in tr["states"]]
    last = states[-1]
    assert states[tr["loop"]] in [t for _, _, t in model.successors(last)]
    _replays(model, tr)


def test_itf_and_dot_files_from_the_command_line(tmp_path, capsys, cli):
    itf = tmp_path / "cex-{property}.itf.json"
    dot = tmp_path / "graph.dot"
    code, out, err = cli("check", "--design", "codex-0.77-chat", "--calls", "2", "--faults", "crash",
                             "--format", "json", "--itf", str(itf), "--dot", str(dot))
    doc = json.loads(out)  # stdout stays one JSON document; notes go to stderr
    violated = [p for p, v in doc["properties"].items() if not v["holds"]]
    assert code == 1 and violated
    for pid in violated:
        tr = json.loads((tmp_path / f"cex-{pid}.itf.json").read_text())
        assert tr["#meta"]["property"] == pid
        assert len(tr["states"]) == 1 + doc["properties"][pid]["path_length"] + len(
            doc["properties"][pid].get("continuation", []))
    text = dot.read_text()
    assert f"{violated[0]} violated by codex-0.77-chat" in text  # without {property}: the first one
    assert ("graph.svg" in err) == (shutil.which("dot") is not None)
    code, _, err = cli("check", "--design", "turnproof-proposed", "--calls", "1", "--faults", "none",
                           "--itf", str(tmp_path / "none.json"))
    assert code == 0 and not (tmp_path / "none.json").exists() and "no counterexample" in err
    code, _, err = cli("check", "--design", "codex-0.77-chat", "--calls", "1", "--faults", "none",
                           "--itf", str(tmp_path / "no" / "such" / "dir.json"))
    assert code == 2 and "dir.json: cannot write" in err


# ---- DOT ---------------------------------------------------------------------------------------
def test_dot_holds_the_path_and_only_real_steps(v077):
    model, result = v077
    v = result.violations["wire-valid"]
    src = violation_dot(model, v)
    assert src.startswith("digraph turnproof {") and src.rstrip().endswith("}")
    nodes = re.findall(r"^  (s\d+) \[label=", src, flags=re.M)
    edges = re.findall(r"^  (s\d+) -> (s\d+) \[label=\"(?:(\d+)\. )?([A-Za-z]+)", src, flags=re.M)
    assert len(nodes) == len(set(nodes)) and all(a in nodes and b in nodes for a, b, _, _ in edges)
    numbered = [(int(n), act) for _, _, n, act in edges if n]
    assert numbered == [(i, a) for i, (a, _, _) in enumerate(v.path[1:], 1)]
    assert all(act in ACTIONS for _, _, _, act in edges)
    # the red edge is the rejected request, and the note carries the provider's text
    red = re.search(r'-> s\d+ \[label="(\d+)\. ([^"]+)", penwidth=2.2, color="#cc0000"', src)
    assert red and int(red.group(1)) == len(v.path) - 1 and red.group(2) == "SendRequest rejected"
    assert "call_1" in re.search(r"why \[.*", src).group(0)
    # fault steps are dashed, others are not
    for line in re.findall(r"^  s\d+ -> s\d+ \[.*$", src, flags=re.M):
        act = re.search(r'label="(?:\d+\. )?([A-Za-z]+)', line).group(1)
        assert ("style=dashed" in line) == (act in FAULT_ACTIONS), line


def test_dot_neighbourhood_is_capped(v077):
    model, result = v077
    v = result.violations["resumable"]
    src = violation_dot(model, v, radius=3, max_nodes=40)
    nodes = re.findall(r"^  (s\d+) \[label=", src, flags=re.M)
    assert len(nodes) <= 40 + 1 and "neighbours cut at 40 states" in src
    assert len(nodes) >= len(v.path)  # the path itself is never cut


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed (CI does not need it)")
def test_dot_renders_to_svg(v077, tmp_path):
    from turnproof.dot import render_svg

    model, result = v077
    p = tmp_path / "g.dot"
    p.write_text(violation_dot(model, result.violations["resumable"]))
    svg = render_svg(str(p))
    assert svg and open(svg).read().lstrip().startswith("<?xml")


# ---- Python API --------------------------------------------------------------------------------
def test_api_on_a_design_file_and_a_name(capsys, cli):
    good = turnproof_check(os.path.join(ROOT, "examples", "designs", "turnproof-proposed.toml"), calls=2)
    assert good.holds, good.summary()
    assert good.verdicts == dict.fromkeys(PROPERTIES, True) and good.violated == []
    bad = turnproof_check("codex-0.78-chat", calls=2, faults="none")
    assert not bad.holds and bad.violated == ["wire-valid", "can-proceed"]
    code, out, _ = cli("check", "--design", "codex-0.78-chat", "--calls", "2", "--faults", "none", "--json")
    doc = json.loads(out)
    assert {p: bad.path_length(p) for p in PROPERTIES} == {p: v.get("path_length") for p, v in doc["properties"].items()}
    assert "VIOLATED wire-valid" in bad.summary() and "```mermaid" in bad.markdown()
    assert bad.itf("wire-valid")["#meta"]["property"] == "wire-valid"
    assert bad.dot("wire-valid").startswith("digraph turnproof {")
    with pytest.raises(ValueError, match="unknown property 'wire_valid'"):
        bad.path_length("wire_valid")
    with pytest.raises(ValueError, match="calls-answered holds"):
        bad.itf("calls-answered")


def test_api_accepts_a_design_value_and_a_wire():
    d = with_knobs(NAMED["codex-0.77-chat"], "grouped", chat_grouping="consecutive")
    r = turnproof_check(d, calls=3, faults="none", text=False)
    assert r.holds and r.design.name == "grouped"
    r = turnproof_check("codex-0.77-chat", calls=3, faults="none", text=False, wire="responses")
    assert r.holds and r.design.wire == "responses"


def test_api_reports_bad_input_as_value_error(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text('base = "codex-0.77-chat"\n[knobs]\nwire = "grpc"\n')
    with pytest.raises(ValueError, match=r"x\.toml:3: bad value 'grpc'"):
        turnproof_check(str(p))
    with pytest.raises(ValueError, match="--calls must be between 1 and 8"):
        turnproof_check("codex-0.77-chat", calls=0)


def test_package_level_reexport():
    import turnproof

    assert turnproof.turnproof_check is turnproof_check
    with pytest.raises(AttributeError):
        turnproof.no_such_thing  # noqa: B018


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_escapes_into_valid_mermaid_and_back(text):
    # provider texts and design titles are quoted as they are: nothing in them may become syntax
    line = "    Note over P: " + wrap(text)
    check_mermaid("sequenceDiagram\n" + line)
    shown = line.split(": ", 1)[1].replace("<br/>", " ")
    assert re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), shown) == " ".join(text.split())


def test_dot_without_graphviz_writes_the_dot_file_only(tmp_path, capsys, monkeypatch, cli):
    import turnproof.dot

    monkeypatch.setattr(turnproof.dot.shutil, "which", lambda name: None)  # as on a CI machine without it
    code, _, err = cli("check", "--design", "codex-0.77-chat", "--calls", "2", "--faults", "none",
                           "--dot", str(tmp_path / "g-{property}.dot"))
    assert code == 1 and sorted(os.listdir(tmp_path)) == ["g-can-proceed.dot", "g-wire-valid.dot"]
    assert "install Graphviz for SVG" in err


def test_a_retry_that_reuses_the_old_prompt_is_named_in_the_diagram():
    # a parser whose close ends the channel bare (`None => break Err(..)`: drain, then a retry) with
    # v0.77's reused prompt: no shipped design, but what results-kept is for
    bare = with_knobs(NAMED["codex-0.77-chat"], "bare-close", early_close="closed")
    r = turnproof_check(bare, calls=2, faults="stream-closed", text=False)
    src = sequence_diagram(r.model, r.counterexample("results-kept"))
    check_mermaid(src)
    shaded = src[src.index("rect rgb"):]
    assert "SendRequest accepted: [U] (a retry: the first<br/>attempt's prompt" in shaded
    # a design that rebuilds the prompt never shows it
    r = turnproof_check(with_knobs(bare, "rebuild", retry_prompt="rebuild"),
                        calls=2, faults="stream-closed", text=False)
    assert "results-kept" not in r.violated and r.violated  # not vacuous: the others still show
    assert all("a retry" not in sequence_diagram(r.model, v) for v in r.result.violations.values())
