"""What a real run did to the session: requests rejected, results lost, and a readable form.

Two ways a session fails besides a rejected request (the provider's 400):
- results-kept: a real tool output that was in the rollout file before a request was sent is
  missing from that request (v0.77 retries with the prompt built before the first attempt);
- results-recorded: a shell command ran to the end while codex-cli was alive, yet its real output
  never reached the rollout file: the model is later told "aborted" for a command that ran.
"""

from __future__ import annotations

from datetime import datetime

from turnproof.model.provider import PROVIDERS

ABORTED_TEXTS = ("aborted",)


def _ts(line: dict) -> float | None:
    t = line.get("timestamp")
    if not isinstance(t, str):
        return None
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _output_text(p: dict) -> str:
    o = p.get("output")
    if isinstance(o, dict):
        o = o.get("content")
    if isinstance(o, list):
        o = " ".join(x.get("text", "") for x in o if isinstance(x, dict))
    return o if isinstance(o, str) else str(o)


def recorded_outputs(run) -> list:
    """[(call_id, text, timestamp)] for every tool output line in the run's rollout file."""
    out = []
    for ln in run.rollout_lines:
        p = ln.get("payload") if ln.get("type") == "response_item" else None
        if isinstance(p, dict) and p.get("type") in ("function_call_output", "custom_tool_call_output"):
            out.append((p.get("call_id"), _output_text(p), _ts(ln)))
    return out


def request_outputs(req: dict) -> dict:
    """call_id -> output text, for the results a request carries."""
    body = req["body"]
    out = {}
    if req["wire"] == "chat":
        for m in body.get("messages") or []:
            if m.get("role") == "tool":
                c = m.get("content")
                out[m.get("tool_call_id")] = c if isinstance(c, str) else str(c)
    else:
        for it in body.get("input") or []:
            if it.get("type") in ("function_call_output", "custom_tool_call_output"):
                out[it.get("call_id")] = _output_text(it)
    return out


def is_real(text: str) -> bool:
    return text.strip() not in ABORTED_TEXTS


def results_kept_broken(run) -> list:
    """[(request n, [call ids])]: real outputs on disk before the request, missing from it."""
    recs = [(cid, t) for cid, text, t in recorded_outputs(run) if is_real(text) and t is not None]
    out = []
    for req in run.model_requests:
        sent = request_outputs(req)
        lost = [cid for cid, t in recs if t < req["t"] - 0.05 and cid not in sent]
        if lost:
            out.append((req["n"], lost))
    return out


def results_not_recorded(run) -> list:
    """Calls whose command ran to the end while codex-cli was alive but whose real output is not in
    the rollout file (a SIGKILL is excused: the process is gone)."""
    if run.fault_fired and run.fault_fired.startswith("SIGKILL"):
        return []
    real = {cid for cid, text, _ in recorded_outputs(run) if is_real(text)}
    return [cid for cid in run.commands_finished if cid not in real]


def _text(c) -> str:
    if isinstance(c, list):
        return " ".join(x.get("text", "") for x in c if isinstance(x, dict))
    return c if isinstance(c, str) else ""


def is_context(m: dict) -> bool:
    """codex-cli's own instructions and context: system/developer messages, and user messages it
    writes itself (AGENTS.md instructions, <environment_context>, <user_instructions>, ...)."""
    role = m.get("role")
    if role in ("system", "developer"):
        return True
    if role == "user" and m.get("type", "message") == "message":
        t = _text(m.get("content")).lstrip()
        return t.startswith("<") or t.startswith("# AGENTS.md")
    return False


def shape(req: dict) -> list:
    """A request as short lines, the session's own part only (instructions and context left out)."""
    lines = []
    body = req["body"]
    if req["wire"] == "chat":
        for i, m in enumerate(body.get("messages") or []):
            if is_context(m):
                continue
            role, c = m.get("role"), m.get("content")
            if m.get("tool_calls"):
                ids = ", ".join(str(tc.get("id")) for tc in m["tool_calls"])
                extra = f" tool_calls=[{ids}]" + (f" + text {_short(c)}" if c else "")
            elif role == "tool":
                extra = f" {m.get('tool_call_id')}: {_short(c)}"
            else:
                extra = f" {_short(c)}"
            lines.append(f"[{i}] {role}{extra}")
    else:
        for i, it in enumerate(body.get("input") or []):
            if is_context(it):
                continue
            t = it.get("type")
            if t == "message":
                c = it.get("content")
                if isinstance(c, list):
                    c = " ".join(x.get("text", "") for x in c if isinstance(x, dict))
                lines.append(f"[{i}] message {it.get('role')} {_short(c)}")
            elif t in ("function_call_output", "custom_tool_call_output"):
                lines.append(f"[{i}] {t} {it.get('call_id')}: {_short(_output_text(it))}")
            else:
                lines.append(f"[{i}] {t} {it.get('call_id') or ''}".rstrip())
    return lines


def _short(c) -> str:
    if c is None:
        return "null"
    s = c if isinstance(c, str) else str(c)
    s = " ".join(s.split())
    return repr(s if len(s) <= 48 else s[:45] + "...")


def describe_request(req: dict, indent: str = "    ") -> list:
    out = [f"{indent}{ln}" for ln in shape(req)]
    if req["status"] == 400:
        r = req["rejections"][0]
        out.append(f"{indent[:-2]}{PROVIDERS[req['wire']]} answers HTTP 400:")
        out.append(f"{indent}{r['text']}")
        if r.get("param"):
            out.append(f"{indent}(param: {r['param']})")
    return out
