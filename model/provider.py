"""The providers' acceptance rules for tool calls and results, each with its exact error text and
the public source it was taken from.

A provider is a table of rules (``PROVIDERS_BY_NAME``): what it demands of a request's history,
the text it answers with when the request breaks the rule (typos included), and where that text
can be seen (a recorded cassette, an issue quoting the API's answer, the validator's source at a
commit). Providers on the same wire disagree: Mistral refuses an assistant message that carries
both text and tool calls, which OpenAI accepts; DeepSeek's /responses refuses calls interleaved
with assistant messages, which OpenAI's accepts; the gpt-oss chat template only checks that a
tool message follows an assistant message with tool calls, not which.

Each judge takes a request body's list (chat ``messages``, Responses ``input``, Anthropic
``messages``, Gemini ``contents``, Bedrock Converse ``messages``) as built by wire.py or read from
a real file by lint, and returns every rule broken, in message order; the provider answers with
the first. An empty list means the provider accepts the request as far as pairing goes.
docs/providers.md is generated from these tables (`turnproof providers -o docs/providers.md`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .items import CALL, EMPTY, OUTPUT, TEXT, USER

# ---- the rule texts ----------------------------------------------------------------------------
CHAT_MISSING = ("An assistant message with 'tool_calls' must be followed by tool messages responding "
                "to each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}")
CHAT_ORPHAN = ("Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
               "with 'tool_calls'.")
DEEPSEEK_CHAT_ORPHAN = "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'"
RESP_MISSING = "No tool output found for function call {id}."
RESP_MISSING_CUSTOM = "No tool output found for custom tool call {id}."
RESP_ORPHAN = "No tool call found for function call output with call_id {id}."
DEEPSEEK_RESP_MISSING = "No tool output found for tool call {id}."
ANT_MISSING = ("messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
               "{ids}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.")
ANT_NOT_FIRST = ("messages.{i}: Did not find {n} tool_result block(s) at the beginning of this message. "
                 "Messages following tool_use blocks must begin with a matching number of tool_result blocks.")
ANT_UNEXPECTED = ("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. "
                  "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")
ANT_SERVER_UNEXPECTED = ("messages.{i}.content.{j}: unexpected `tool_use_id` found in `{type}` blocks: {id}. "
                         "Each `{type}` block must have a corresponding `server_tool_use` block before it.")
GEMINI_COUNT = ("Please ensure that the number of function response parts is equal to the number of "
                "function call parts of the function call turn.")
BEDROCK_MISSING = "Expected toolResult blocks at messages.{i}.content for the following Ids: {ids}"
MISTRAL_BOTH = "Assistant message must have either content or tool_calls, but not both."
MISTRAL_COUNT = "Not the same number of function calls and responses"
MISTRAL_ORDER = "Unexpected role '{role}' after role '{prev}'"
GPT_OSS_ORPHAN = "Message has tool role, but there was no previous assistant message with a tool call!"


@dataclass(frozen=True)
class Rule:
    id: str  # stable, e.g. "chat-missing-tool-response"
    text: str  # the provider's answer, with {placeholders} for ids and indexes
    says: str  # the rule in words
    source: str  # where the text can be seen (public)


@dataclass(frozen=True)
class Provider:
    name: str  # what --provider takes
    title: str
    wires: tuple  # the wire APIs it serves, first the one it is judged on by default
    rules: tuple  # of Rule
    notes: str = ""

    def rule(self, rid: str) -> Rule:
        return next(r for r in self.rules if r.id == rid)


_CODEX_8479 = "https://github.com/openai/codex/issues/8479"
_MISTRAL_VALIDATOR = ("https://github.com/mistralai/mistral-common/blob/039465db2bdc0486df36365c9bdb428188482a18/"
                      "src/mistral_common/protocol/instruct/validator.py")
_DEEPSEEK_CASSETTE = ("https://github.com/pydantic/pydantic-ai/blob/4fda38988f2939fa6ea9cdefcf120693e10ef491/tests/"
                      "models/cassettes/test_deepseek_responses/"
                      "test_deepseek_responses_rejects_interleaved_function_calls.yaml")
_GPT_OSS_TEMPLATE = ("https://github.com/Raudbjorn/ggml-llama.cpp/blob/9f93224c43d208d0b3f5abe6a9652c504c9aca3c/"
                     "models/templates/openai-gpt-oss-120b.jinja (llama.cpp's copy of the template in the "
                     "openai/gpt-oss-120b model repository)")

_OPENAI_CHAT = (
    Rule("chat-missing-tool-response", CHAT_MISSING,
         "an assistant message with tool_calls is followed, before any other message, by a tool message "
         "for each of its ids", _CODEX_8479),
    Rule("chat-orphan-tool", CHAT_ORPHAN,
         "a tool message answers a call of the assistant message with tool_calls right before its run of "
         "tool messages, once", "https://github.com/miurla/morphic/issues/136 (param messages.[3].role)"),
)
_OPENAI_RESPONSES = (
    Rule("responses-missing-output", RESP_MISSING,
         "every function_call (and local_shell_call) in input has an output item with its call_id",
         "https://github.com/router-for-me/CLIProxyAPI/issues/2368 (param input)"),
    Rule("responses-missing-custom-output", RESP_MISSING_CUSTOM,
         "every custom_tool_call in input has a custom_tool_call_output with its call_id",
         "https://github.com/diegosouzapw/OmniRoute/issues/8946"),
    Rule("responses-orphan-output", RESP_ORPHAN,
         "every output item answers a call in input, or, when the request continues a stored response "
         "(previous_response_id) or a conversation, a call stored there",
         "https://github.com/microsoft/vscode/issues/320060 (param input)"),
)

PROVIDERS_BY_NAME: dict[str, Provider] = {p.name: p for p in (
    Provider("openai", "OpenAI", ("responses", "chat"), _OPENAI_CHAT + _OPENAI_RESPONSES,
             "Chat Completions and Responses. A Responses request with previous_response_id or conversation "
             "may send only outputs: their calls are stored server side (pydantic-ai's cassettes "
             "test_openai_previous_response_id_seed_auto_chains_through_retries and "
             "test_openai_conversation_id_tool_call_continuation record 200 for such bodies)."),
    Provider("azure-openai", "Azure OpenAI", ("responses", "chat"), (
        Rule("chat-missing-tool-response", CHAT_MISSING, _OPENAI_CHAT[0].says,
             "https://github.com/BloomLabsInc/genkit-plugins/issues/225 (same text as OpenAI)"),
        Rule("chat-orphan-tool", CHAT_ORPHAN, _OPENAI_CHAT[1].says,
             "https://github.com/Nikunj2003/LLaMa-MCP-Streamlit/issues/1 (Azure OpenAI, param messages.[2].role)"),
    ) + _OPENAI_RESPONSES, "Azure serves OpenAI's API and answers with OpenAI's texts; the Responses rules "
                           "are OpenAI's, not separately recorded for Azure."),
    Provider("deepseek", "DeepSeek", ("chat", "responses"), (
        Rule("chat-orphan-tool", DEEPSEEK_CHAT_ORPHAN, _OPENAI_CHAT[1].says,
             "https://github.com/FoundationAgents/OpenManus/issues/744 (the same wording, code "
             "invalid_request_error)"),
        Rule("chat-missing-tool-response", CHAT_MISSING, _OPENAI_CHAT[0].says,
             "not recorded for DeepSeek: OpenAI's text, as DeepSeek's API is OpenAI-compatible"),
        Rule("deepseek-responses-missing-output", DEEPSEEK_RESP_MISSING,
             "/responses turns input into chat messages: consecutive calls (reasoning between them allowed) "
             "are one assistant message, which the outputs of all of them must follow before any other "
             "message; a call split from its output by an assistant message has no output",
             _DEEPSEEK_CASSETTE + " (HTTP 400)"),
    ), "DeepSeek's /responses accepts [message, message, call-a, call-b, out-a, out-b] (pydantic-ai cassette "
       "test_deepseek_responses_replay_interleaved_settled_function_calls, HTTP 200) and rejects "
       "[message, call-a, message, call-b, out-a, out-b]. Orphan outputs on /responses: no recorded text."),
    Provider("mistral", "Mistral", ("chat",), (
        Rule("mistral-content-and-tool-calls", MISTRAL_BOTH,
             "an assistant message has text or tool_calls, not both and not neither",
             _MISTRAL_VALIDATOR + " `_validate_assistant_message`; https://github.com/github/copilot-cli/issues/4884 "
                                  "(HTTP 422 from api.mistral.ai)"),
        Rule("mistral-count-mismatch", MISTRAL_COUNT,
             "the tool messages after an assistant message with tool_calls are as many as its calls, counted "
             "when the next assistant message comes and at the end of the request",
             _MISTRAL_VALIDATOR + " `_validate_tool_calls_followed_by_tool_messages`"),
        Rule("mistral-role-order", MISTRAL_ORDER,
             "after a tool message only an assistant or tool message; after a user message no tool message",
             _MISTRAL_VALIDATOR + " `_validate_message_order`"),
    ), "Mistral's rules are mistral-common's MistralRequestValidator (serving mode); it pairs by count, not "
       "by id. Tool call ids must also be 9 alphanumerics: a provider's own ids are, so this is not judged."),
    Provider("gpt-oss", "gpt-oss chat template (OpenAI-compatible servers)", ("chat",), (
        Rule("gpt-oss-orphan-tool", GPT_OSS_ORPHAN,
             "a tool message comes after an assistant message with tool_calls, with no assistant message "
             "without tool_calls between them (ids are not compared, missing results are not checked)",
             _GPT_OSS_TEMPLATE + "; https://github.com/openai/codex/issues/8816 (Codex 0.79, chat wire)"),
    ), "The template served by vLLM, llama.cpp and others for gpt-oss models raises while rendering; the "
       "server answers HTTP 400 with the text."),
    Provider("anthropic", "Anthropic", ("anthropic",), (
        Rule("anthropic-missing-result", ANT_MISSING,
             "the message after an assistant message with tool_use blocks is a user message with a tool_result "
             "for each", "https://github.com/anthropics/claude-code/issues/5989"),
        Rule("anthropic-results-not-first", ANT_NOT_FIRST,
             "those tool_result blocks come first in the user message, before any text",
             "https://github.com/apify/tester-mcp-client/issues/12"),
        Rule("anthropic-unexpected-result", ANT_UNEXPECTED,
             "a tool_result answers a tool_use of the previous message",
             "https://github.com/anthropics/claude-code/issues/13460"),
        Rule("anthropic-server-result-unexpected", ANT_SERVER_UNEXPECTED,
             "a server tool's result block (web_search_tool_result, mcp_tool_result, ...) follows its "
             "server_tool_use / mcp_tool_use block in the same assistant message",
             "https://github.com/anthropics/claude-code/issues/64383"),
    ), "server_tool_use and mcp_tool_use blocks are run by Anthropic and answered inside the assistant "
       "message: they need no tool_result from the client."),
    Provider("bedrock", "AWS Bedrock Converse", ("bedrock",), (
        Rule("bedrock-missing-result", BEDROCK_MISSING,
             "the message after an assistant message with toolUse blocks is a user message with a toolResult "
             "for each", "https://github.com/agno-agi/agno/issues/6698 (ValidationException, HTTP 400)"),
    ), "Other pairing texts of Converse (results that exceed the calls) were not found in a public "
       "source; such results are reported by the pairing properties only."),
    Provider("gemini", "Google Gemini", ("gemini",), (
        Rule("gemini-count-mismatch", GEMINI_COUNT,
             "a model turn with N functionCall parts is followed by one turn with N functionResponse parts, "
             "and functionResponse parts follow only such a turn",
             "https://github.com/google-gemini/gemini-cli/issues/16415 (HTTP 400, INVALID_ARGUMENT); after a "
             "compression that removed the call: https://github.com/google-gemini/gemini-cli/issues/3814 and "
             "https://github.com/google-gemini/gemini-cli/pull/8691"),
    )),
)}
NAMES = tuple(PROVIDERS_BY_NAME)
DEFAULT_FOR_WIRE = {"chat": "openai", "responses": "openai", "anthropic": "anthropic", "gemini": "gemini",
                    "bedrock": "bedrock"}
# what each wire is called in reports (kept under its old name: report.py and lint print it)
PROVIDERS = {"chat": "OpenAI Chat Completions", "responses": "OpenAI Responses",
             "anthropic": "Anthropic Messages", "gemini": "Google Gemini", "bedrock": "AWS Bedrock Converse"}


def provider_for(wire: str, provider: str | None = None) -> Provider:
    """The provider judging ``wire``: ``provider`` when given (and "default" means the wire's own)."""
    name = DEFAULT_FOR_WIRE[wire] if provider in (None, "", "default") else provider
    try:
        p = PROVIDERS_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; allowed: {', '.join(NAMES)}") from None
    if wire not in p.wires:
        raise ValueError(f"provider {name} does not serve the {wire} wire (it serves {', '.join(p.wires)})")
    return p


@dataclass(frozen=True)
class Rejection:
    """One broken rule: what the provider would answer (HTTP 400)."""

    rule: str  # stable id, e.g. "chat-missing-tool-response"
    text: str  # the provider's error text with ids filled in
    index: int  # the message / input item it is about
    call_ids: tuple = ()
    param: str = ""  # the `param` field OpenAI reports, when known
    extra: dict = field(default_factory=dict, compare=False)


def _s(x: object) -> str:
    return x if isinstance(x, str) else str(x)


def _d(x: object) -> dict:
    return x if isinstance(x, dict) else {}


# ---- chat --------------------------------------------------------------------------------------
def _tool_call_ids(m: dict) -> list:
    calls = m.get("tool_calls") if m.get("role") == "assistant" else None
    if not calls or not isinstance(calls, list):
        return []
    return [_s(tc.get("id")) if isinstance(tc, dict) else "" for tc in calls]


def judge_chat(msgs: list, provider: str | None = None) -> list[Rejection]:
    p = provider_for("chat", provider)
    if p.name == "mistral":
        return _judge_mistral(msgs)
    if p.name == "gpt-oss":
        return _judge_gpt_oss(msgs)
    missing_t, orphan_t = p.rule("chat-missing-tool-response").text, p.rule("chat-orphan-tool").text
    out: list[Rejection] = []
    i, n = 0, len(msgs)
    while i < n:
        m = _d(msgs[i])
        ids = _tool_call_ids(m)
        if ids:
            answered: set = set()
            want = set(ids)
            j = i + 1
            while j < n and _d(msgs[j]).get("role") == "tool":
                tid = _s(msgs[j].get("tool_call_id"))
                if tid not in want or tid in answered:
                    out.append(Rejection("chat-orphan-tool", orphan_t, j, (tid,), f"messages.[{j}].role"))
                answered.add(tid)
                j += 1
            missing = [x for x in ids if x not in answered]
            if missing:
                out.append(Rejection("chat-missing-tool-response", missing_t.format(ids=", ".join(missing)),
                                     i, tuple(missing), f"messages.[{min(j, n - 1)}].role"))
            i = j
            continue
        if m.get("role") == "tool":
            out.append(Rejection("chat-orphan-tool", orphan_t, i, (_s(m.get("tool_call_id")),),
                                 f"messages.[{i}].role"))
        i += 1
    return out


def _judge_mistral(msgs: list) -> list[Rejection]:
    """mistral-common's validator, rule by rule (it pairs by count, so ids are only named for the reader)."""
    out: list[Rejection] = []
    roles = [_d(m).get("role") for m in msgs]
    allowed = {"system": {"user", "assistant", "system"}, "user": {"assistant", "system", "user"},
               "assistant": {"assistant", "user", "tool"}, "tool": {"assistant", "tool"}}
    for i in range(1, len(msgs)):
        prev, cur = roles[i - 1], roles[i]
        if prev in allowed and cur not in allowed[prev]:
            tid = _s(_d(msgs[i]).get("tool_call_id")) if cur == "tool" else None
            out.append(Rejection("mistral-role-order", MISTRAL_ORDER.format(role=cur, prev=prev), i,
                                 (tid,) if tid else ()))
    expected, opened, pending = 0, -1, []
    for i, m in enumerate(msgs):
        m = _d(m)
        if m.get("role") == "tool":
            expected -= 1
            if pending:
                pending.pop(0)
        elif m.get("role") == "assistant":
            if expected != 0 and opened >= 0:
                out.append(Rejection("mistral-count-mismatch", MISTRAL_COUNT, opened, tuple(pending)))
            calls = m.get("tool_calls")
            if isinstance(calls, list):
                expected, opened, pending = len(calls), i, _tool_call_ids(m)
            else:
                expected, opened, pending = 0, -1, []
    if expected != 0 and opened >= 0:
        out.append(Rejection("mistral-count-mismatch", MISTRAL_COUNT, opened, tuple(pending)))
    for i, m in enumerate(msgs):
        m = _d(m)
        if m.get("role") == "assistant" and bool(m.get("content")) and bool(m.get("tool_calls")):
            out.append(Rejection("mistral-content-and-tool-calls", MISTRAL_BOTH, i, tuple(_tool_call_ids(m))))
    out.sort(key=lambda r: r.index)
    return out


def _judge_gpt_oss(msgs: list) -> list[Rejection]:
    out: list[Rejection] = []
    last_call = False  # the template's last_tool_call.name is not none
    for i, m in enumerate(msgs):
        m = _d(m)
        role = m.get("role")
        if role == "assistant":
            if m.get("tool_calls"):
                last_call = True
            elif m.get("content") is not None:
                last_call = False  # a final assistant message resets it
        elif role == "tool" and not last_call:
            out.append(Rejection("gpt-oss-orphan-tool", GPT_OSS_ORPHAN, i, (_s(m.get("tool_call_id")),)))
    return out


# ---- responses ---------------------------------------------------------------------------------
CALL_TYPES = {"function_call": RESP_MISSING, "custom_tool_call": RESP_MISSING_CUSTOM,
              "local_shell_call": RESP_MISSING}
OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")


def judge_responses(items: list, provider: str | None = None, stateful: bool = False) -> list[Rejection]:
    """``stateful``: the request continues a stored response or conversation, whose calls outputs may answer."""
    p = provider_for("responses", provider)
    if p.name == "deepseek":
        return _judge_deepseek_responses(items)
    out: list[Rejection] = []
    calls: dict = {}
    outputs: set = set()
    for i, it in enumerate(items):
        it = _d(it)
        t = it.get("type")
        t = t if isinstance(t, str) else None  # a malformed type is no call and no output
        if t in CALL_TYPES and it.get("call_id") is not None:
            calls.setdefault(_s(it["call_id"]), (i, t))
        elif t in OUTPUT_TYPES and it.get("call_id") not in (None, ""):
            outputs.add(_s(it["call_id"]))
    for i, it in enumerate(items):
        it = _d(it)
        t = it.get("type")
        t = t if isinstance(t, str) else None
        cid = it.get("call_id")
        if t in CALL_TYPES and cid is not None and _s(cid) not in outputs:
            rid = "responses-missing-custom-output" if t == "custom_tool_call" else "responses-missing-output"
            out.append(Rejection(rid, CALL_TYPES[t].format(id=_s(cid)), i, (_s(cid),), "input"))
        elif t in OUTPUT_TYPES and cid not in (None, "") and _s(cid) not in calls and not stateful:
            out.append(Rejection("responses-orphan-output", RESP_ORPHAN.format(id=_s(cid)), i, (_s(cid),), "input"))
    return out


def responses_items_accepted(items: tuple) -> bool:
    """Whether ``judge_responses`` (OpenAI's rules, not stateful) finds nothing wrong with the body
    wire.build_responses makes of the history ``items`` (model/items.py) whose call ids are all
    ints: that body has one function_call per call and one function_call_output per result, each
    with wire_id(call id) as its call_id (never empty, and distinct ints give distinct ids), so it
    is accepted exactly when the calls' ids and the results' ids are the same set. The search asks
    this of every request first and builds and judges the body only when it answers False (to
    report the rejections in the provider's words); a test compares the two on every request of
    the Responses designs' searches. False when an id is not an int (a hook's items): then the
    body is judged."""
    calls: set = set()
    outs: set = set()
    for it in items:
        kind = it[0]
        if kind == CALL or kind == OUTPUT:
            cid = it[1]
            if type(cid) is not int:
                return False
            (calls if kind == CALL else outs).add(cid)
    return calls == outs


_NO_RUN = object()


def chat_items_accepted(items: tuple, grouping: str) -> bool:
    """Whether ``judge_chat`` with OpenAI's rules (OpenAI, Azure, DeepSeek: not Mistral's or
    gpt-oss's) finds nothing wrong with the messages wire.build_chat makes of the history ``items``
    with ``grouping``, whose call ids are all ints. The same walk as build_chat, on bare lists
    instead of message dicts (an assistant message as [content is None, its call ids or None], a
    tool message as its call id, anything else as None), then judge_chat's rule: each assistant
    message with tool calls is followed by a run of tool messages answering each of its ids once
    and nothing else, and no other tool message. The search asks this first and builds and judges
    the body only when it answers False; tests compare the two on random histories and on every
    request of the chat designs' searches. False when an id is not an int (a hook's items)."""
    msgs: list = [None]  # the system message
    last_run: Any = _NO_RUN  # grouping=response: the assistant message of the current run
    last_text = None  # per-call / consecutive: the last assistant text emitted
    response, consecutive = grouping == "response", grouping == "consecutive"
    for it in items:
        kind = it[0]
        if kind == CALL:
            cid = it[1]
            if type(cid) is not int:
                return False
            prev = msgs[-1]
            if response and last_run is prev:
                if prev[1] is None:
                    prev[1] = []
                prev[1].append(cid)
                continue
            if consecutive and type(prev) is list and prev[0] and prev[1] is not None:
                prev[1].append(cid)
                continue
            last_run = [True, [cid]]
            msgs.append(last_run)
        elif kind == TEXT:
            prev = msgs[-1]
            if response and last_run is prev:
                prev[0] = False
                continue
            key = it[2] if it[2] == EMPTY else object()  # every text but an empty one is new
            if not response:
                if key == last_text:
                    continue  # chat.rs skips an assistant text equal to the last one
                last_text = key
            last_run = [False, None]
            msgs.append(last_run)
        elif kind == OUTPUT:
            cid = it[1]
            if type(cid) is not int:
                return False
            msgs.append(cid)
            last_run = _NO_RUN
        elif kind == USER:
            msgs.append(None)
            last_run = _NO_RUN
    i, n = 0, len(msgs)
    while i < n:
        m = msgs[i]
        if type(m) is list and m[1]:
            want = set(m[1])
            answered: set = set()
            j = i + 1
            while j < n and type(msgs[j]) is int:
                if msgs[j] not in want or msgs[j] in answered:
                    return False  # chat-orphan-tool
                answered.add(msgs[j])
                j += 1
            if len(answered) < len(want):
                return False  # chat-missing-tool-response
            i = j
            continue
        if type(m) is int:
            return False  # a tool message after no assistant message with tool calls
        i += 1
    return True


def _judge_deepseek_responses(items: list) -> list[Rejection]:
    out: list[Rejection] = []
    i, n = 0, len(items)
    while i < n:
        t = _d(items[i]).get("type")
        if t in CALL_TYPES:
            group: list = []
            j = i
            while j < n and _d(items[j]).get("type") in tuple(CALL_TYPES) + ("reasoning",):
                if _d(items[j]).get("type") in CALL_TYPES:
                    group.append((j, _s(_d(items[j]).get("call_id"))))
                j += 1
            answered = set()
            while j < n and _d(items[j]).get("type") in OUTPUT_TYPES:
                answered.add(_s(_d(items[j]).get("call_id")))
                j += 1
            for k, cid in group:
                if cid not in answered:
                    out.append(Rejection("deepseek-responses-missing-output", DEEPSEEK_RESP_MISSING.format(id=cid),
                                         k, (cid,), "input"))
            i = j
            continue
        i += 1
    return out


# ---- anthropic ---------------------------------------------------------------------------------
def _blocks(m: dict) -> list:
    c = m.get("content")
    if isinstance(c, list):
        return [b if isinstance(b, dict) else {} for b in c]
    return [{"type": "text", "text": c}] if isinstance(c, str) else []


SERVER_CALL_TYPES = ("server_tool_use", "mcp_tool_use")


def is_server_result(t: object) -> bool:
    """web_search_tool_result, mcp_tool_result, code_execution_tool_result, ...: answered by Anthropic."""
    return isinstance(t, str) and t.endswith("_tool_result") and t != "tool_result"


def judge_anthropic(msgs: list, provider: str | None = None) -> list[Rejection]:
    provider_for("anthropic", provider)
    out: list[Rejection] = []
    prev_uses: list = []
    for i, m in enumerate(msgs):
        m = _d(m)
        blocks = _blocks(m)
        results = [(j, _s(b.get("tool_use_id"))) for j, b in enumerate(blocks) if b.get("type") == "tool_result"]
        if prev_uses:
            lead = 0
            while lead < len(blocks) and blocks[lead].get("type") == "tool_result":
                lead += 1
            got = {rid for _, rid in results} if m.get("role") == "user" else set()
            missing = [u for u in prev_uses if u not in got]
            if missing:
                out.append(Rejection("anthropic-missing-result",
                                     ANT_MISSING.format(i=i - 1, ids=", ".join(missing)), i - 1, tuple(missing)))
            elif lead < len(prev_uses):
                out.append(Rejection("anthropic-results-not-first", ANT_NOT_FIRST.format(i=i, n=len(prev_uses)),
                                     i, tuple(prev_uses)))
        prev_set = set(prev_uses)  # membership in the list would be quadratic in a large parallel group
        for j, rid in results:  # a second result for one call has no recorded text: the properties report it
            if rid not in prev_set:
                out.append(Rejection("anthropic-unexpected-result", ANT_UNEXPECTED.format(i=i, j=j, id=rid),
                                     i, (rid,)))
        server: set = set()
        for j, b in enumerate(blocks):
            t = b.get("type")
            if t in SERVER_CALL_TYPES:
                server.add(_s(b.get("id")))
            elif is_server_result(t) and _s(b.get("tool_use_id")) not in server:
                rid = _s(b.get("tool_use_id"))
                out.append(Rejection("anthropic-server-result-unexpected",
                                     ANT_SERVER_UNEXPECTED.format(i=i, j=j, type=t, id=rid), i, (rid,)))
        prev_uses = ([_s(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
                     if m.get("role") == "assistant" else [])
    if prev_uses:  # the request ends on tool_use blocks: nothing answers them
        i = len(msgs) - 1
        out.append(Rejection("anthropic-missing-result", ANT_MISSING.format(i=i, ids=", ".join(prev_uses)),
                             i, tuple(prev_uses)))
    return out


# ---- gemini and bedrock ------------------------------------------------------------------------
def _parts(c: object, key: str) -> list:
    c = _d(c)
    return c.get(key) if isinstance(c.get(key), list) else []


def judge_gemini(contents: list, provider: str | None = None) -> list[Rejection]:
    provider_for("gemini", provider)
    out: list[Rejection] = []
    for i, c in enumerate(contents):
        ncalls = sum(1 for p in _parts(c, "parts") if isinstance(p, dict) and "functionCall" in p)
        if ncalls and _d(c).get("role") == "model":
            nxt = contents[i + 1] if i + 1 < len(contents) else {}
            nresp = sum(1 for p in _parts(nxt, "parts") if isinstance(p, dict) and "functionResponse" in p)
            if nresp != ncalls:
                calls = [_s(_d(p.get("functionCall")).get("id") or _d(p.get("functionCall")).get("name"))
                         for p in _parts(c, "parts") if isinstance(p, dict) and "functionCall" in p]
                got = [_s(_d(p.get("functionResponse")).get("id") or _d(p.get("functionResponse")).get("name"))
                       for p in _parts(nxt, "parts") if isinstance(p, dict) and "functionResponse" in p]
                for g in got:  # a multiset difference: two calls of one name need two responses
                    if g in calls:
                        calls.remove(g)
                out.append(Rejection("gemini-count-mismatch", GEMINI_COUNT, i, tuple(calls)))
        elif _d(c).get("role") == "user":  # responses after a turn with no calls: counts 0 and n differ
            prev = contents[i - 1] if i > 0 else {}
            got = [_s(_d(p.get("functionResponse")).get("id") or _d(p.get("functionResponse")).get("name"))
                   for p in _parts(c, "parts") if isinstance(p, dict) and "functionResponse" in p]
            if got and not (_d(prev).get("role") == "model"
                            and any(isinstance(p, dict) and "functionCall" in p for p in _parts(prev, "parts"))):
                out.append(Rejection("gemini-count-mismatch", GEMINI_COUNT, i, tuple(got)))
    return out


def judge_bedrock(msgs: list, provider: str | None = None) -> list[Rejection]:
    provider_for("bedrock", provider)
    out: list[Rejection] = []
    for i, m in enumerate(msgs):
        if _d(m).get("role") != "assistant":
            continue
        uses = [_s(_d(b.get("toolUse")).get("toolUseId")) for b in _parts(m, "content")
                if isinstance(b, dict) and "toolUse" in b]
        if not uses:
            continue
        nxt = msgs[i + 1] if i + 1 < len(msgs) else {}
        got = ({_s(_d(b.get("toolResult")).get("toolUseId")) for b in _parts(nxt, "content")
                if isinstance(b, dict) and "toolResult" in b} if _d(nxt).get("role") == "user" else set())
        missing = [u for u in uses if u not in got]
        if missing:
            out.append(Rejection("bedrock-missing-result", BEDROCK_MISSING.format(i=i + 1, ids=", ".join(missing)),
                                 i, tuple(missing)))
    return out


JUDGES = {"chat": judge_chat, "responses": judge_responses, "anthropic": judge_anthropic,
          "gemini": judge_gemini, "bedrock": judge_bedrock}


def judge(wire: str, body: list, provider: str | None = None) -> list[Rejection]:
    """Every rule ``body`` breaks on ``wire`` for ``provider`` (default: the wire's own); it answers with the first."""
    return JUDGES[wire](body, provider)
