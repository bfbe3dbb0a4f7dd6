"""`--provider` on check and matrix (and the API): each provider's rules judge wire-valid."""

from __future__ import annotations

import json

import pytest

from turnproof.api import turnproof_check
from turnproof.cli import main
from turnproof.model.provider import NAMES, PROVIDERS_BY_NAME


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("provider", NAMES)
def test_check_with_every_provider(capsys, provider):
    # codex-0.77-chat with its one-message-per-call builder: the verdict is the provider's to give
    code, out, err = run(capsys, "check", "--design", "codex-0.77-chat", "--provider", provider, "--calls", "2",
                         "--faults", "none", "--no-text", "--json")
    doc = json.loads(out)
    wire = doc["wire"]
    assert doc["provider"] == provider and doc["knobs"]["provider"] == provider
    assert wire in PROVIDERS_BY_NAME[provider].wires
    wv = doc["properties"]["wire-valid"]
    if provider == "gpt-oss":
        # the gpt-oss template only asks that a tool message follow an assistant message with calls
        assert wire == "chat" and code == 0 and wv["verdict"] == "holds"
    elif wire == "chat":
        # two parallel calls as two assistant messages: the other chat providers refuse it, each in its words
        assert code == 1 and wv["verdict"] == "violated"
        rule = PROVIDERS_BY_NAME[provider].rule(wv["rule"])  # a rule of this provider's table
        assert wv["provider_error"].startswith(rule.text.split("{")[0])
    else:
        # a provider that does not serve chat moves the design to its own wire, where calls are grouped
        assert doc["design"] == f"codex-0.77-chat@{wire}"
        assert code == 0 and wv["verdict"] == "holds"


def test_check_text_names_the_provider(capsys):
    code, out, _ = run(capsys, "check", "--design", "codex-0.122-responses", "--provider", "deepseek",
                       "--calls", "2", "--faults", "none")
    assert code == 1
    assert out.splitlines()[0].startswith("turnproof check: design codex-0.122-responses "
                                          "(wire responses, provider deepseek), calls 2")
    assert "DeepSeek (responses) answers HTTP 400:" in out
    assert "No tool output found for tool call call_1." in out  # DeepSeek's text, not OpenAI's


@pytest.mark.parametrize("provider", NAMES)
def test_proposed_holds_on_every_provider(capsys, provider):
    for wire in PROVIDERS_BY_NAME[provider].wires:
        code, out, err = run(capsys, "check", "--design", "turnproof-proposed", "--wire", wire, "--provider",
                             provider, "--calls", "2")
        assert code == 0, (provider, wire, out)
        assert "VIOLATED" not in out


@pytest.mark.parametrize("argv", [
    ["check", "--design", "turnproof-proposed", "--provider", "openrouter"],
    ["matrix", "--provider", "openrouter"],
])
def test_unknown_provider_is_one_line_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert "unknown provider 'openrouter'; allowed: " + ", ".join(NAMES) in err


def test_provider_that_does_not_serve_the_asked_wire(capsys):
    code, out, err = run(capsys, "check", "--design", "turnproof-proposed", "--wire", "responses",
                         "--provider", "mistral")
    assert code == 2 and err.strip() == ("turnproof check: error: provider mistral does not serve the "
                                         "responses wire (it serves chat)")


def test_matrix_provider_all_prints_every_provider(capsys):
    code, out, err = run(capsys, "matrix", "--provider", "all", "--calls", "1", "--faults", "none", "--jobs", "1")
    assert code == 1  # the Codex designs' held text is refused on chat
    lines = out.splitlines()
    head = lines[1].split()
    assert head[:3] == ["design", "wire", "provider"]
    rows = [ln.split() for ln in lines[2:] if ln and not ln.startswith("FAIL(n)")]
    assert {r[2] for r in rows} == set(NAMES)
    for p in NAMES:
        mine = [r for r in rows if r[2] == p]
        # every named design, and turnproof-proposed on every wire the provider serves
        assert len([r for r in mine if not r[0].startswith("turnproof-proposed")]) == 7
        proposed = {r[1]: r[3:3 + 7] for r in mine if r[0].startswith("turnproof-proposed")}
        assert set(proposed) == set(PROVIDERS_BY_NAME[p].wires)
        assert all(v == ["ok"] * 7 for v in proposed.values()), (p, proposed)


def test_matrix_one_provider_json(capsys):
    code, out, _ = run(capsys, "matrix", "--provider", "mistral", "--calls", "2", "--faults", "none", "--json",
                       "--jobs", "1")
    doc = json.loads(out)
    assert doc["provider"] == "mistral"
    assert {r["provider"] for r in doc["rows"]} == {"mistral"} and {r["wire"] for r in doc["rows"]} == {"chat"}
    proposed = next(r for r in doc["rows"] if r["design"] == "turnproof-proposed")
    assert all(v["verdict"] == "holds" for v in proposed["properties"].values())


def test_default_matrix_rows_are_unchanged():
    from turnproof.checks import matrix_rows

    assert [(d, w) for d, w, _ in matrix_rows()] == [
        ("codex-0.77-chat", None), ("codex-0.77-responses", None), ("codex-0.78-chat", None),
        ("codex-0.122-responses", None), ("seed-fix-1", None), ("seed-fix-2", None), ("seed-fix-3", None),
        ("turnproof-proposed", None), ("turnproof-proposed", "responses"), ("turnproof-proposed", "anthropic")]
    assert {p for _, _, p in matrix_rows()} == {None}


def test_api_provider():
    c = turnproof_check("codex-0.122-responses", calls=2, faults="none", provider="deepseek")
    assert c.design.provider == "deepseek" and "wire-valid" in c.violated
    assert c.to_dict()["provider"] == "deepseek"
    assert turnproof_check("codex-0.122-responses", calls=2, faults="none").to_dict()["provider"] == "openai"
    with pytest.raises(ValueError, match="unknown provider 'x'; allowed: openai"):
        turnproof_check("turnproof-proposed", provider="x")
