"""LangChain's deepagents PatchToolCallsMiddleware, written as a turnproof repair hook on OpenAI chat
messages (LangChain's AIMessage / ToolMessage, in their wire form).

Follows langchain-ai/deepagents at commit d8b7d747dfd9, libs/deepagents/deepagents/middleware/
patch_tool_calls.py (`PatchToolCallsMiddleware.before_agent`), the LangGraph middleware that
"patches dangling tool calls in the messages history". Behaviour, in our words (no code copied):

  For every assistant message with tool_calls, each call for which no tool message with its id
  appears from that assistant message on gets a tool message placed right after the assistant
  message (after any it already placed there), saying the call was cancelled.

deepagents runs this once before each agent invocation and writes the result back into the graph's
state; as a hook it runs where Codex normalizes (every request, and resume) on a copy, which gives
it every chance to repair what the loop records.
"""

CANCELLED = ("Tool call {name} with id {id} was cancelled - another message came in before it could "
             "be completed.")  # the text the middleware writes


def patch(messages: list) -> list:
    out = []
    for i, message in enumerate(messages):
        out.append(message)
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            continue
        later_results = {m.get("tool_call_id") for m in messages[i:] if m.get("role") == "tool"}
        for call in message["tool_calls"]:
            if call["id"] not in later_results:
                name = call.get("function", {}).get("name", "")
                out.append({"role": "tool", "tool_call_id": call["id"], "name": name,
                            "content": CANCELLED.format(name=name, id=call["id"])})
    return out
