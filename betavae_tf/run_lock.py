"""One training run per folder: an OS lock held for the run's lifetime.

`folder_lock(folder)` takes an exclusive `fcntl.flock` on `folder/.betavae_tf.lock`
and writes the holder's PID and command into it. The operating system drops
the lock when the process ends, however it ends (even SIGKILL), so a killed
run never leaves a stale lock; a second run in the same folder gets a
one-line `FolderInUseError` naming the folder and the running process.

`remove_stale_partials(folder)` deletes the temporary files
(`.NAME.partial-PID.EXT`, see `betavae_tf.atomic.write_atomically`) that
runs killed mid-save left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no check
    fcntl = None

LOCK_FILE = ".betavae_tf.lock"
_PARTIAL = re.compile(r"\..+\.partial-(\d+)(\..*)?")
_HELD: dict[str, int] = {}  # folders this process holds, and how many times (re-entrant)


class FolderInUseError(OSError):
    """Another live process holds the run lock of a folder."""


def _holder(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = " ".join(handle.read().split())[:200]
    except OSError:
        text = ""
    return text or "another process"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder") -> Iterator[str]:
    """Holds the run lock of `folder` (created if missing) while the block runs.

    Args:
        folder: the output or backup folder of a run.
        what: how the folder is named in the error, e.g. `"--output-dir"`.

    Yields:
        The lock file's path.

    Raises:
        FolderInUseError: (one line) if another live process holds the lock.

    The lock is re-entrant within a process (the folder is named by its real
    path, so a symbolic link to a held folder is the same folder): a run that
    holds it may take it again, e.g. `train_run` and then `train_vae`.
    """
    folder = os.path.realpath(os.fspath(folder))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    if fcntl is None:  # pragma: no cover
        yield path
        return
    if _HELD.get(folder):
        _HELD[folder] += 1
        try:
            yield path
        finally:
            _HELD[folder] -= 1
        return
    handle = _locked_handle(path, folder, what)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()}: {' '.join(sys.argv)[:160]}\n")
        handle.flush()
        _HELD[folder] = 1
        try:
            yield path
        finally:
            _HELD.pop(folder, None)
            with contextlib.suppress(OSError):  # removed while held; see _locked_handle
                os.remove(path)
    finally:
        handle.close()


def _locked_handle(path: str, folder: str, what: str):
    """Opens `path` and locks it; retries when the file it locked was meanwhile
    removed by the holder that just let go (a lock on a deleted file guards nothing)."""
    while True:
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise FolderInUseError(
                f"The {what} {folder!r} is in use by another betavae-tf run ({_holder(path)}); "
                "wait for it to finish, stop it, or choose another folder."
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()  # the file we locked is gone: lock the one now at `path`


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_partials(folder: str | os.PathLike) -> list[str]:
    """Deletes temporary `.NAME.partial-PID.EXT` files whose process is gone.

    Returns:
        The names removed.
    """
    folder = os.fspath(folder)
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in os.listdir(folder):
        match = _PARTIAL.fullmatch(name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.remove(os.path.join(folder, name))
                removed.append(name)
    return removed
