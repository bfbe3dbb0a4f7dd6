"""Getting a codex-cli release: the static Linux binary inside the npm package, cached.

`@openai/codex@0.77.0` (and the other early releases) ship every platform's binary in one
package, at package/vendor/x86_64-unknown-linux-musl/codex/codex; later releases publish one
package version per platform (`0.122.0-linux-x64`) with the binary at the same path. ``npm
pack`` (the registry's own client) fetches the tarball into a scratch folder with a scratch npm
cache, the one file is extracted, and both are deleted: the cache keeps only the binary
(~/.cache/turnproof/codex/VERSION/codex, or $TURNPROOF_CODEX_CACHE/VERSION/codex).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

PACKAGE = "@openai/codex"
MEMBER = "package/vendor/x86_64-unknown-linux-musl/codex/codex"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class Unavailable(Exception):
    """The binary cannot be had (no npm, no registry, no such release, not Linux x86-64)."""


def cache_root() -> str:
    env = os.environ.get("TURNPROOF_CODEX_CACHE")
    if env:
        return os.path.abspath(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "turnproof", "codex")


def cached_path(version: str) -> str:
    return os.path.join(cache_root(), version, "codex")


def _npm(args: list, cwd: str, timeout: float) -> subprocess.CompletedProcess:
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed (it fetches codex-cli from the npm registry)")
    try:
        return subprocess.run([npm, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"npm {args[0]} did not finish in {timeout:.0f} s (is the npm registry reachable?)") from None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("npm notice", "npm error code", "npm ERR! code")):
            return line.removeprefix("npm error ").removeprefix("npm ERR! ")
    return "no output"


def ensure_codex(version: str, progress=None) -> str:
    """The path of codex-cli ``version``'s binary, fetched into the cache on first use."""
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if not _VERSION.match(version):
        raise Unavailable(f"{version!r} is not a release number such as 0.77.0")
    path = cached_path(version)
    if os.access(path, os.X_OK):
        return path
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise Unavailable(f"codex-cli's npm package ships the Linux x86-64 binary; this is {sys.platform} "
                          f"{platform.machine()}")
    with tempfile.TemporaryDirectory(prefix="turnproof-npm-") as tmp:
        # which package version holds the Linux binary: the per-platform one where it exists
        view = _npm(["view", f"{PACKAGE}@{version}-linux-x64", "version", "--json",
                     "--cache", os.path.join(tmp, "npm-cache")], tmp, 60)
        spec = f"{PACKAGE}@{version}-linux-x64" if view.returncode == 0 and view.stdout.strip() else f"{PACKAGE}@{version}"
        size = _npm(["view", spec, "dist.unpackedSize", "--json", "--cache", os.path.join(tmp, "npm-cache")], tmp, 60)
        if size.returncode != 0:
            raise Unavailable(f"npm cannot find {PACKAGE}@{version}: {_first_line(size.stderr)}")
        try:
            mb = int(json.loads(size.stdout)) / 1e6
            what = f", {mb:.0f} MB unpacked"
        except (ValueError, TypeError):
            what = ""
        say(f"turnproof: fetching codex-cli {version} from npm ({spec}{what}) into {os.path.dirname(path)}; "
            "this happens once")
        done = threading.Event()
        t0 = time.monotonic()

        def heartbeat() -> None:
            while not done.wait(5):
                got = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(tmp) for f in fs)
                say(f"turnproof: ... {time.monotonic() - t0:.0f} s, {got / 1e6:.0f} MB downloaded")

        hb = threading.Thread(target=heartbeat, daemon=True)
        hb.start()
        try:
            packed = _npm(["pack", spec, "--json", "--pack-destination", tmp,
                           "--cache", os.path.join(tmp, "npm-cache")], tmp, 900)
        finally:
            done.set()
        if packed.returncode != 0:
            raise Unavailable(f"npm pack {spec} failed: {_first_line(packed.stderr)}")
        try:
            filename = json.loads(packed.stdout)[0]["filename"]
        except (ValueError, KeyError, IndexError):
            raise Unavailable(f"npm pack {spec} printed no file name") from None
        tgz = os.path.join(tmp, os.path.basename(filename.replace("@", "").replace("/", "-")))
        if not os.path.exists(tgz):
            found = [f for f in os.listdir(tmp) if f.endswith(".tgz")]
            if not found:
                raise Unavailable(f"npm pack {spec} left no tarball")
            tgz = os.path.join(tmp, found[0])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        part = path + ".part"
        try:
            with tarfile.open(tgz, "r:gz") as tf:
                try:
                    member = tf.getmember(MEMBER)
                except KeyError:
                    raise Unavailable(f"{spec} has no {MEMBER}") from None
                src = tf.extractfile(member)
                with open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except (tarfile.TarError, OSError) as e:
            raise Unavailable(f"cannot unpack {spec}: {e}") from None
        os.chmod(part, 0o755)
        os.replace(part, path)
        say(f"turnproof: codex-cli {version} ready ({os.path.getsize(path) / 1e6:.0f} MB, "
            f"{time.monotonic() - t0:.0f} s)")
    return path


def registry_reachable(timeout: float = 30) -> str | None:
    """None if npm can reach the registry, else why not (for tests that skip with a reason)."""
    try:
        with tempfile.TemporaryDirectory(prefix="turnproof-npm-") as tmp:
            r = _npm(["view", PACKAGE, "name", "--cache", os.path.join(tmp, "c")], tmp, timeout)
    except Unavailable as e:
        return str(e)
    return None if r.returncode == 0 else f"npm cannot reach the registry: {_first_line(r.stderr)}"
