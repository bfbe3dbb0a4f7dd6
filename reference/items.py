"""History items in Codex's own shape: the `ResponseItem` payloads a rollout file stores.

The loop keeps history as a list of these dicts, exactly as they appear in `response_item` lines,
so memory, the file and the request builders all read one format. The texts of made-up outputs
say where they came from, which is how a reader (or a test) tells a real result from a filler.
"""

from __future__ import annotations

import json

ABORTED = "aborted"  # normalize.rs ensure_call_outputs_present: filler for a call with no output
SYNTHETIC = "aborted (synthetic: no result was recorded)"  # turnproof-proposed's recorded filler
USER_ABORT_SUFFIX = "aborted by user"  # tools/parallel.rs: "Wall time: X seconds\naborted by user"
# v0.122 tasks/mod.rs records a user message between these tags when a turn is interrupted (our text)
TURN_ABORTED_OPEN = "<turn_aborted>"
TURN_ABORTED_MARKER = f"{TURN_ABORTED_OPEN}\nThe previous turn was interrupted by the user.\n</turn_aborted>"

CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call")
OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def reasoning(text: str) -> dict:
    return {"type": "reasoning", "summary": [{"type": "summary_text", "text": text}], "content": None,
            "encrypted_content": None}


def call(call_id: str, name: str = "shell", arguments: dict | None = None) -> dict:
    return {"type": "function_call", "name": name, "arguments": json.dumps(arguments or {}), "call_id": call_id}


def output(call_id: str, text: str) -> dict:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def is_call(it: dict) -> bool:
    return it.get("type") in CALL_TYPES


def is_output(it: dict) -> bool:
    return it.get("type") in OUTPUT_TYPES


def is_assistant_side(it: dict) -> bool:
    """Reasoning, assistant text and calls: what one model response contributes."""
    t = it.get("type")
    return t == "reasoning" or t in CALL_TYPES or (t == "message" and it.get("role") == "assistant")


def text_of(it: dict) -> str:
    if is_output(it):
        out = it.get("output")
        return out if isinstance(out, str) else json.dumps(out)
    c = it.get("content")
    if isinstance(c, list):
        return "".join(b.get("text", "") for b in c if isinstance(b, dict))
    return c if isinstance(c, str) else ""


def is_made_up(it: dict) -> bool:
    return is_output(it) and text_of(it) in (ABORTED, SYNTHETIC)
