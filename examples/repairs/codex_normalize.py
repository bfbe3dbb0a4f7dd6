"""Codex's history normalization, written as a turnproof repair hook on Responses input items.

Follows openai/codex at rust-v0.78.0 (commit 59c8b434777a, read in the weiyangzen/codex mirror):
codex-rs/core/src/context_manager/normalize.rs, `ensure_call_outputs_present` (lines 9-95) and then
`remove_orphan_outputs` (lines 97-147), which `ContextManager::normalize_history`
(codex-rs/core/src/context_manager/history.rs lines 210-216) runs on every prompt
(`get_history_for_prompt`, line 74) and on resume. Codex keeps its history as Responses items on
every wire, so this hook takes `shape = "responses"` whatever the design's wire.

What it does (behaviour, in our words; no code is taken from Codex):
1. Every call with no output *anywhere* in the history gets the output "aborted", placed right
   after the call (index call+1). A function call or a local shell call is answered by a
   function_call_output, a custom tool call by a custom_tool_call_output.
2. Then every output whose call id matches no call of its kind anywhere is removed.
Neither step looks at what lies between a call and its output, which is how a partial set of
results ([C1,C2,C3,O1,O3]) becomes [C1,C2,O2("aborted"),C3,O1,O3] and splits a chat call group.
The prompt is built from a normalized clone of the history (codex.rs line 2303,
`sess.clone_history().await.get_history_for_prompt()`). A missing output of a custom tool or local
shell call, and an orphan output, go through `error_or_panic` (codex-rs/core/src/util.rs): a debug
build panics, a release build logs and goes on; this is the release build.
"""

# which output type answers each call type
ANSWERED_BY = {"function_call": "function_call_output", "local_shell_call": "function_call_output",
               "custom_tool_call": "custom_tool_call_output"}
OUTPUT_TYPES = set(ANSWERED_BY.values())


def normalize(history: list) -> list:
    have_output = {(item["type"], item["call_id"]) for item in history if item.get("type") in OUTPUT_TYPES}
    with_outputs = []
    for item in history:
        with_outputs.append(item)
        answer = ANSWERED_BY.get(item.get("type"))
        if answer is None or item.get("call_id") is None:
            continue
        if (answer, item["call_id"]) not in have_output:
            with_outputs.append({"type": answer, "call_id": item["call_id"], "output": "aborted"})
    calls = {(ANSWERED_BY[item["type"]], item["call_id"]) for item in with_outputs
             if item.get("type") in ANSWERED_BY and item.get("call_id") is not None}
    return [item for item in with_outputs
            if item.get("type") not in OUTPUT_TYPES or (item["type"], item["call_id"]) in calls]
