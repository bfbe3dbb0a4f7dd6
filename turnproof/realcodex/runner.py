"""Running the real codex-cli against the scripted provider, with faults.

A ``Session`` is a scratch folder: ``home/`` (CODEX_HOME: config.toml and the session's rollout
files), ``work/`` (the folder codex works in), ``markers/`` (one file per shell command that
finished). ``session.exec(script)`` runs ``codex exec PROMPT``; ``session.resume(script)`` runs
``codex exec resume --last PROMPT`` on the same CODEX_HOME, as a user restarting Codex would.
Each returns a ``Run``: the requests the binary sent (bodies, the provider's verdicts), the rollout
file, which commands ran, how the process ended.

Isolation. Each run happens in a child Python process (``python -m turnproof.realcodex.runner``)
started in a fresh network namespace (``unshare -n``, or ``unshare -rn`` without root) in which
only loopback exists: the scripted provider and codex-cli share it, and nothing the binary does
can reach another host. Where namespaces are not available the run goes ahead with the config
keys below and proxy variables pointing at a closed loopback port, and says so (``isolation``).
The config turns off what would reach the network (read in the release's source,
codex-rs/core/src/config/mod.rs): check_for_update_on_startup, [analytics] enabled, [otel]
exporters (0.122 exports metrics to Statsig by default), [feedback]; the provider needs no auth
(no env_key, requires_openai_auth false). Shell commands run with approval "never" and
sandbox "danger-full-access" (the commands are the script's own `sleep`/`echo`/`:`).

Faults: a ``Fault`` sends a signal (SIGKILL: the machine dies; SIGINT: the user presses Ctrl-C)
when its trigger fires: a function_call_output for a call is in the rollout file, the rollout has
k lines, request n arrived, or given commands have finished. Stream faults are the script's.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from .binary import ensure_codex
from .provider import ScriptedProvider, reply_from_json, reply_to_json

_TOP = __package__.split(".")[0]
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules[_TOP].__file__)))
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


@dataclass
class Fault:
    """Send ``signal`` to codex-cli once every trigger given holds (then wait ``delay`` s)."""

    signal: str = "SIGKILL"
    after_output: str | None = None  # a function_call_output for this call id reached the rollout
    after_lines: int | None = None  # the rollout file has this many lines
    on_request: int | None = None  # this many requests reached the provider
    after_commands: list | None = None  # these calls' shell commands have finished
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(f"unknown signal {self.signal!r}; allowed: {', '.join(SIGNALS)}")


@dataclass
class Run:
    version: str
    wire: str
    argv: list
    requests: list  # provider entries: n, path, wire, body, status, rejections, reply
    rollout: str | None  # the session's rollout file
    rollout_lines: list  # parsed lines
    commands_finished: list  # call ids whose shell command ran to the end
    returncode: int | None
    fault_fired: str | None
    stdout: str
    stderr: str
    seconds: float
    isolation: str
    timed_out: bool = False

    @property
    def model_requests(self) -> list:
        return [r for r in self.requests if r["wire"] is not None]

    @property
    def rejected(self) -> list:
        return [r for r in self.model_requests if r["status"] == 400]

    @property
    def died(self) -> bool:
        """The session failed: a request was rejected (the provider's 400)."""
        return bool(self.rejected)

    def outputs_recorded(self) -> list:
        """call ids with a function/custom tool output in the rollout, in file order."""
        out = []
        for ln in self.rollout_lines:
            p = ln.get("payload") if ln.get("type") == "response_item" else None
            if isinstance(p, dict) and p.get("type") in ("function_call_output", "custom_tool_call_output"):
                out.append(p.get("call_id"))
        return out


_NETNS: str | None = None


def _netns_prefix() -> tuple:
    """(argv prefix, description) for a fresh network namespace with only loopback."""
    global _NETNS
    if os.environ.get("TURNPROOF_CODEX_NETNS") == "0":
        return [], "none (TURNPROOF_CODEX_NETNS=0): config keys and proxy variables only"
    for pre in (["unshare", "-n"], ["unshare", "-rn"]):
        if _NETNS is not None and _NETNS != " ".join(pre):
            continue
        try:
            ok = subprocess.run([*pre, "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            _NETNS = " ".join(pre)
            return [*pre, "--"], f"network namespace ({_NETNS}): loopback only"
    _NETNS = ""
    return [], "none (no network namespaces here): config keys and proxy variables only"


class Session:
    """One Codex session (a CODEX_HOME) with one release of the binary."""

    def __init__(self, version: str, wire: str, root: str | None = None, *, model: str = "gpt-5.1",
                 progress=None, stream_max_retries: int = 1, config_extra: str = ""):
        if wire not in ("chat", "responses"):
            raise ValueError(f"codex-cli speaks chat or responses, not {wire!r}")
        self.version, self.wire, self.model = version, wire, model
        self.binary = ensure_codex(version, progress)
        self.root = root or tempfile.mkdtemp(prefix=f"turnproof-codex-{version}-")
        self.home = os.path.join(self.root, "home")
        self.work = os.path.join(self.root, "work")
        self.markers = os.path.join(self.root, "markers")
        for d in (self.home, self.work, self.markers):
            os.makedirs(d, exist_ok=True)
        self.stream_max_retries = stream_max_retries
        self.config_extra = config_extra
        self.runs: list = []

    def rollout_files(self) -> list:
        return sorted(glob.glob(os.path.join(self.home, "sessions", "**", "rollout-*.jsonl"), recursive=True),
                      key=os.path.getmtime)

    def exec(self, script: list, prompt: str = "run the commands", fault: Fault | None = None,
             timeout: float = 90) -> Run:
        return self._run(["exec"], prompt, script, fault, timeout)

    def resume(self, script: list, prompt: str = "continue", fault: Fault | None = None,
               timeout: float = 90) -> Run:
        return self._run(["exec", "resume", "--last"], prompt, script, fault, timeout)

    def _run(self, sub: list, prompt: str, script: list, fault: Fault | None, timeout: float) -> Run:
        # markers are per run: a command that finishes belongs to the run that started it
        for f in os.listdir(self.markers):
            os.unlink(os.path.join(self.markers, f))
        job = {"binary": self.binary, "version": self.version, "wire": self.wire, "model": self.model,
               "home": self.home, "work": self.work, "markers": self.markers, "argv": sub, "prompt": prompt,
               "script": [reply_to_json(r) for r in script], "fault": asdict(fault) if fault else None,
               "timeout": timeout, "stream_max_retries": self.stream_max_retries,
               "config_extra": self.config_extra}
        prefix, isolation = _netns_prefix()
        env = dict(os.environ)
        env["PYTHONPATH"] = _ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        p = subprocess.run([*prefix, sys.executable, "-m", f"{_TOP}.realcodex.runner"], input=json.dumps(job),
                           capture_output=True, text=True, env=env, timeout=timeout + 60)
        if p.returncode != 0 or not p.stdout.strip():
            raise RuntimeError(f"the run's child process failed (exit {p.returncode}): {p.stderr.strip()[-2000:]}")
        res = json.loads(p.stdout)
        run = Run(version=self.version, wire=self.wire, isolation=isolation, **res)
        self.runs.append(run)
        return run


# ---- the child: runs inside the namespace ---------------------------------------------------------

def _loopback_up() -> None:
    """A new network namespace starts with `lo` down: bring it up (SIOCSIFFLAGS)."""
    import fcntl
    import socket
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s, 0x8913, req))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sh14x", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP


def config_toml(base_url: str, wire: str, model: str, stream_max_retries: int, extra: str = "") -> str:
    return f"""# written by turnproof: a scripted provider on loopback, nothing else
model = "{model}"
model_provider = "scripted"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.scripted]
name = "turnproof scripted provider"
base_url = "{base_url}"
wire_api = "{wire}"
requires_openai_auth = false
request_max_retries = 0
stream_max_retries = {stream_max_retries}
stream_idle_timeout_ms = 60000

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"

[history]
persistence = "none"
{extra}
"""


def _read_rollout(home: str) -> tuple:
    files = sorted(glob.glob(os.path.join(home, "sessions", "**", "rollout-*.jsonl"), recursive=True),
                   key=os.path.getmtime)
    if not files:
        return None, []
    path = files[-1]
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"type": "torn", "raw": raw})
    return path, lines


def _fault_due(fault: dict, prov: ScriptedProvider, home: str) -> bool:
    if fault.get("on_request") is not None and len(prov.requests) < fault["on_request"]:
        return False
    if fault.get("after_commands") and not set(fault["after_commands"]) <= set(prov.finished_commands()):
        return False
    if fault.get("after_output") is not None or fault.get("after_lines") is not None:
        _, lines = _read_rollout(home)
        if fault.get("after_lines") is not None and len(lines) < fault["after_lines"]:
            return False
        if fault.get("after_output") is not None:
            outs = [ln.get("payload", {}).get("call_id") for ln in lines if ln.get("type") == "response_item"
                    and isinstance(ln.get("payload"), dict)
                    and ln["payload"].get("type") in ("function_call_output", "custom_tool_call_output")]
            if fault["after_output"] not in outs:
                return False
    return True


def _child(job: dict) -> dict:
    try:
        _loopback_up()
    except OSError:
        pass  # not in a namespace (or lo is up already)
    prov = ScriptedProvider([reply_from_json(r) for r in job["script"]], job["markers"])
    base = prov.start()
    with open(os.path.join(job["home"], "config.toml"), "w", encoding="utf-8") as f:
        f.write(config_toml(base, job["wire"], job["model"], job["stream_max_retries"], job.get("config_extra", "")))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.path.dirname(job["home"]), "CODEX_HOME": job["home"],
           "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1", "RUST_LOG": "error",
           # belt and braces: any HTTP client that ignores the config meets a closed loopback port
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost"}
    # exec's own options go before the `resume` subcommand (clap parses them for `exec`)
    argv = [job["binary"], "exec", "--skip-git-repo-check", "--color", "never",
            "--dangerously-bypass-approvals-and-sandbox", "-C", job["work"], *job["argv"][1:], job["prompt"]]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=job["work"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    fault, fired, timed_out = job.get("fault"), None, False
    import threading
    outs: dict = {}

    def pump(name, stream):
        outs[name] = stream.read().decode("utf-8", "replace")

    threads = [threading.Thread(target=pump, args=(n, s), daemon=True)
               for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for t in threads:
        t.start()
    while proc.poll() is None:
        if fault and fired is None and _fault_due(fault, prov, job["home"]):
            if fault.get("delay"):
                time.sleep(fault["delay"])
            proc.send_signal(SIGNALS[fault["signal"]])
            fired = f"{fault['signal']} after {time.monotonic() - t0:.2f} s"
        if time.monotonic() - t0 > job["timeout"]:
            timed_out = True
            break
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    rc = proc.wait()
    try:  # commands the dead process left behind (a killed codex does not reap its children)
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    for t in threads:
        t.join(5)
    prov.stop()
    path, lines = _read_rollout(job["home"])
    return {"argv": argv, "requests": prov.requests, "rollout": path, "rollout_lines": lines,
            "commands_finished": prov.finished_commands(), "returncode": rc, "fault_fired": fired,
            "stdout": outs.get("stdout", ""), "stderr": outs.get("stderr", ""),
            "seconds": round(time.monotonic() - t0, 2), "timed_out": timed_out}


if __name__ == "__main__":
    _job = json.load(sys.stdin)
    json.dump(_child(_job), sys.stdout)
