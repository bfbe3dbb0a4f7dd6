"""Design files: a candidate fix as TOML gives the verdicts of the design it describes, and every
mistake in a file is one line naming the file (and line) with exit 2."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from turnproof.model.designs import KNOB_VALUES, NAMED
from turnproof.designfile import DesignFileError, design_toml, load_design_file, parse_design

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "designs")
# each example file and the named design it must equal
EXAMPLE_OF = {"seed-fix-1.toml": "seed-fix-1", "seed-fix-2.toml": "seed-fix-2", "seed-fix-3.toml": "seed-fix-3",
              "turnproof-proposed.toml": "turnproof-proposed", "pr-8556.toml": "codex-0.78-chat"}


def write(tmp_path, text: str, name: str = "fix.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_every_example_file_is_listed_and_equals_its_named_design():
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.toml"))) == sorted(EXAMPLE_OF)
    for fname, named in EXAMPLE_OF.items():
        d = load_design_file(os.path.join(EXAMPLES, fname))
        assert d.knobs() == NAMED[named].knobs(), fname
        assert d.name == fname[:-5]  # the stem, as no `name` is given
        assert d.title and d.description and "\n" not in d.description


def _verdicts(cli, design: str, *params) -> dict:
    import json

    code, out, err = cli("check", "--design", design, "--format", "json", *params)
    doc = json.loads(out)
    return code, {k: (v["holds"], v.get("path_length"), v.get("provider_error"))
                  for k, v in doc["properties"].items()}, doc["stats"]["states"]


@pytest.mark.parametrize("params", [("--calls", "3", "--faults", "none"), ("--calls", "2")])
def test_file_equal_to_codex_078_gives_the_same_verdicts_and_path_lengths(params, cli):
    path = os.path.join(EXAMPLES, "pr-8556.toml")
    code_f, by_file, states_f = _verdicts(cli, path, *params)
    code_n, by_name, states_n = _verdicts(cli, "codex-0.78-chat", *params)
    assert by_file == by_name and states_f == states_n and code_f == code_n
    # and it is not vacuous: v0.78 is still rejected on these bounds (text alongside calls)
    assert by_file["wire-valid"][0] is False and code_f == 1


def test_a_file_changing_one_knob_changes_exactly_that_design(tmp_path, cli):
    # codex-0.77-chat plus the PR #8556 grouping is v0.78: verdicts follow the knob, not the name
    p = write(tmp_path, 'base = "codex-0.77-chat"\n[knobs]\nchat_grouping = "consecutive"\n', "grouped.toml")
    _, a, _ = _verdicts(cli, p, "--calls", "3", "--faults", "none", "--no-text")
    _, b, _ = _verdicts(cli, "codex-0.77-chat", "--calls", "3", "--faults", "none", "--no-text")
    assert a["wire-valid"][0] is True and b["wire-valid"][0] is False


@pytest.mark.parametrize("text,expect", [
    ('base = "codex-0.77-chat"\n[knobs]\nchat_grouping = "grouped"\n',
     "fix.toml:3: bad value 'grouped' for knob 'chat_grouping'; allowed values: per-call, consecutive, response"),
    ('base = "codex-0.77-chat"\n\n[knobs]\nwire = "chat"\ndrain_faster = true\n',
     "fix.toml:5: unknown knob 'drain_faster'; allowed knobs: wire, provider, chat_grouping,"),
    ('base = "codex-0.77-chat"\n[knobs]\npersist_synthetic = "yes"\n',
     "fix.toml:3: bad value 'yes' for knob 'persist_synthetic'; allowed values: false, true"),
    ('base = "codex-0.77-chat"\n[knobs]\npersist_synthetic = 1\n',
     "fix.toml:3: bad value 1 for knob 'persist_synthetic'; allowed values: false, true"),
    ('base = "codex-0.77-chat"\nknobs.normalization = "mine"\n',
     "fix.toml:2: bad value 'mine' for knob 'normalization'; allowed values: none, codex, ours"),
    ('title = "no base"\n', "fix.toml: missing 'base'; give one of the named designs: codex-0.77-chat,"),
    ('base = "codex-0.99-chat"\n', "fix.toml:1: unknown base design 'codex-0.99-chat'; named designs:"),
    ('base = "codex-0.77-chat"\ndesign = "x"\n', "fix.toml:2: unknown key 'design'; allowed keys: base, name,"),
    ('base = "codex-0.77-chat"\ntitle = 3\n', "fix.toml:2: 'title' must be a string, not int"),
    ('base = "codex-0.77-chat"\nknobs = ["wire"]\n', "fix.toml:2: 'knobs' must be a table"),
    ('base = "codex-0.77-chat"\nname = "codex-0.78-chat"\n',
     "fix.toml:2: name 'codex-0.78-chat' is a named design with other knobs"),
    ('base = "codex-0.77-chat"\nname = "a b"\n', "fix.toml:2: design name 'a b' must be"),
])
def test_bad_design_files_exit_2_with_one_line_naming_file_and_line(tmp_path, text, expect, cli):
    p = write(tmp_path, text)
    code, out, err = cli("check", "--design", p, "--calls", "1", "--faults", "none")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("turnproof check: error: ") and str(tmp_path) in err
    assert expect in err.replace(str(tmp_path) + os.sep, ""), err


@pytest.mark.parametrize("text,line_col", [
    ('base = "codex-0.77-chat"\n[knobs\nwire = "chat"\n', "fix.toml:2:7: malformed TOML: "),
    ('base = "codex-0.77-chat"\n[knobs]\nwire = chat\n', "fix.toml:3:8: malformed TOML: "),
    ('base = "codex-0.77-chat\n', "fix.toml:1:"),
    ('base = "codex-0.77-chat"\nbase = "codex-0.78-chat"\n', "fix.toml:2:"),
])
def test_malformed_toml_exits_2_with_line_and_column(tmp_path, text, line_col, cli):
    p = write(tmp_path, text)
    code, out, err = cli("check", "--design", p, "--calls", "1", "--faults", "none")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert line_col in err.replace(str(tmp_path) + os.sep, ""), err
    assert "(at line" not in err  # the position is given once, up front


def test_missing_file_and_directory_and_binary(tmp_path, cli):
    for arg, expect in ((str(tmp_path / "nope.toml"), "nope.toml: no such design file"),
                        (str(tmp_path) + os.sep, "is a directory")):
        code, _, err = cli("check", "--design", arg, "--calls", "1")
        assert code == 2 and expect in err
    p = tmp_path / "bin.toml"
    p.write_bytes(b'base = "codex-0.77-chat"\ntitle = "\xff"\n')
    code, _, err = cli("check", "--design", str(p), "--calls", "1")
    assert code == 2 and "bin.toml:2: not UTF-8 text" in err


def test_name_title_and_description(tmp_path):
    d = parse_design('base = "seed-fix-2"\nname = "my-fix"\n[knobs]\nnormalization = "ours"\n', "x/fix.toml")
    assert d.name == "my-fix" and d.validate_before_send and d.normalization == "ours"
    assert "seed-fix-2 with normalization='ours'" in d.title and d.description == ""
    d = parse_design('base = "codex-0.77-chat"\ntitle = "T"\ndescription = """\nline one\nline two"""\n', "a.toml")
    assert (d.name, d.title, d.description) == ("a", "T", "line one line two")


def test_a_file_name_with_spaces_gives_a_usable_design_name():
    assert parse_design('base = "codex-0.77-chat"\n', "dir/my fix (v2).toml").name == "my-fix--v2-"


def test_design_toml_round_trips_every_named_design():
    for name, d in NAMED.items():
        back = parse_design(design_toml(d), f"{name}.toml")
        assert back.knobs() == d.knobs() and back.title == d.title and back.name == name


def test_every_knob_value_is_accepted_from_a_file():
    for k, values in KNOB_VALUES.items():
        for v in values:
            shown = ("true" if v else "false") if isinstance(v, bool) else f'"{v}"'
            d = parse_design(f'base = "codex-0.77-chat"\n[knobs]\n{k} = {shown}\n', "k.toml")
            assert getattr(d, k) == v


def test_the_installed_command_exits_2_on_a_bad_knob(tmp_path):
    # through the console entry point too: exit status and stderr as a CI job sees them
    p = write(tmp_path, 'base = "codex-0.77-chat"\n[knobs]\nwire = "grpc"\n')
    proc = subprocess.run([sys.executable, "-m", "turnproof", "check", "--design", p, "--calls", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().endswith("bad value 'grpc' for knob 'wire'; allowed values: chat, responses, anthropic, gemini, bedrock")


# ---- any text at all: a Design or a one-line DesignFileError, never another exception ----------
_LINES = st.sampled_from([
    'base = "codex-0.77-chat"', 'base = "seed-fix-1"', "base = 3", "[knobs]", "[knobs.wire]", "[other]",
    'wire = "responses"', 'wire = "grpc"', "persist_synthetic = true", "persist_synthetic = 1",
    'normalization = "ours"', 'chat_grouping = ["a"]', 'title = "t"', 'name = "x"', 'name = "codex-0.78-chat"',
    "knobs = {}", 'knobs = { wire = "chat" }', "drain_faster = true", '"quoted key" = 1', "= 1", "[", '"""',
    "base = \"codex-0.77-chat\" # comment", "", "\x00", "title = '''multi", "line'''",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=8))
def test_any_design_text_is_a_design_or_one_line_error(lines):
    text = "\n".join(lines)
    try:
        d = parse_design(text, "f.toml")
    except DesignFileError as e:
        msg = str(e)
        assert msg.startswith("f.toml") and "\n" not in msg
        m = re.match(r"f\.toml:(\d+)", msg)
        if m:  # a line number, when given, points into the file
            assert 1 <= int(m.group(1)) <= max(1, text.count("\n") + 1)
    else:
        assert d.knobs().keys() == KNOB_VALUES.keys()


def test_prove_accepts_design_files_too(tmp_path, cli):
    code, out, _ = cli("prove", "--design", os.path.join(EXAMPLES, "turnproof-proposed.toml"),
                           "--faults", "none")
    assert code == 0 and "design turnproof-proposed" in out
    p = write(tmp_path, 'base = "codex-0.77-chat"\n[knobs]\nretry_prompt = "fresh"\n')
    code, out, err = cli("prove", "--design", p, "--faults", "none")
    assert code == 2 and out == "" and "fix.toml:3: bad value 'fresh' for knob 'retry_prompt'" in err
