"""repair's output files: no device or other non-regular file replaced, owner and links kept,
backups complete or absent, and real SIGKILLs during `repair --in-place` (issue 14, points 4-6)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

from tests.test_lint_helpers import rollout_text, run, write_rollout
from turnproof import fileio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROKEN = "U C1 C2 O1 U"  # call_2 never answered: repair adds a synthetic result
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _temps(d) -> list[str]:
    return sorted(n for n in os.listdir(d) if fileio.TAG in n)


def _nonregular_targets(tmp_path) -> list:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    targets = [(fifo, stat.S_ISFIFO)]
    link = tmp_path / "null-link.jsonl"
    os.symlink(os.devnull, link)  # a link to a device: following it would replace /dev/null
    targets.append((link, stat.S_ISLNK))
    if IS_ROOT:
        dev = tmp_path / "full"
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # a private /dev/full
        targets.append((dev, stat.S_ISCHR))
    return targets


@pytest.mark.parametrize("dialect", ["rollout", "responses"])
def test_repair_never_replaces_a_non_regular_output(capsys, tmp_path, dialect):
    if dialect == "rollout":
        src = write_rollout(tmp_path, BROKEN)
    else:
        src = tmp_path / "body.json"
        src.write_text('{"input": [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}]}')
    for target, is_kind in _nonregular_targets(tmp_path):
        code, out, err = run(capsys, "repair", src, "-o", target)
        assert code == 2 and "not a regular file" in err and len(err.splitlines()) == 1, err
        assert is_kind(os.lstat(target).st_mode), f"{target} was replaced"
    assert os.path.exists(os.devnull) and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert _temps(tmp_path) == []


def test_dangling_link_output_is_refused(capsys, tmp_path):
    src = write_rollout(tmp_path, BROKEN)
    link = tmp_path / "out.jsonl"
    os.symlink(tmp_path / "nowhere" / "x.jsonl", link)
    code, out, err = run(capsys, "repair", src, "-o", link)
    assert code == 2 and "symbolic link to a missing file" in err
    assert os.path.islink(link)


def test_output_link_is_followed(capsys, tmp_path):
    src = write_rollout(tmp_path, BROKEN)
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "out.jsonl"
    os.symlink(real, link)
    code, out, err = run(capsys, "repair", src, "-o", link)
    assert code == 0, err
    assert os.path.islink(link) and "turnproof_synthetic" in real.read_text()


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give the file another owner")
def test_in_place_keeps_owner_group_and_mode(capsys, tmp_path):
    p = write_rollout(tmp_path, BROKEN)
    os.chown(p, 1234, 2345)
    os.chmod(p, 0o640)
    code, out, err = run(capsys, "repair", p, "--in-place")
    assert code == 0, err
    st = os.stat(p)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 2345, 0o640)
    bak = os.stat(p + ".bak")
    assert (bak.st_uid, bak.st_gid, stat.S_IMODE(bak.st_mode)) == (1234, 2345, 0o640)
    # -o over an existing file keeps that file's owner too
    out_p = tmp_path / "o.jsonl"
    out_p.write_text("x\n")
    os.chown(out_p, 4321, 5432)
    assert run(capsys, "repair", p + ".bak", "-o", out_p)[0] == 0
    assert (os.stat(out_p).st_uid, os.stat(out_p).st_gid) == (4321, 5432)


def test_in_place_refuses_when_the_owner_cannot_be_kept(capsys, tmp_path, monkeypatch):
    p = write_rollout(tmp_path, BROKEN)
    before = open(p, "rb").read()
    real_stat = os.stat

    class _St:  # the file as another user's would look
        def __init__(self, st):
            self._st = st

        def __getattr__(self, k):
            return getattr(self._st, k)

        @property
        def st_uid(self):
            return self._st.st_uid + 1

    monkeypatch.setattr(fileio.os, "stat", lambda x, *a, **k: _St(real_stat(x, *a, **k)) if str(x) == p
                        else real_stat(x, *a, **k))

    def no_chown(*a):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(fileio.os, "chown", no_chown)
    code, out, err = run(capsys, "repair", p, "--in-place")
    assert code == 2 and "cannot keep its owner" in err and "nothing written" in err
    assert open(p, "rb").read() == before
    assert not os.path.exists(p + ".bak") and _temps(tmp_path) == []


def test_in_place_follows_a_symlink(capsys, tmp_path):
    (tmp_path / "store").mkdir()
    target = write_rollout(tmp_path / "store", BROKEN)
    before = open(target, "rb").read()
    link = tmp_path / "session.jsonl"
    os.symlink(target, link)
    code, out, err = run(capsys, "repair", link, "--in-place")
    assert code == 0, err
    assert os.path.islink(link) and os.readlink(link) == target
    assert "turnproof_synthetic" in open(target).read()  # the file the link names was repaired
    assert open(target + ".bak", "rb").read() == before  # its backup beside it
    assert not os.path.exists(str(link) + ".bak")


def test_in_place_refuses_a_file_with_other_hard_links(capsys, tmp_path):
    p = write_rollout(tmp_path, BROKEN)
    os.link(p, tmp_path / "other-name.jsonl")
    before = open(p, "rb").read()
    code, out, err = run(capsys, "repair", p, "--in-place")
    assert code == 2 and "hard links" in err
    assert open(p, "rb").read() == before and not os.path.exists(p + ".bak")


def test_stale_temporaries_are_cleaned_and_live_ones_kept(capsys, tmp_path):
    p = write_rollout(tmp_path, BROKEN)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".rollout.jsonl{fileio.TAG}{dead.pid}-abc{fileio.SUFFIX}"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".rollout.jsonl{fileio.TAG}{os.getppid()}-abc{fileio.SUFFIX}"
    live.write_bytes(b"y")
    other = tmp_path / ".unrelated.tmp"
    other.write_bytes(b"z")
    assert run(capsys, "repair", p, "--in-place")[0] == 0
    assert not stale.exists() and live.exists() and other.exists()


def test_backup_left_by_a_kill_before_the_rename_is_reused(capsys, tmp_path):
    p = write_rollout(tmp_path, BROKEN)
    before = open(p, "rb").read()
    os.link(p, p + ".bak")  # what a kill between the backup and the rename leaves
    code, out, err = run(capsys, "repair", p, "--in-place")
    assert code == 0, err
    assert open(p + ".bak", "rb").read() == before and not os.path.exists(p + ".bak1")
    assert open(p, "rb").read() != before


def test_a_file_that_changes_during_the_repair_is_left_alone(capsys, tmp_path, monkeypatch):
    p = write_rollout(tmp_path, BROKEN)
    from turnproof.lint import repair as rep

    real_stage = rep.fileio.stage

    def stage_then_append(path, write, like=None):
        out = real_stage(path, write, like)
        with open(p, "a") as f:  # Codex appends a line meanwhile
            f.write(rollout_text("U").splitlines()[1] + "\n")
        return out

    monkeypatch.setattr(rep.fileio, "stage", stage_then_append)
    during = None
    code, out, err = run(capsys, "repair", p, "--in-place")
    during = open(p, "rb").read()
    assert code == 2 and "changed while it was being repaired" in err
    assert during.count(b"\n") == len(BROKEN.split()) + 2 and not os.path.exists(p + ".bak")
    assert _temps(tmp_path) == []


# ---- real kills ------------------------------------------------------------------------------------
def _big_broken_rollout(path: str, rounds: int) -> None:
    """Many answered rounds, then one call left without a result: the repair touches the end."""
    spec = " ".join(f"U C{i}a C{i}b O{i}a O{i}b" for i in range(rounds)) + " U Cza Czb Oza"
    with open(path, "w") as f:
        f.write(rollout_text(spec))


def _sha(p) -> str:
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def _kill_campaign(tmp_path, kills: int, rounds: int) -> dict:
    p = str(tmp_path / "rollout.jsonl")
    _big_broken_rollout(p, rounds)
    orig = _sha(p)
    ref = tmp_path / "ref"
    ref.mkdir()
    _big_broken_rollout(str(ref / "rollout.jsonl"), rounds)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "turnproof", "repair", p, "--in-place"]
    t0 = time.monotonic()
    subprocess.run(cmd[:4] + [str(ref / "rollout.jsonl"), "--in-place"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    span = time.monotonic() - t0
    repaired = _sha(ref / "rollout.jsonl")
    assert repaired != orig
    rng = random.Random(14)
    seen = {"original": 0, "repaired": 0, "temps": 0, "backup": 0}
    for _ in range(kills):
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, span * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _sha(p)
        assert now in (orig, repaired), "the session file is torn"
        seen["original" if now == orig else "repaired"] += 1
        for n in os.listdir(tmp_path):
            if n.startswith("rollout.jsonl.bak"):  # a backup under its final name is always whole
                assert _sha(tmp_path / n) == orig, f"partial backup {n}"
                seen["backup"] += 1
        seen["temps"] += bool(_temps(tmp_path))
        if now == repaired:  # start again from the broken file, as a user would with another session
            os.unlink(p)
            for n in os.listdir(tmp_path):
                if n.startswith("rollout.jsonl.bak"):
                    os.unlink(tmp_path / n)
            _big_broken_rollout(p, rounds)
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _sha(p) == repaired
    assert _temps(tmp_path) == []  # the last run cleaned what the killed ones left
    baks = [n for n in os.listdir(tmp_path) if n.startswith("rollout.jsonl.bak")]
    assert len(baks) <= 1 and all(_sha(tmp_path / n) == orig for n in baks)
    return seen


def test_sigkill_during_repair_in_place(tmp_path):
    seen = _kill_campaign(tmp_path, kills=10, rounds=8000)
    print(seen)
    assert seen["original"] and seen["temps"], seen  # kills did land mid-repair


@pytest.mark.slow
@pytest.mark.long  # 60 kills of a 40,000-round repair: about 5 minutes (the 10-kill run above is in CI)
def test_sigkill_during_repair_in_place_many(tmp_path):
    seen = _kill_campaign(tmp_path, kills=int(os.environ.get("TURNPROOF_KILLS", "60")), rounds=40000)
    assert seen["original"] and seen["temps"], seen
