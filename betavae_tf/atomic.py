"""Files written whole or not at all: `write_atomically` and `write_json`.

A temporary file beside the target is written, then renamed over it
(`os.replace`, atomic on POSIX): readers see the old file or the new one,
never half of one, and a symbolic link planted at the target is replaced,
not followed. Standard library only, so anything may use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from betavae_tf.interrupts import deferred_interrupts


def write_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Calls `write(temporary_path)`, then renames the file over `path`.

    The temporary file lies beside `path` and keeps its extensions
    (`.NAME.partial-PID.EXT`, which Keras needs to pick a format); it is
    removed if `write` fails. `os.replace` is atomic on POSIX, so readers see
    the old file or the new one, never a mix. A SIGINT/SIGTERM handled by
    `betavae_tf.interrupts.interruptible` waits until the write is done.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    stem, dot, extension = name.partition(".")
    temporary = os.path.join(folder, f".{stem}.partial-{os.getpid()}{dot}{extension}")
    with deferred_interrupts():
        try:
            write(temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)


def write_json(path: str | os.PathLike, data, indent: int | None = 2) -> None:
    """Writes `data` as JSON to `path` atomically (`write_atomically`), flushed to disk."""

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=indent)
            handle.flush()
            os.fsync(handle.fileno())

    write_atomically(path, write)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` (UTF-8) to `path` atomically."""

    def write(temporary):
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    write_atomically(path, write)
