"""The provider judges: each rule fires with the provider's exact text, and valid requests pass."""

from turnproof.model import items as I
from turnproof.model.normalize import normalize
from turnproof.model.provider import judge, judge_anthropic, judge_chat, judge_gemini, judge_responses
from turnproof.model.wire import build_request

U, T = I.user(), I.text()
C = I.call
O = I.output
BATCH3 = (U, C(1), C(2), C(3), O(1), O(2), O(3))


def texts(rs):
    return [r.text for r in rs]


def test_chat_per_call_rejects_8479_shape_with_first_id():
    rs = judge("chat", build_request(BATCH3, "chat", "per-call"))
    assert rs[0].rule == "chat-missing-tool-response"
    assert rs[0].text == ("An assistant message with 'tool_calls' must be followed by tool messages responding "
                          "to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_1")
    assert rs[0].param == "messages.[3].role"


def test_grouped_batch_accepted_everywhere():
    for wire, grouping in (("chat", "consecutive"), ("chat", "response"), ("responses", ""), ("anthropic", "")):
        assert judge(wire, build_request(BATCH3, wire, grouping)) == [], wire


def test_chat_orphan_tool_message():
    msgs = [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_9", "content": "r"}]
    assert texts(judge_chat(msgs)) == ["Invalid parameter: messages with role 'tool' must be a response to a "
                                       "preceeding message with 'tool_calls'."]


def test_responses_missing_and_orphan():
    body = build_request((U, C(1), O(2)), "responses")
    assert texts(judge_responses(body)) == ["No tool output found for function call call_1.",
                                            "No tool call found for function call output with call_id call_2."]
    assert texts(judge_responses([{"type": "custom_tool_call", "call_id": "c"}])) == [
        "No tool output found for custom tool call c."]


def test_anthropic_rules():
    split = normalize((U, C(1), C(2), C(3), O(1), O(3)), "codex")  # [.., C2, O2', C3, O1, O3]
    rs = judge("anthropic", build_request(split, "anthropic"))
    assert rs[0].text.startswith("messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
                                 "after: toolu_1. Each `tool_use` block")
    assert any(r.rule == "anthropic-unexpected-result" for r in rs)
    not_first = [{"role": "user", "content": "go"},
                 {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1"}]},
                 {"role": "user", "content": [{"type": "text", "text": "hi"},
                                              {"type": "tool_result", "tool_use_id": "toolu_1"}]}]
    assert texts(judge_anthropic(not_first)) == [
        "messages.2: Did not find 1 tool_result block(s) at the beginning of this message. Messages following "
        "tool_use blocks must begin with a matching number of tool_result blocks."]


def test_anthropic_trailing_tool_use_is_unanswered():
    rs = judge("anthropic", build_request((U, C(1)), "anthropic"))
    assert [r.rule for r in rs] == ["anthropic-missing-result"]


def test_gemini_count():
    contents = [{"role": "model", "parts": [{"functionCall": {}}, {"functionCall": {}}]},
                {"role": "user", "parts": [{"functionResponse": {}}]}]
    assert [r.rule for r in judge_gemini(contents)] == ["gemini-count-mismatch"]
    contents[1]["parts"].append({"functionResponse": {}})
    assert judge_gemini(contents) == []


def test_judges_survive_malformed_bodies():
    """Lint hands real files to the judges: odd types are no calls, never a crash."""
    judge_responses([{"type": ["function_call"], "call_id": "x"}, {"type": {"a": 1}}, 3, None])
    judge_chat([{"role": "assistant", "tool_calls": 7}, {"role": "assistant", "tool_calls": "abc"}, "x"])
    judge_anthropic([{"role": "assistant", "content": [1, "x", {"type": "tool_use"}]}, None])
    judge_gemini([{"role": "model", "parts": "x"}, 5])


def test_chat_builder_skips_a_repeated_empty_text_only():
    # requests/chat.rs :175-182 skips an assistant text equal to the last one emitted; the model's
    # texts all differ except empty ones
    E = I.text(I.EMPTY)
    hist = (U, C(1), E, O(1), U, C(2), E, O(2))
    for grouping in ("per-call", "consecutive"):
        msgs = build_request(hist, "chat", grouping)
        assert [m.get("content") for m in msgs if m["role"] == "assistant"] == [None, "", None], grouping
        # the first empty message splits call_1 from its result; the repeated one is skipped
        assert [r.call_ids for r in judge_chat(msgs)] == [("call_1",), ("call_1",)]
    msgs = build_request((U, T, O(1), T), "chat", "consecutive")
    assert [m["content"] for m in msgs if m["role"] == "assistant"] == ["assistant text", "assistant text"]
    msgs = build_request(hist, "chat", "response")  # ours: the empty text is the run's content
    assert judge_chat(msgs) == []


def test_reference_chat_builder_skips_a_repeated_text():
    from turnproof.reference import items as RI
    from turnproof.reference.wire import build_chat
    hist = [RI.user("go"), RI.assistant("same"), RI.call("c1"), RI.output("c1", "ok"), RI.assistant("same"),
            RI.assistant("other")]
    assert [m["content"] for m in build_chat(hist, "consecutive") if m["role"] == "assistant"] == \
        ["same", None, "other"]
    assert [m["content"] for m in build_chat(hist, "response") if m["role"] == "assistant"] == \
        ["same", "same\nother"]  # ours skips nothing
