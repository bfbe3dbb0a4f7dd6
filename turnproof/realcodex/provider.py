"""A scripted model provider on loopback, for the real codex-cli binary.

It speaks the two OpenAI streaming protocols codex-cli uses: Chat Completions (`POST
.../chat/completions`: `chat.completion.chunk` SSE events, `finish_reason`, `data: [DONE]`) and
Responses (`POST .../responses`: `response.created`, `response.output_item.done`,
`response.completed`, `response.failed`), over HTTP/1.1 with chunked bodies as the real APIs send
them, so that a connection dropped mid-body is a transport error and not a clean end.

Every request body is recorded and judged with the model's provider rules
(turnproof.model.provider). A request the provider would reject gets HTTP 400 with OpenAI's error
envelope and the rule's exact text; an accepted one is answered with the next reply of the script.
A reply lists what the model "says" in stream order (calls, text, reasoning) and how the stream
ends (completed, a dropped connection, a clean end without the completion event, an error event,
HTTP 500, or holding the stream open). Calls carry a shell command built from a duration, an
output and an exit code; each command touches a marker file when it finishes, so a reply can hold
its stream open until its commands have run (what "the stream fails after the tools finished"
needs) and the runner can tell which commands really ran.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from turnproof.model.provider import PROVIDERS, judge

ENDS = ("complete", "close", "eof", "error", "http500", "hang")


@dataclass
class Call:
    """A tool call the scripted model makes: a shell command that sleeps, prints and exits."""

    id: str
    seconds: float = 0.0
    exit: int = 0
    output: str = ""  # what the command prints (default: "output of ID")
    # "function": an ordinary call; "custom": a Responses custom_tool_call to a function tool,
    # which codex-cli's tool registry refuses with a fatal error ("incompatible payload"): the
    # tool future fails and the call gets no output (the model's ToolFail).
    kind: str = "function"
    type: str = "call"


@dataclass
class Text:
    text: str = "Working on it."
    type: str = "text"


@dataclass
class Reasoning:
    text: str = "Thinking about the task."
    type: str = "reasoning"


@dataclass
class Reply:
    """One streamed response: items in stream order, then how the stream ends.

    end: complete (finish_reason + [DONE] / response.completed), close (the connection drops
    mid-body), eof (the body ends cleanly without the completion event), error (chat: an error
    chunk; Responses: response.failed), http500 (no stream at all), hang (the stream stays open
    until the client goes away).
    """

    items: list = field(default_factory=list)
    end: str = "complete"
    wait_tools: bool = False  # before ending, wait until this reply's commands have finished
    wait_seconds: float = 0.0  # then wait this long (lets codex-cli record what the tools returned)

    def __post_init__(self) -> None:
        if self.end not in ENDS:
            raise ValueError(f"unknown end {self.end!r}; allowed: {', '.join(ENDS)}")


DONE_REPLY = Reply([Text("Done.")])


def reply_to_json(r: Reply) -> dict:
    return asdict(r)


def reply_from_json(d: dict) -> Reply:
    kinds = {"call": Call, "text": Text, "reasoning": Reasoning}
    items = [kinds[it["type"]](**it) for it in d.get("items", [])]
    return Reply(items, d.get("end", "complete"), d.get("wait_tools", False), d.get("wait_seconds", 0.0))


def error_body(rej) -> dict:
    """OpenAI's error envelope for a 400 (the same on both wires)."""
    return {"error": {"message": rej.text, "type": "invalid_request_error",
                      "param": rej.param or None, "code": None}}


def wire_of(path: str) -> str | None:
    p = path.split("?")[0].rstrip("/")
    if p.endswith("/chat/completions"):
        return "chat"
    if p.endswith("/responses"):
        return "responses"
    return None


def _tool_names(body: dict, wire: str) -> list:
    out = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        out.append(t.get("function", {}).get("name") if wire == "chat" else t.get("name"))
    return [n for n in out if n]


class ScriptedProvider:
    """Start with ``start()`` (ephemeral port on 127.0.0.1), stop with ``stop()``."""

    def __init__(self, script: list, marker_dir: str, *, log=None):
        self.script = list(script)
        self.marker_dir = marker_dir
        self.requests: list = []  # every request: dict(n, path, wire, body, rejections, status, reply)
        self.next_reply = 0
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.log = log or (lambda msg: None)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tool_choice: str | None = None  # the shell tool the binary offers

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        provider = self

        class Handler(_Handler):
            prov = provider

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- what the runner watches ---------------------------------------------------------------
    def wait_requests(self, n: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.requests) >= n, timeout)

    def marker(self, call_id: str) -> str:
        return os.path.join(self.marker_dir, call_id)

    def finished_commands(self) -> list:
        try:
            return sorted(os.listdir(self.marker_dir))
        except OSError:
            return []

    # ---- building replies ----------------------------------------------------------------------
    def command(self, c: Call) -> str:
        out = c.output or f"output of {c.id}"
        parts = []
        if c.seconds:
            parts.append(f"sleep {c.seconds:g}")
        parts.append(f"echo {shlex.quote(out)}")
        parts.append(f": > {shlex.quote(self.marker(c.id))}")
        if c.exit:
            parts.append(f"exit {int(c.exit)}")
        return "; ".join(parts)

    def arguments(self, c: Call, tools: list) -> tuple:
        """(tool name, JSON arguments) for the shell tool the binary offers."""
        cmd = self.command(c)
        for name in ("shell", "shell_command", "exec_command"):
            if name in tools or not tools:
                break
        else:
            name = "shell"
        self.tool_choice = name
        if name == "shell":
            args = {"command": ["bash", "-lc", cmd], "timeout_ms": 120000}
        elif name == "shell_command":
            args = {"command": cmd, "timeout_ms": 120000}
        else:
            args = {"cmd": cmd, "yield_time_ms": 120000}
        return name, json.dumps(args)

    def take_reply(self) -> tuple:
        with self.cond:
            k = self.next_reply
            self.next_reply += 1
        return k, (self.script[k] if k < len(self.script) else DONE_REPLY)

    def wait_for_tools(self, reply: Reply, timeout: float = 60.0) -> None:
        ids = [it.id for it in reply.items if isinstance(it, Call)]
        t_end = time.monotonic() + timeout
        while not self.stopping.is_set() and time.monotonic() < t_end:
            if all(os.path.exists(self.marker(i)) for i in ids):
                return
            time.sleep(0.02)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    prov: ScriptedProvider

    def log_message(self, fmt, *args):  # quiet: the runner reports what matters
        pass

    # -- plumbing --
    def _json(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj, name: str | None = None) -> None:
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        head = f"event: {name}\n" if name else ""
        self._chunk(f"{head}data: {payload}\n\n".encode())

    def _abort(self) -> None:
        """Drop the connection mid-body: no terminating chunk."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(2)
        except OSError:
            pass

    def do_GET(self):  # noqa: N802  (e.g. a models list): not offered
        self._record({"method": "GET"}, None, 404)
        self._json(404, {"error": {"message": "not found", "type": "invalid_request_error", "param": None,
                                   "code": None}})

    def _record(self, body, wire, status, rejections=(), reply=None) -> dict:
        p = self.prov
        entry = {"n": 0, "path": self.path, "wire": wire, "body": body, "status": status,
                 "rejections": [dict(rule=r.rule, text=r.text, index=r.index, call_ids=list(r.call_ids),
                                     param=r.param) for r in rejections],
                 "reply": reply, "t": time.time()}
        with p.cond:
            entry["n"] = len(p.requests) + 1
            p.requests.append(entry)
            p.cond.notify_all()
        return entry

    def do_POST(self):  # noqa: N802
        p = self.prov
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record({"raw": raw.decode("utf-8", "replace")}, None, 400)
            self._json(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error",
                                       "param": None, "code": None}})
            return
        wire = wire_of(self.path)
        if wire is None:
            self._record(body, None, 404)
            self._json(404, {"error": {"message": f"unknown path {self.path}", "type": "invalid_request_error",
                                       "param": None, "code": None}})
            return
        msgs = body.get("messages") if wire == "chat" else body.get("input")
        rejections = judge(wire, msgs if isinstance(msgs, list) else [])
        if rejections:
            self._record(body, wire, 400, rejections)
            p.log(f"request rejected by {PROVIDERS[wire]}: {rejections[0].text}")
            self._json(400, error_body(rejections[0]))
            return
        k, reply = p.take_reply()
        entry = self._record(body, wire, 200 if reply.end != "http500" else 500, reply=k)
        entry["end"] = reply.end
        if reply.end == "http500":
            self._json(500, {"error": {"message": "The server had an error while processing your request.",
                                       "type": "server_error", "param": None, "code": None}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        tools = _tool_names(body, wire)
        try:
            if wire == "chat":
                self._stream_chat(reply, k, tools)
            else:
                self._stream_responses(reply, k, tools)
        except (BrokenPipeError, ConnectionResetError):
            pass
        entry["t_end"] = time.time()  # when the stream was over (ended, dropped or abandoned)

    def _hold(self, reply: Reply) -> None:
        if reply.wait_tools:
            self.prov.wait_for_tools(reply)
        if reply.wait_seconds:
            time.sleep(reply.wait_seconds)
        if reply.end == "hang":
            while not self.prov.stopping.wait(0.05):
                try:  # an SSE comment keeps the stream alive and finds out when the client left
                    self._chunk(b": keep-alive\n\n")
                except OSError:
                    return
                time.sleep(0.5)

    # -- Chat Completions --
    def _stream_chat(self, reply: Reply, k: int, tools: list) -> None:
        rid = f"chatcmpl-{k + 1}"
        created = int(time.time())

        def chunk(delta: dict, finish=None) -> dict:
            return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": "scripted",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        self._event(chunk({"role": "assistant", "content": None}))
        calls = 0
        for it in reply.items:
            if isinstance(it, Text):
                self._event(chunk({"content": it.text}))
            elif isinstance(it, Reasoning):
                self._event(chunk({"reasoning": it.text}))
            elif isinstance(it, Call):
                name, args = self.prov.arguments(it, tools)
                self._event(chunk({"tool_calls": [{"index": calls, "id": it.id, "type": "function",
                                                   "function": {"name": name, "arguments": ""}}]}))
                self._event(chunk({"tool_calls": [{"index": calls, "function": {"arguments": args}}]}))
                calls += 1
        if reply.end == "complete":
            # chat.rs hands the calls to the loop only at finish_reason, so the tools start here
            self._event(chunk({}, "tool_calls" if calls else "stop"))
            self._hold(reply)
            self._event("[DONE]")
            self._chunk(b"")
            return
        self._hold(reply)
        if reply.end == "error":
            self._event({"error": {"message": "The server had an error while processing your request.",
                                   "type": "server_error", "param": None, "code": None}})
            self._chunk(b"")
        elif reply.end == "eof":
            self._chunk(b"")
        else:  # close, hang
            self._abort()

    # -- Responses --
    def _stream_responses(self, reply: Reply, k: int, tools: list) -> None:
        rid = f"resp_{k + 1}"
        seq = iter(range(1, 1 << 30))

        def ev(obj: dict) -> None:
            obj["sequence_number"] = next(seq)
            self._event(obj, obj["type"])

        ev({"type": "response.created", "response": {"id": rid, "object": "response", "status": "in_progress"}})
        for idx, it in enumerate(reply.items):
            if isinstance(it, Text):
                item = {"type": "message", "id": f"msg_{k + 1}_{idx}", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": it.text, "annotations": []}]}
                ev({"type": "response.output_item.added", "output_index": idx,
                    "item": {**item, "status": "in_progress", "content": []}})
                ev({"type": "response.output_text.delta", "output_index": idx, "content_index": 0,
                    "item_id": item["id"], "delta": it.text})
            elif isinstance(it, Reasoning):
                item = {"type": "reasoning", "id": f"rs_{k + 1}_{idx}",
                        "summary": [{"type": "summary_text", "text": it.text}]}
            else:
                name, args = self.prov.arguments(it, tools)
                if it.kind == "custom":
                    item = {"type": "custom_tool_call", "id": f"ctc_{it.id}", "call_id": it.id, "name": name,
                            "input": args, "status": "completed"}
                else:
                    item = {"type": "function_call", "id": f"fc_{it.id}", "call_id": it.id, "name": name,
                            "arguments": args, "status": "completed"}
            ev({"type": "response.output_item.done", "output_index": idx, "item": item})
        self._hold(reply)
        if reply.end == "complete":
            ev({"type": "response.completed",
                "response": {"id": rid, "object": "response", "status": "completed",
                             "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                                       "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                                       "total_tokens": 15}}})
            self._chunk(b"")
        elif reply.end == "error":
            ev({"type": "response.failed",
                "response": {"id": rid, "object": "response", "status": "failed",
                             "error": {"code": "server_error",
                                       "message": "The server had an error while processing your request."}}})
            self._chunk(b"")
        elif reply.end == "eof":
            self._chunk(b"")
        else:
            self._abort()
