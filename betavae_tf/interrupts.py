"""Ctrl-C and `kill` during training: stop at once, but never in the middle of a save.

Inside `interruptible()`, SIGINT and SIGTERM raise `TrainingInterrupted`
(a `KeyboardInterrupt`) in the main thread, where training runs. While a
file is being written (`betavae_tf.atomic.write_atomically` wraps every
write in `deferred_interrupts()`), the signal waits until the write is done,
so the checkpoint and the backup on disk are always complete. The command
line uses this to print one line and exit with 130 (SIGINT) or 143 (SIGTERM).

Without `interruptible()` (plain library use) Python's own handling stays:
Ctrl-C raises `KeyboardInterrupt` wherever the program is, which the atomic
writes also survive (they only ever replace a file by a complete one).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by a signal.

    Attributes:
        signal_number: the signal, e.g. `signal.SIGTERM`.
        exit_code: `128 + signal_number`, the shell's convention (130, 143).
    """

    def __init__(self, signal_number: int):
        self.signal_number = int(signal_number)
        self.exit_code = 128 + self.signal_number
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal_number).name


_deferring = 0
_pending: int | None = None


def _handler(signal_number, frame):
    global _pending
    if _deferring:
        _pending = signal_number
        return
    raise TrainingInterrupted(signal_number)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise `TrainingInterrupted`.

    A no-op outside the main thread (Python delivers signals only there).
    The previous handlers come back when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _handler) for number in HANDLED}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Holds back a `TrainingInterrupted` until the block (a file write) ends."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            number, _pending = _pending, None
            raise TrainingInterrupted(number)
