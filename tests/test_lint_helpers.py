"""Helpers for the lint tests: write a rollout from a short history like ``"U C1 C2 T O1 O2"``."""

from __future__ import annotations

import json
import os

from turnproof.cli import main

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lint")


def payload(tok: str) -> tuple[str, dict]:
    """U user, T text, R reasoning, Cx call, Kx custom call, Ox result, E event, X turn context, Z compacted."""
    k, rest = tok[0], tok[1:]
    if k == "U":
        return "response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    if k == "T":
        return "response_item", {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    if k == "R":
        return "response_item", {"type": "reasoning", "summary": []}
    if k == "C":
        return "response_item", {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": f"call_{rest}"}
    if k == "K":
        return "response_item", {"type": "custom_tool_call", "name": "apply_patch", "input": "x", "call_id": f"call_{rest}"}
    if k == "O":
        return "response_item", {"type": "function_call_output", "call_id": f"call_{rest}", "output": f"out {rest}"}
    if k == "E":
        return "event_msg", {"type": "token_count"}
    if k == "X":
        return "turn_context", {"cwd": "/repo"}
    if k == "Z":  # compaction: the history restarts here
        return "compacted", {"message": "summary of the session so far"}
    raise ValueError(tok)


def rollout_text(spec: str) -> str:
    out = [json.dumps({"timestamp": "2025-12-20T10:00:00.000Z", "type": "session_meta", "payload": {"id": "s"}})]
    for i, tok in enumerate(spec.split()):
        t, p = payload(tok)
        out.append(json.dumps({"timestamp": f"2025-12-20T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z", "type": t,
                               "payload": p}, separators=(",", ":")))
    return "\n".join(out) + "\n"


def write_rollout(dirpath, spec: str, name: str = "rollout.jsonl") -> str:
    p = os.path.join(str(dirpath), name)
    with open(p, "w") as f:
        f.write(rollout_text(spec))
    return p


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def lint_json(capsys, *argv) -> tuple[int, dict]:
    code, out, err = run(capsys, "lint", "--json", *argv)
    return code, json.loads(out)
