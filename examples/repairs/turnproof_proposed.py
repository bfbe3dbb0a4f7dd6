"""turnproof-proposed's repair (model/normalize.py, mode `ours`; also `turnproof repair`), written
again as a repair hook on Responses input items, from its description rather than its code.

Pair by position:
1. An output answers the oldest earlier call with its id that has no answer yet. An output with no
   earlier call is an orphan, one for a call already answered a duplicate: both are dropped.
2. Every run of assistant items (reasoning, assistant messages, calls with nothing else between
   them) that holds calls is followed directly by the outputs of those calls: the ones already
   right after the run keep their order, outputs recorded further away move up (in call order),
   and a call with no output gets "aborted (synthetic: no result was recorded)" at the end of the
   group, in call order. Nothing else moves; no user or assistant item is dropped.
The result is a fixed point: repairing it again changes nothing.
"""

CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call")
OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")
SYNTHETIC = "aborted (synthetic: no result was recorded)"


def _assistant_side(item: dict) -> bool:
    t = item.get("type", "message")
    return t in CALL_TYPES or t == "reasoning" or (t == "message" and item.get("role") == "assistant")


def repair(history: list) -> list:
    # 1. which output answers which call (by index)
    open_calls: dict = {}  # call id -> indexes of unanswered earlier calls, oldest first
    answers: dict = {}  # call index -> output index
    for i, item in enumerate(history):
        t = item.get("type")
        if t in CALL_TYPES:
            open_calls.setdefault(item["call_id"], []).append(i)
        elif t in OUTPUT_TYPES and open_calls.get(item["call_id"]):
            answers[open_calls[item["call_id"]].pop(0)] = i
    answering = {o: c for c, o in answers.items()}
    # 2. rebuild: each call group directly followed by its outputs
    out = []
    i, n = 0, len(history)
    while i < n:
        item = history[i]
        if item.get("type") in OUTPUT_TYPES:
            i += 1  # placed with its group, or dropped
            continue
        if not _assistant_side(item):
            out.append(item)
            i += 1
            continue
        j = i
        while j < n and _assistant_side(history[j]):
            j += 1
        run = list(range(i, j))
        out.extend(history[k] for k in run)
        group = [k for k in run if history[k].get("type") in CALL_TYPES]
        if group:
            placed = []
            k = j
            while k < n and history[k].get("type") in OUTPUT_TYPES:
                if answering.get(k) in group:
                    placed.append(answering[k])
                    out.append(history[k])
                k += 1
            for c in group:
                if c in answers and c not in placed:
                    out.append(history[answers[c]])
                    placed.append(c)
            for c in group:
                if c not in placed:
                    kind = "custom_tool_call_output" if history[c]["type"] == "custom_tool_call" \
                        else "function_call_output"
                    out.append({"type": kind, "call_id": history[c]["call_id"], "output": SYNTHETIC})
        i = j
    return out
