"""Every provider rule fires with its exact text, on the shape its source records; and
turnproof-proposed's requests are accepted by every provider."""

from __future__ import annotations

import pytest

from turnproof.model import items as I
from turnproof.model.designs import NAMED, on_provider
from turnproof.model.normalize import normalize
from turnproof.model.provider import NAMES, PROVIDERS_BY_NAME, judge, provider_for
from turnproof.model.wire import build_request

U, T, R = I.user(), I.text(), I.reasoning()
C, O = I.call, I.output


def a(content=None, calls=()):
    m = {"role": "assistant", "content": content}
    if calls:
        m["tool_calls"] = [{"id": c, "type": "function", "function": {"name": "f", "arguments": "{}"}} for c in calls]
    return m


def tool(cid):
    return {"role": "tool", "tool_call_id": cid, "content": "r"}


def user(text="u"):
    return {"role": "user", "content": text}


def fired(wire, body, provider):
    return [(r.rule, r.text) for r in judge(wire, body, provider)]


CASES = [
    # provider, wire, body, expected (rule, text) list
    ("openai", "chat", [user(), a(None, ["call_1", "call_2"]), tool("call_1"), user()],
     [("chat-missing-tool-response", "An assistant message with 'tool_calls' must be followed by tool messages "
       "responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_2")]),
    ("azure-openai", "chat", [user(), tool("call_9")],
     [("chat-orphan-tool", "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
       "message with 'tool_calls'.")]),
    ("deepseek", "chat", [user(), tool("call_9")],
     [("chat-orphan-tool", "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'")]),
    ("openai", "responses", [{"type": "custom_tool_call", "call_id": "c"}],
     [("responses-missing-custom-output", "No tool output found for custom tool call c.")]),
    ("openai", "responses", [{"type": "function_call_output", "call_id": "c", "output": "x"}],
     [("responses-orphan-output", "No tool call found for function call output with call_id c.")]),
    ("deepseek", "responses",  # the recorded 400 body, reduced to its items
     [{"role": "assistant", "content": "t"}, {"type": "function_call", "call_id": "call-a"},
      {"role": "assistant", "content": "t"}, {"type": "function_call", "call_id": "call-b"},
      {"type": "function_call_output", "call_id": "call-a"}, {"type": "function_call_output", "call_id": "call-b"}],
     [("deepseek-responses-missing-output", "No tool output found for tool call call-a.")]),
    ("mistral", "chat", [user(), a("I'll look", ["abcdefghi"]), tool("abcdefghi")],
     [("mistral-content-and-tool-calls", "Assistant message must have either content or tool_calls, but not both.")]),
    ("mistral", "chat", [user(), a(None, ["abcdefghi", "bcdefghij"]), tool("abcdefghi"), a("done")],
     [("mistral-count-mismatch", "Not the same number of function calls and responses")]),
    ("mistral", "chat", [user(), a(None, ["abcdefghi"]), tool("abcdefghi"), user()],
     [("mistral-role-order", "Unexpected role 'user' after role 'tool'")]),
    ("gpt-oss", "chat", [user(), a(None, ["c1"]), a("held text"), tool("c1")],
     [("gpt-oss-orphan-tool", "Message has tool role, but there was no previous assistant message with a tool call!")]),
    ("anthropic", "anthropic",
     [{"role": "user", "content": "x"},
      {"role": "assistant", "content": [{"type": "server_tool_use", "id": "srvtoolu_1"},
                                        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_2"}]}],
     [("anthropic-server-result-unexpected", "messages.1.content.1: unexpected `tool_use_id` found in "
       "`web_search_tool_result` blocks: srvtoolu_2. Each `web_search_tool_result` block must have a corresponding "
       "`server_tool_use` block before it.")]),
    ("bedrock", "bedrock",
     [{"role": "user", "content": [{"text": "x"}]},
      {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_a"}}, {"toolUse": {"toolUseId": "tooluse_b"}}]},
      {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_a"}}]}],
     [("bedrock-missing-result", "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_b")]),
]


@pytest.mark.parametrize("provider,wire,body,expected", CASES)
def test_rule_text(provider, wire, body, expected):
    assert fired(wire, body, provider) == expected


def test_every_rule_has_a_case_and_a_public_source():
    covered = {(p, r) for p, _, _, exp in CASES for r, _ in exp}
    for p in PROVIDERS_BY_NAME.values():
        for r in p.rules:
            assert r.source.startswith("https://") or r.source.startswith("not recorded"), (p.name, r.id)
            assert "shared/" not in r.source
    # rules shared verbatim with OpenAI are covered by OpenAI's cases; the rest each have their own
    own = {(p.name, r.id) for p in PROVIDERS_BY_NAME.values() for r in p.rules
           if not (p.name != "openai" and r.text in {x.text for x in PROVIDERS_BY_NAME["openai"].rules})}
    assert own - covered - {("anthropic", "anthropic-missing-result"), ("anthropic", "anthropic-results-not-first"),
                            ("anthropic", "anthropic-unexpected-result"), ("gemini", "gemini-count-mismatch"),
                            ("openai", "chat-orphan-tool"), ("openai", "responses-missing-output")} == set()


def test_stateful_responses_output_is_no_orphan():
    body = [{"type": "function_call_output", "call_id": "call_x", "output": "o"}]
    assert [r.rule for r in judge("responses", body, "openai")] == ["responses-orphan-output"]
    from turnproof.model.provider import judge_responses
    assert judge_responses(body, "openai", stateful=True) == []


def test_deepseek_accepts_what_its_cassette_accepted():
    ok = [{"role": "assistant", "content": "t"}, {"role": "assistant", "content": "t"},
          {"type": "function_call", "call_id": "call-a"}, {"type": "function_call", "call_id": "call-b"},
          {"type": "function_call_output", "call_id": "call-a"}, {"type": "function_call_output", "call_id": "call-b"},
          {"role": "user", "content": "Reply exactly: done"}]
    assert judge("responses", ok, "deepseek") == []
    assert judge("responses", ok, "openai") == []


def test_provider_wire_mismatch_is_an_error():
    with pytest.raises(ValueError, match="does not serve"):
        provider_for("responses", "mistral")
    with pytest.raises(ValueError, match="unknown provider"):
        provider_for("chat", "nope")


HISTORIES = [
    (U, C(1), C(2), C(3), O(1), O(2), O(3)),
    (U, R, C(1), T, O(1), U, T),
    (U, C(1), O(1), U, C(2), C(3), O(2), O(3)),  # no reply after results, then the user speaks
    (U, T, C(1), T, C(2), O(1), O(2)),
]


@pytest.mark.parametrize("provider", NAMES)
def test_proposed_builder_is_accepted_by_every_provider(provider):
    d = on_provider(NAMED["turnproof-proposed"], provider)
    for h in HISTORIES:
        items = normalize(h, d.normalization)
        body = build_request(items, d.wire, d.chat_grouping, provider)
        assert judge(d.wire, body, provider) == [], (provider, I.show_all(h), body)


def test_mistral_rejects_the_unsplit_proposed_grouping():
    """Why the proposed chat builder is provider-aware: one message per run carries text and calls."""
    items = normalize((U, C(1), T, O(1)), "ours")
    body = build_request(items, "chat", "response")
    assert [r.rule for r in judge("chat", body, "mistral")] == ["mistral-content-and-tool-calls"]
    assert judge("chat", body, "openai") == []


@pytest.mark.parametrize("provider", NAMES)
def test_proposed_design_holds_on_every_provider(provider):
    from dataclasses import replace
    from turnproof.checks import check_design
    from turnproof.model.turnloop import Params

    for wire in PROVIDERS_BY_NAME[provider].wires:
        d = on_provider(replace(NAMED["turnproof-proposed"], wire=wire), provider)
        _, result = check_design(d, Params(calls=2))
        assert not result.violations, (provider, wire, sorted(result.violations))


def test_codex_0122_responses_fails_on_deepseek_but_not_openai():
    from turnproof.checks import check_design
    from turnproof.model.turnloop import Params

    d = NAMED["codex-0.122-responses"]
    assert not check_design(d, Params(calls=2))[1].violations
    v = check_design(on_provider(d, "deepseek"), Params(calls=2))[1].violations
    assert "wire-valid" in v
