"""Reading and writing a user's files without hanging, clobbering a device or leaving half a file.

Reading (``open_input``): a path is opened non-blocking, so a FIFO with no writer gives end of
file at once instead of hanging; then it is read normally. Regular files and pipes are read;
directories, devices and sockets are refused with one line naming the path (``/dev/zero`` would
never end, ``/dev/tty`` would wait for a keyboard).

Writing (``atomic_write``): the text goes to a temporary file beside the target, is fsynced, gets
the target's mode, owner and group (or, for a new file, the mode of the file it was made from),
and is renamed over the target, so a reader sees the old file or the new one, never half of
either. A target that exists and is not a regular file (a device, a FIFO, a directory) is refused
before anything is written; a symbolic link is followed, so the file it points to is replaced and
the link stays a link; a dangling link is refused. When the owner cannot be kept (not permitted),
nothing is written.

Temporary files are named ``.NAME.turnproof-PID-RANDOM.tmp`` beside NAME. A process killed while
writing leaves one behind; the next write to NAME removes those whose process is gone.

Backups (``atomic_backup``): the original is hard-linked to ``NAME.bak`` (``.bak1``, ... when
taken), which cannot clobber an existing backup and is never seen half-written; where the file
system has no hard links, a full copy is written to a temporary file first and renamed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import tempfile
from typing import BinaryIO, Callable

TAG = ".turnproof-"
SUFFIX = ".tmp"


class UnsafePath(ValueError):
    """A path turnproof will not read or write; ``str()`` is one line naming it (exit 2)."""


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def open_input(path: str) -> BinaryIO:
    """``path`` opened for binary reading; never blocks on open. UnsafePath or OSError when it cannot be.
    ``-`` is standard input."""
    if path == "-":
        fd = os.dup(sys.stdin.fileno())
        os.set_blocking(fd, False)
    else:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):  # as open() would say
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise UnsafePath(f"{path}: not a regular file ({kind_of(st.st_mode)}); nothing read")
        os.set_blocking(fd, True)  # a pipe with a writer is then read to its end; without one, EOF at once
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_limited(path: str, limit: int, what: str = "file") -> bytes:
    """The whole of ``path``, refused (UnsafePath) when longer than ``limit`` bytes."""
    try:
        with open_input(path) as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise UnsafePath(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise UnsafePath(f"{path}: is a directory, not a {what}") from None
    except OSError as e:
        raise UnsafePath(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise UnsafePath(f"{path}: larger than {limit} bytes; not a {what}")
    return data


@contextlib.contextmanager
def spooled(path: str, limit: int | None = None):
    """A path that can be read twice: ``path`` itself when it is a regular file; otherwise (a pipe,
    a FIFO, /dev/stdin) its bytes copied once into a private temporary file, removed afterwards."""
    if is_regular(path):
        yield path
        return
    fd, tmp = tempfile.mkstemp(prefix=f"turnproof-spool{TAG}", suffix=SUFFIX)
    try:
        with os.fdopen(fd, "wb") as w, open_input(path) as r:
            copied = 0
            while True:
                block = r.read(1 << 20)
                if not block:
                    break
                copied += len(block)
                if limit is not None and copied > limit:
                    raise UnsafePath(f"{path}: larger than {limit} bytes")
                w.write(block)
        yield tmp
    finally:
        discard(tmp)


def is_regular(path: str) -> bool:
    """True for a regular file (following links); False for anything else, missing included."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


# ---- writing -------------------------------------------------------------------------------------
def resolve_output(path: str) -> tuple[str, os.stat_result | None]:
    """Where writing ``path`` really goes (symbolic links followed), and what is there now (None: nothing).

    UnsafePath when something that is not a regular file is there, or a link points nowhere.
    """
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        if os.path.islink(path) or real != os.path.abspath(path) and os.path.lexists(path):
            raise UnsafePath(f"{path}: a symbolic link to a missing file ({real}); refusing to create it") from None
        return real, None
    except OSError as e:
        raise UnsafePath(f"{path}: cannot write: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path}: not a regular file ({kind_of(st.st_mode)}); refusing to replace it")
    return real, st


def _temp_prefix(real: str) -> str:
    return f".{os.path.basename(real)}{TAG}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or a name we did not make): leave it
    return True


def clean_stale_temps(real: str) -> list[str]:
    """Remove temporary files a killed turnproof left beside ``real``; return their paths."""
    d, base = os.path.split(real)
    head = f".{base}{TAG}"
    removed = []
    try:
        names = os.listdir(d or ".")
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(head) and name.endswith(SUFFIX)):
            continue
        pid_text = name[len(head):].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        p = os.path.join(d, name)
        try:
            if stat.S_ISREG(os.lstat(p).st_mode):
                os.unlink(p)
                removed.append(p)
        except OSError:
            pass
    return removed


def fsync_dir(d: str) -> None:
    try:
        fd = os.open(d or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_metadata(tmp: str, path: str, old: os.stat_result | None, like: str | None) -> None:
    if old is None:
        if like is not None:
            try:
                shutil.copymode(like, tmp)
            except OSError:
                pass
        return
    os.chmod(tmp, stat.S_IMODE(old.st_mode))
    tst = os.stat(tmp)
    if (tst.st_uid, tst.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.chown(tmp, old.st_uid, old.st_gid)
        except PermissionError:
            raise UnsafePath(f"{path}: cannot keep its owner and group ({old.st_uid}:{old.st_gid}): "
                             "not permitted; nothing written") from None
        os.chmod(tmp, stat.S_IMODE(old.st_mode))  # chown clears set-id bits


def stage(path: str, write: Callable[[BinaryIO], None], like: str | None = None) -> tuple[str, str]:
    """Write ``write(f)``'s bytes to a temporary file beside ``path``'s real file, fsynced, with the
    metadata the target will keep; return (temporary path, real path). Nothing is replaced yet."""
    real, old = resolve_output(path)
    clean_stale_temps(real)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(real), suffix=SUFFIX, dir=os.path.dirname(real))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _keep_metadata(tmp, path, old, like)
    except BaseException:
        discard(tmp)
        raise
    return tmp, real


def commit(tmp: str, path: str) -> None:
    """Rename a staged file over ``path``'s real file (checked again: it must still be regular or absent)."""
    try:
        real, _ = resolve_output(path)
        os.replace(tmp, real)
    except BaseException:
        discard(tmp)
        raise
    fsync_dir(os.path.dirname(real))


def discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write(path: str, write: Callable[[BinaryIO], None], like: str | None = None) -> str:
    """Write ``path`` through ``write(f)`` atomically (see the module docstring); return the real path.

    ``like``: a new file gets this file's mode. OSError from writing propagates (the temporary file
    is removed first); UnsafePath for targets refused.
    """
    tmp, real = stage(path, write, like)
    commit(tmp, path)
    return real


def write_bytes(path: str, data: bytes, like: str | None = None) -> str:
    return atomic_write(path, lambda f: f.write(data), like)


def _backup_names(real: str):
    n = 0
    while True:
        yield real + (".bak" if n == 0 else f".bak{n}")
        n += 1


def linked_backup(real: str) -> str | None:
    """A backup of ``real`` that is ``real`` itself (a hard link): left by a run killed before its rename."""
    for bak in _backup_names(real):
        if not os.path.lexists(bak):
            return None
        try:
            if os.path.samefile(bak, real) and not os.path.islink(bak):
                return bak
        except OSError:
            pass


def atomic_backup(real: str) -> str:
    """Keep the current ``real`` as ``real.bak`` (or ``.bak1``, ...): complete or absent, never partial."""
    d = os.path.dirname(real)
    old = linked_backup(real)
    if old is not None:
        return old
    for bak in _backup_names(real):
        if os.path.lexists(bak):
            continue
        try:
            os.link(real, bak)  # atomic, cannot overwrite, the same bytes, owner and mode
            fsync_dir(d)
            return bak
        except FileExistsError:
            continue
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
                raise
        return _copy_backup(real, bak)


def _copy_backup(real: str, bak: str) -> str:
    """No hard links here: a full copy in a temporary file, renamed only once complete."""
    d = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(real), suffix=SUFFIX, dir=d)
    try:
        with os.fdopen(fd, "wb") as w, open(real, "rb") as r:
            shutil.copyfileobj(r, w, 1 << 20)
            w.flush()
            os.fsync(w.fileno())
        shutil.copystat(real, tmp)
        st = os.stat(real)
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # the backup is ours; the original keeps its owner
        if os.path.lexists(bak):
            raise FileExistsError(errno.EEXIST, "backup appeared meanwhile", bak)
        os.rename(tmp, bak)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(d)
    return bak
