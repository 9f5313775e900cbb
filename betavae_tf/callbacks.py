"""Training-time guards of a β-VAE run, as Keras callbacks.

`BestModelCheckpoint` (atomic, NaN-proof best-only saves),
`DelayedReduceLROnPlateau` (waits out a β warm-up) and `StopOnNonFinite`
(stops at the first NaN/Inf loss and says where). The β schedules live in
`betavae_tf.schedules`, `TrainingBackup` in `betavae_tf.backup` and
`MetricsLogger` in `betavae_tf.evaluation`; they are importable from here too.
"""

from __future__ import annotations

import math
import os
import warnings

import keras
import numpy as np

from betavae_tf.saving import save_vae
from betavae_tf.validation import check_int


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model whenever the monitored value improves (minimum).

    Like `keras.callbacks.ModelCheckpoint(save_best_only=True)`, with two
    guarantees that one lacks: the file is written to a temporary file beside
    it and renamed over it (so a run killed mid-save leaves the previous best
    loadable), and a NaN/Inf value never counts as an improvement.

    Args:
        filepath: destination ending in `.h5` or `.keras`.
        monitor: the log to minimise. Defaults to `"val_loss"`.
        start_from_epoch: epochs (0-based) before this one are not
            considered, e.g. while β is still being annealed and losses are
            not comparable. Defaults to 0.
        verbose: if 1, prints a line on each save. Defaults to 0.
    """

    state_attributes = ("best", "best_epoch")  # what TrainingBackup saves and restores

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        start_from_epoch: int = 0,
        verbose: int = 0,
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, minimum=0)
        self.verbose = verbose
        self.best = math.inf
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"BestModelCheckpoint: no {self.monitor!r} in the logs (have "
                f"{sorted(logs or {})}); nothing saved.",
                stacklevel=2,
            )
            return
        value = float(value)
        if not math.isfinite(value) or value >= self.best:
            return
        try:
            save_vae(self.model, self.filepath)  # checks for room first
        except OSError as error:
            if not os.path.isfile(self.filepath):
                kept = "no earlier checkpoint existed"
            elif self.best_epoch is None:
                kept = "the file already there is untouched"
            else:
                kept = f"the previous best (epoch {self.best_epoch + 1}) is intact"
            raise OSError(
                f"Could not write the best checkpoint {self.filepath!r} at epoch "
                f"{epoch + 1} ({error.strerror or error}); {kept}. Free disk space "
                "or pass a save_path on another disk."
            ) from error
        if self.verbose:
            keras.utils.io_utils.print_msg(
                f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5g} "
                f"to {value:.5g}, saved {self.filepath}"
            )
        self.best, self.best_epoch = value, epoch


class DelayedReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """`keras.callbacks.ReduceLROnPlateau` that ignores epochs before
    `start_from_epoch` (e.g. a β warm-up, during which the loss rises)."""

    def __init__(self, start_from_epoch: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, minimum=0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.start_from_epoch:
            return super().on_epoch_end(epoch, logs)
        if logs is not None:  # keep the history's learning_rate column complete
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first batch whose logged losses are NaN or Inf.

    Like `keras.callbacks.TerminateOnNaN`, but it checks every logged term
    (total, reconstruction, KL and the objective's extra terms, and the
    validation losses at the end of an epoch) and remembers where training
    failed, so the error can say it.

    Attributes:
        epoch: 0-based epoch of the failure, or `None` while training is fine.
        batch: 0-based batch of the failure (the last batch of the execution
            with `steps_per_execution > 1`), or `None` for a validation failure.
        first_batch: the first batch of that execution (equal to `batch`
            with `steps_per_execution=1`).
        terms: names of the non-finite logs.
    """

    def on_train_begin(self, logs=None):
        self._epoch = self._first_batch = 0
        self.epoch, self.batch, self.first_batch, self.terms = None, None, None, []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _check(self, batch, logs) -> None:
        if self.epoch is not None:
            return
        bad = sorted(
            key for key, value in (logs or {}).items()
            if np.ndim(value) == 0 and not math.isfinite(float(value))
        )
        if bad:
            self.epoch, self.batch, self.terms = self._epoch, batch, bad
            self.first_batch = None if batch is None else self._first_batch
            self.model.stop_training = True

    def on_train_batch_begin(self, batch, logs=None):
        self._first_batch = batch

    def on_train_batch_end(self, batch, logs=None):
        self._check(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(None, logs)

    @property
    def failure(self) -> str | None:
        """`"epoch E, batch B: kl_loss, loss"` (1-based; `"batches A-B"` when
        several steps ran per execution), or `None`."""
        if self.epoch is None:
            return None
        where = f"epoch {self.epoch + 1}"
        if self.batch is None:
            where += ", validation"
        elif self.first_batch == self.batch:
            where += f", batch {self.batch + 1}"
        else:  # steps_per_execution > 1: Keras reports once per run of several steps
            where += f", batches {self.first_batch + 1}-{self.batch + 1}"
        return f"{where}: {', '.join(self.terms)}"


def __getattr__(name: str):
    # The callbacks that moved to their own modules, at their old paths
    # (`betavae_tf.callbacks.KLAnnealing`, ...); imported lazily, since
    # `backup` builds on this module.
    from betavae_tf import backup, evaluation, schedules

    for module in (schedules, backup, evaluation):
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module 'betavae_tf.callbacks' has no attribute {name!r}")
