"""Training-time behaviour of a β-VAE, as Keras callbacks.

β schedules are pure functions of the epoch (or of the global training step)
exposed as `get_beta(t)`; the callbacks only assign their value to the model's
β *variable*, which the compiled training step reads.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings

import keras
import numpy as np

from betavae_tf.saving import (
    check_room_for,
    checkpoint_size_estimate,
    save_vae,
    write_atomically,
)
from betavae_tf.run_lock import LOCK_FILE, remove_stale_partials
from betavae_tf.validation import check_float, check_inside, check_int

SCHEDULE_UPDATES = ("epoch", "step")


def _check_betas(start_beta, target_beta) -> tuple[float, float]:
    """Both ends of a β schedule, validated (finite, >= 0)."""
    return check_float("start_beta", start_beta), check_float("target_beta", target_beta)


class BetaSchedule(keras.callbacks.Callback):
    """Base class of the β schedules: sets the model's β from `get_beta(t)`.

    With `update="epoch"`, `t` is the 0-based epoch and β is assigned at the
    beginning of every epoch. With `update="step"`, `t` is the global step
    `epoch · steps_per_epoch + batch` and β is assigned at the beginning of
    every training batch; `steps_per_epoch` comes from Keras (`params
    ["steps"]`) when training starts, or from the constructor when the data
    has no known length. (Keras calls batch callbacks once per execution: with
    `compile(steps_per_execution=k)`, β changes every k steps.)

    Subclasses implement `get_beta(t)` and `length`, the first `t` from which
    β never changes again.

    Args:
        update: `"epoch"` or `"step"`. Defaults to `"epoch"`.
        steps_per_epoch: training steps per epoch, for `update="step"`; only
            needed to know `n_epochs` before training starts or when Keras
            cannot tell (a `tf.data.Dataset` of unknown length). `train_vae`
            fills it in. Defaults to `None`.
        verbose: if 1, prints β at each epoch begin. Defaults to 0.
    """

    def __init__(self, update: str = "epoch", steps_per_epoch: int | None = None, verbose: int = 0):
        super().__init__()
        if update not in SCHEDULE_UPDATES:
            raise ValueError(
                f"Unknown update {update!r}; choose one of {list(SCHEDULE_UPDATES)}."
            )
        self.update = update
        self.steps_per_epoch = (
            None if steps_per_epoch is None else check_int("steps_per_epoch", steps_per_epoch)
        )
        self.verbose = verbose
        self._epoch = 0

    def get_beta(self, t: int) -> float:
        """β at `t`, the 0-based epoch or global step (see `update`)."""
        raise NotImplementedError

    @property
    def length(self) -> int:
        """The first `t` (epoch or step) from which β stays constant."""
        raise NotImplementedError

    @property
    def n_epochs(self) -> int:
        """Warm-up length in epochs: the first epoch from which β stays
        constant (`train_vae` delays early stopping and checkpoints until
        then). For `update="step"` this is `ceil(length / steps_per_epoch)`.

        Raises:
            ValueError: for `update="step"` while `steps_per_epoch` is unknown.
        """
        if self.update == "epoch":
            return self.length
        if self.steps_per_epoch is None:
            raise ValueError(
                f"{type(self).__name__}(update='step') needs steps_per_epoch to know "
                "its warm-up in epochs; pass steps_per_epoch=N. "
                "Received: steps_per_epoch=None"
            )
        return math.ceil(self.length / self.steps_per_epoch)

    def _set_beta(self, t: int):
        self.model.beta = self.get_beta(t)

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "beta_variable"):
            raise ValueError(
                f"{type(self).__name__} needs a model with a beta variable (a BetaVAE); "
                f"got {type(self.model).__name__}."
            )
        if self.update == "step":
            steps = (self.params or {}).get("steps")
            if steps is not None:
                self.steps_per_epoch = int(steps)
            if self.steps_per_epoch is None:
                raise ValueError(
                    f"{type(self).__name__}(update='step') cannot tell the steps per "
                    "epoch of this data (unknown length); pass steps_per_epoch=N."
                )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self.update == "epoch":
            self._set_beta(epoch)
        else:
            self._set_beta(epoch * self.steps_per_epoch)
        if self.verbose:
            keras.utils.io_utils.print_msg(f"\nEpoch {epoch + 1}: beta = {self.model.beta:.4g}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.update == "step":
            self._set_beta(self._epoch * self.steps_per_epoch + batch)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def get_config(self) -> dict:
        return {
            "update": self.update,
            "steps_per_epoch": self.steps_per_epoch,
            "verbose": self.verbose,
        }


@keras.saving.register_keras_serializable(package="betavae_tf")
class KLAnnealing(BetaSchedule):
    """Moves β linearly from `start_beta` to `target_beta` over `n_epochs`.

    At the beginning of epoch `e` (0-based) it sets the model's β to
    `start_beta + (target_beta − start_beta) · e / n_epochs`, and to
    `target_beta` from epoch `n_epochs` on. The value is assigned to the
    model's β *variable*, so the compiled training step sees it.

    Args:
        start_beta: β at epoch 0, >= 0. Defaults to 0.0.
        target_beta: β from epoch `n_epochs` on, >= 0. Defaults to 1.0.
        n_epochs: length of the warm-up in epochs, >= 0 (0 means β is
            `target_beta` from the start). Defaults to 10.
        verbose: if 1, prints β at each epoch begin. Defaults to 0.

    Example:
    >>> KLAnnealing(0.0, 4.0, n_epochs=4).get_beta(1)
    1.0
    """

    def __init__(
        self,
        start_beta: float = 0.0,
        target_beta: float = 1.0,
        n_epochs: int = 10,
        verbose: int = 0,
    ):
        super().__init__(update="epoch", verbose=verbose)
        self.start_beta, self.target_beta = _check_betas(start_beta, target_beta)
        self.n_epochs = n_epochs

    @property
    def n_epochs(self) -> int:
        """Length of the warm-up in epochs."""
        return self._n_epochs

    @n_epochs.setter
    def n_epochs(self, value: int):
        self._n_epochs = check_int("n_epochs", value, minimum=0)

    @property
    def length(self) -> int:
        return self._n_epochs

    def get_beta(self, epoch: int) -> float:
        """β for a 0-based `epoch`: the linear ramp, then `target_beta`."""
        if epoch >= self.n_epochs:
            return self.target_beta
        fraction = epoch / self.n_epochs
        return self.start_beta + (self.target_beta - self.start_beta) * fraction

    def get_config(self) -> dict:
        return {
            "start_beta": self.start_beta,
            "target_beta": self.target_beta,
            "n_epochs": self.n_epochs,
            "verbose": self.verbose,
        }


def _ramp_steps(length: int, ratio: float) -> int:
    """The smallest `k` in [0, length] with `k / length >= ratio`."""
    k = min(length, math.ceil(ratio * length))
    while k > 0 and (k - 1) / length >= ratio:  # undo rounding up of ratio·length
        k -= 1
    while k < length and k / length < ratio:
        k += 1
    return k


@keras.saving.register_keras_serializable(package="betavae_tf")
class CyclicalAnnealing(BetaSchedule):
    """Cyclical β annealing (Fu et al., 2019).

    `n_cycles` cycles of `cycle_length` epochs or steps: within each, β
    rises linearly from `start_beta` to `target_beta` over the first
    `ratio` of the cycle, then stays at `target_beta`:
    `β(t) = start + (target − start) · min(1, τ / ratio)` with
    `τ = (t mod cycle_length) / cycle_length`. After the last cycle β stays
    at `target_beta`.

    `n_epochs` (the warm-up `train_vae` waits for before early stopping and
    checkpoints) is where β stops changing for good: the point in the last
    cycle where its ramp reaches the target, `(n_cycles − 1) · cycle_length
    + ceil(ratio · cycle_length)` (in epochs; for `update="step"` rounded up
    to whole epochs). Only then are losses of different epochs comparable.

    With `n_cycles=1, ratio=1.0` it is a plain linear warm-up, which makes
    `update="step"` a per-step version of `KLAnnealing`.

    Args:
        start_beta: β at the start of each cycle, >= 0. Defaults to 0.0.
        target_beta: β at the end of each ramp and after the last cycle,
            >= 0. Defaults to 1.0.
        cycle_length: epochs (or steps, see `update`) per cycle, >= 1.
            Defaults to 10.
        n_cycles: number of cycles, >= 1. Defaults to 4 (Fu et al.'s M = 4).
        ratio: fraction of each cycle spent ramping up, in (0, 1].
            Defaults to 0.5 (Fu et al.'s R = 0.5).
        update: `"epoch"` or `"step"` (see `BetaSchedule`). Defaults to
            `"epoch"`.
        steps_per_epoch: see `BetaSchedule`. Defaults to `None`.
        verbose: if 1, prints β at each epoch begin. Defaults to 0.

    Example:
    >>> schedule = CyclicalAnnealing(0.0, 1.0, cycle_length=4, n_cycles=2)
    >>> [schedule.get_beta(t) for t in range(9)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    >>> schedule.n_epochs
    6
    """

    def __init__(
        self,
        start_beta: float = 0.0,
        target_beta: float = 1.0,
        cycle_length: int = 10,
        n_cycles: int = 4,
        ratio: float = 0.5,
        update: str = "epoch",
        steps_per_epoch: int | None = None,
        verbose: int = 0,
    ):
        super().__init__(update=update, steps_per_epoch=steps_per_epoch, verbose=verbose)
        self.start_beta, self.target_beta = _check_betas(start_beta, target_beta)
        self.cycle_length = check_int("cycle_length", cycle_length)
        self.n_cycles = check_int("n_cycles", n_cycles)
        self.ratio = check_float("ratio", ratio, maximum=1.0, exclusive_minimum=True)

    @property
    def length(self) -> int:
        return (self.n_cycles - 1) * self.cycle_length + _ramp_steps(
            self.cycle_length, self.ratio
        )

    def get_beta(self, t: int) -> float:
        """β at `t` (0-based epoch or global step)."""
        if t >= self.n_cycles * self.cycle_length:
            return self.target_beta
        tau = (t % self.cycle_length) / self.cycle_length
        if tau >= self.ratio:
            return self.target_beta
        return self.start_beta + (self.target_beta - self.start_beta) * tau / self.ratio

    def get_config(self) -> dict:
        return {
            "start_beta": self.start_beta,
            "target_beta": self.target_beta,
            "cycle_length": self.cycle_length,
            "n_cycles": self.n_cycles,
            "ratio": self.ratio,
            **super().get_config(),
        }


@keras.saving.register_keras_serializable(package="betavae_tf")
class SigmoidAnnealing(BetaSchedule):
    """β follows a logistic curve from `start_beta` to `target_beta`.

    Over `duration` epochs or steps, `β(t) = start + (target − start) · s(t)`
    with `s(t) = (σ(k · (t / duration − ½)) − σ(−k/2)) / (σ(k/2) − σ(−k/2))`,
    the logistic σ rescaled so that `s(0) = 0`, `s(duration / 2) = ½` and
    `s(duration) = 1` exactly; `k = steepness`. β is `target_beta` from
    `duration` on, which is also the warm-up `n_epochs` (in epochs; rounded
    up to whole epochs for `update="step"`). The shape is that of Bowman et
    al.'s (2016) logistic KL annealing: slow at first, fast in the middle.

    Args:
        start_beta: β at `t = 0`, >= 0. Defaults to 0.0.
        target_beta: β from `t = duration` on, >= 0. Defaults to 1.0.
        duration: length of the ramp in epochs (or steps, see `update`),
            >= 0 (0: `target_beta` from the start). Defaults to 10.
        steepness: k > 0; larger is closer to a step at `duration / 2`,
            smaller closer to a straight line. Defaults to 10.0.
        update: `"epoch"` or `"step"` (see `BetaSchedule`). Defaults to
            `"epoch"`.
        steps_per_epoch: see `BetaSchedule`. Defaults to `None`.
        verbose: if 1, prints β at each epoch begin. Defaults to 0.

    Example:
    >>> schedule = SigmoidAnnealing(0.0, 2.0, duration=10)
    >>> [round(schedule.get_beta(t), 3) for t in (0, 2, 5, 8, 10, 20)]
    [0.0, 0.083, 1.0, 1.917, 2.0, 2.0]
    """

    def __init__(
        self,
        start_beta: float = 0.0,
        target_beta: float = 1.0,
        duration: int = 10,
        steepness: float = 10.0,
        update: str = "epoch",
        steps_per_epoch: int | None = None,
        verbose: int = 0,
    ):
        super().__init__(update=update, steps_per_epoch=steps_per_epoch, verbose=verbose)
        self.start_beta, self.target_beta = _check_betas(start_beta, target_beta)
        self.duration = check_int("duration", duration, minimum=0)
        self.steepness = check_float("steepness", steepness, exclusive_minimum=True)

    @property
    def length(self) -> int:
        return self.duration

    def get_beta(self, t: int) -> float:
        """β at `t` (0-based epoch or global step)."""
        if t >= self.duration:
            return self.target_beta

        def logistic(v):
            return 1.0 / (1.0 + math.exp(-v))

        half = self.steepness / 2
        fraction = (logistic(self.steepness * (t / self.duration - 0.5)) - logistic(-half)) / (
            logistic(half) - logistic(-half)
        )
        return self.start_beta + (self.target_beta - self.start_beta) * fraction

    def get_config(self) -> dict:
        return {
            "start_beta": self.start_beta,
            "target_beta": self.target_beta,
            "duration": self.duration,
            "steepness": self.steepness,
            **super().get_config(),
        }


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


class MetricsLogger(keras.callbacks.Callback):
    """Logs KL per latent dimension and disentanglement metrics every N epochs.

    At the end of every `every_n_epochs`-th epoch it adds `kl_dim_<j>` (mean
    KL of latent j over `x`, nats) and, when a ground-truth `dataset` is
    given, one number per chosen metric (`mig`, `beta_vae_score`,
    `factor_vae_score`, `dci_disentanglement`, `dci_completeness`,
    `dci_informativeness`, `sap`) to the logs, so they land in the History.
    Other epochs log NaN under the same keys, which keeps History's lists
    aligned with the epochs.

    Args:
        x: examples `(n, *feature_shape)` for the KL per dimension.
        dataset: optional `betavae_tf.datasets.GroundTruthData`.
        metrics: metric names (see `betavae_tf.evaluation.DISENTANGLEMENT_METRICS`).
            Defaults to `("mig",)`.
        every_n_epochs: period in epochs. Defaults to 5.
        scale: fraction of the metrics' default point counts. Defaults to 0.1.
        random_state: seed of the metrics. Defaults to 0.
    """

    def __init__(self, x, dataset=None, metrics=("mig",), every_n_epochs: int = 5,
                 scale: float = 0.1, random_state: int = 0):
        from betavae_tf.evaluation import DISENTANGLEMENT_METRICS, SCORES

        super().__init__()
        self.x = x
        self.dataset = dataset
        self.metrics = tuple(metrics) if dataset is not None else ()
        unknown = sorted(set(self.metrics) - set(DISENTANGLEMENT_METRICS))
        if unknown:
            raise ValueError(
                f"Unknown metric(s) {unknown}; choose from {sorted(DISENTANGLEMENT_METRICS)}."
            )
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs)
        self.scale = check_float("scale", scale, exclusive_minimum=True)
        self.random_state = random_state
        self.score_names = [log for metric, _, log, _ in SCORES if metric in self.metrics]

    def on_epoch_end(self, epoch, logs=None):
        from betavae_tf.evaluation import evaluate_disentanglement, flat_scores
        from betavae_tf.metrics import kl_per_dimension

        if logs is None:
            return
        due = (epoch + 1) % self.every_n_epochs == 0
        kl = kl_per_dimension(self.model, self.x) if due else [math.nan] * self.model.encoding_dim
        logs.update({f"kl_dim_{j}": float(value) for j, value in enumerate(kl)})
        scores = dict.fromkeys(self.score_names, math.nan)
        if due and self.metrics:
            scores.update(flat_scores(evaluate_disentanglement(
                self.model, self.dataset, self.random_state, self.metrics, self.scale)))
        logs.update(scores)


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


# Attributes that make up the state of the stateful Keras callbacks train_vae
# wires, so a resumed run continues exactly where the interrupted one was.
_CALLBACK_STATE = (
    (keras.callbacks.EarlyStopping, ("wait", "best", "best_epoch", "stopped_epoch")),
    (keras.callbacks.ReduceLROnPlateau, ("wait", "best", "cooldown_counter")),
    (BestModelCheckpoint, ("best", "best_epoch")),
)


def _json_number(value):
    """Python/NumPy numbers as JSON-able floats/ints (None stays None)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    return float(value)


STATE_FILE = "state.json"
BACKUP_FORMAT = "betavae_tf.TrainingBackup/1"
# The files a TrainingBackup writes: the state, weights, early stopping's best
# weights, and the temporary files of write_atomically.
_BACKUP_FILE = re.compile(
    r"(state\.json|epoch-\d+(-final)?\.weights\.h5|best-epoch-\d+\.npz"
    r"|\.(state|epoch-\d+(-final)?|best-epoch-\d+)\.partial-\d+\..*)"
)



class TrainingBackup(keras.callbacks.Callback):
    """Backs up the whole training state each epoch; restores it when training starts.

    What `keras.callbacks.BackupAndRestore` does, plus what a resumed β-VAE
    run also needs: the history so far, the state of early stopping, the
    LR-on-plateau scheduler and `BestModelCheckpoint` (including early
    stopping's best weights), and every source of randomness: the seed
    generators of `Sampling` and `Dropout` and those passed as
    `seed_generators` (`train_vae` passes its data pipeline's shuffling). The
    model's weights hold the optimizer state (with the learning rate), β and
    the capacity step counter, so the β schedule and learning rate continue
    where they were: an interrupted run resumed from its backup, even in a new
    process, ends with the weights an uninterrupted run would have.

    Every file is written under a temporary name and renamed; `state.json`,
    renamed last, names the files of the latest complete backup, so a run
    killed at any moment (even mid-save) leaves a consistent backup. Leftovers
    of a killed run (temporary files, files of an older backup) are removed
    when the next run starts. An epoch whose losses are NaN/Inf is never
    backed up. When training ends normally the backup is marked finished: a
    resumed finished run trains no more epochs and returns the saved history.
    `discard_backup` removes a backup (and nothing else).

    Place it after the callbacks whose state it keeps (`train_vae` does).
    A copy with `writes = False` restores the backup but never writes one:
    `fit_distributed` gives one to every worker but the chief, which all
    read the chief's `backup_dir` (it must be on a shared file system).

    Args:
        backup_dir: folder for the backup (created if missing).
        history: the run's `keras.callbacks.History`, whose records are saved
            and put back (pass the same object in `fit`'s callbacks).
        callbacks: stateful callbacks to save and restore (EarlyStopping,
            ReduceLROnPlateau, BestModelCheckpoint; others are ignored).
        seed_generators: `keras.random.SeedGenerator`s outside the model
            whose state must continue too, e.g. the data pipeline's
            `shuffle_seeds` (see `betavae_tf.datasets.pipeline.array_dataset`).
    """

    STATE_FILE = STATE_FILE

    def __init__(self, backup_dir: str | os.PathLike, history: keras.callbacks.History | None = None,
                 callbacks=(), seed_generators=()):
        super().__init__()
        self.backup_dir = os.fspath(backup_dir)
        self.history = history
        self.stateful = [c for c in callbacks if c is not None and self._attributes(c)]
        self.seed_generators = list(seed_generators)
        self.resumed_from_epoch = None
        self.writes = True
        self._state = None  # the latest backup, as read or written by this run
        self._diverged = False

    @staticmethod
    def _attributes(callback) -> tuple:
        for kind, names in _CALLBACK_STATE:
            if isinstance(callback, kind):
                return names
        return ()

    @property
    def state_path(self) -> str:
        return os.path.join(self.backup_dir, self.STATE_FILE)

    def read_state(self) -> dict | None:
        """The latest backup's `state.json` as a dict, or `None` if there is none.

        The state is checked (keys, types, file names inside `backup_dir`,
        one history entry per epoch), so a damaged or tampered state gives a
        one-line `ValueError` instead of a nonsense run, and can neither load
        nor delete files elsewhere.
        """
        return read_backup_state(self.backup_dir)

    def _generators(self) -> list:
        return _seed_generators(self.model) + self.seed_generators

    def on_train_begin(self, logs=None):
        state = self._state = self.read_state()
        if self.writes:
            _remove_leftovers(self.backup_dir, state)
        if state is None:
            return
        epochs = (self.params or {}).get("epochs")
        if epochs is not None and state["epoch"] > epochs:
            raise ValueError(
                f"The training backup in {self.backup_dir!r} has {state['epoch']} epochs done "
                f"but this run asks for {epochs}; ask for at least {state['epoch']} epochs, "
                "or start over without the backup."
            )
        weights = os.path.join(self.backup_dir, state["weights"])
        try:
            self.model.load_weights(weights)
        except Exception as error:  # noqa: BLE001 - h5py/Keras raise many kinds
            raise ValueError(
                f"Cannot restore the training backup in {self.backup_dir!r} into this "
                f"model ({type(error).__name__}: {str(error).splitlines()[0][:200]}); it "
                "belongs to another model or is corrupt: delete the folder to start over."
            ) from None
        for callback, saved in zip(self.stateful, state["callbacks"]):
            for name, value in saved.items():
                if name in self._attributes(callback):
                    setattr(callback, name, value)
            if isinstance(callback, keras.callbacks.EarlyStopping) and state.get("best_weights"):
                with np.load(os.path.join(self.backup_dir, state["best_weights"]),
                             allow_pickle=False) as arrays:
                    callback.best_weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
        for generator, value in zip(self._generators(), state.get("seed_states", [])):
            generator.state.assign(np.asarray(value, dtype=generator.state.dtype))
        if self.history is not None:
            self.history.history = {key: list(values) for key, values in state["history"].items()}
        epoch = self.params.get("epochs", state["epoch"]) if state["finished"] else state["epoch"]
        self.model._initial_epoch = epoch  # the hook Keras's own BackupAndRestore uses
        self.resumed_from_epoch = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes:
            return
        if all(np.ndim(v) or math.isfinite(float(v)) for v in (logs or {}).values()):
            self._save(epoch + 1, finished=False)
        else:
            self._diverged = True

    def on_train_end(self, logs=None):
        # Also when this run trained no epoch: a run killed while writing the
        # final backup is marked finished by its resumption.
        state = self._state
        if self.writes and state is not None and not state["finished"] and not self._diverged:
            self._save(state["epoch"], finished=True)

    def _save(self, epoch: int, finished: bool) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        previous = self._state or {}
        weights = f"epoch-{epoch}{'-final' if finished else ''}.weights.h5"
        try:
            check_room_for(self.state_path, checkpoint_size_estimate(self.model))
        except OSError as error:
            raise OSError(
                f"Cannot back up the training state to {self.backup_dir!r} after epoch "
                f"{epoch} ({error.strerror}); the previous backup is intact. Free disk "
                "space or pass another backup_dir."
            ) from error
        self._write(weights, lambda path: self.model.save_weights(path))
        state = {
            "format": BACKUP_FORMAT,
            "epoch": epoch,
            "finished": finished,
            "weights": weights,
            "best_weights": None,
            "history": self._history_records(),
            "seed_states": [  # Sampling/Dropout noise and shuffling: not part of save_weights
                np.asarray(g.state.numpy()).tolist() for g in self._generators()
            ],
            "callbacks": [
                {name: _json_number(getattr(c, name, None)) for name in self._attributes(c)}
                for c in self.stateful
            ],
        }
        for callback in self.stateful:
            if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best_weights:
                # named by its epoch, so it is written again only when it changes
                state["best_weights"] = f"best-epoch-{callback.best_epoch}.npz"
                if state["best_weights"] != previous.get("best_weights"):
                    arrays = {f"w{i}": np.asarray(w) for i, w in enumerate(callback.best_weights)}
                    self._write(state["best_weights"], lambda path: np.savez(path, **arrays))
        self._write(self.STATE_FILE, lambda path: _write_json(path, state))
        self._state = state
        for name in (previous.get("weights"), previous.get("best_weights")):
            if name and name not in (state["weights"], state["best_weights"]):
                try:
                    os.remove(os.path.join(self.backup_dir, name))
                except FileNotFoundError:
                    pass

    def _history_records(self) -> dict:
        if self.history is None:
            return {}
        return {
            key: [_json_number(v) for v in values] for key, values in self.history.history.items()
        }

    def _write(self, name: str, write) -> None:
        write_atomically(os.path.join(self.backup_dir, name), write)


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def read_backup_state(backup_dir: str | os.PathLike) -> dict | None:
    """The `state.json` of the backup in `backup_dir`, checked, or `None` if there is none.

    Raises:
        ValueError: (one line) if the state is unreadable, damaged (a key
            missing or of the wrong type, a history that does not have one
            entry per epoch), or names files outside `backup_dir`.
    """
    backup_dir = os.fspath(backup_dir)
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.isfile(path):
        return None

    def damaged(what: str):
        return ValueError(
            f"The training backup {path!r} is unreadable ({what}); delete the backup folder "
            "to start over."
        )

    try:
        with open(path, encoding="utf-8") as file:
            state = json.load(file)
    except (OSError, ValueError) as error:
        raise damaged(repr(error)) from None
    if not isinstance(state, dict):
        raise damaged(f"a JSON {type(state).__name__}, not an object")
    expected = {"epoch": int, "finished": bool, "weights": str, "history": dict, "callbacks": list}
    for key, kind in expected.items():
        if key not in state:
            raise damaged(f"no {key!r}")
        value = state[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise damaged(f"{key!r} is {value!r}, not a {kind.__name__}")
    if state["epoch"] < 0:
        raise damaged(f"'epoch' is {state['epoch']}")
    if not isinstance(state.get("best_weights"), (str, type(None))):
        raise damaged(f"'best_weights' is {state['best_weights']!r}")
    for key, values in state["history"].items():
        if not isinstance(values, list) or not all(_number_or_none(v) for v in values):
            raise damaged(f"history {key!r} is not a list of numbers")
        if len(values) != state["epoch"]:
            raise damaged(f"history {key!r} has {len(values)} entries for {state['epoch']} epochs")
    if not all(isinstance(c, dict) and all(_number_or_none(v) for v in c.values())
               for c in state["callbacks"]):
        raise damaged("'callbacks' is not a list of objects of numbers")
    seed_states = state.get("seed_states", [])
    if not isinstance(seed_states, list) or not all(
        isinstance(s, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in s)
        for s in seed_states
    ):
        raise damaged("'seed_states' is not a list of lists of integers")
    for name in (state["weights"], state.get("best_weights")):
        if name is not None:
            check_inside(backup_dir, name, f"The backup file named in {path!r},")
    return state


def _remove_leftovers(backup_dir: str, state: dict | None) -> None:
    """Removes what killed runs left in `backup_dir`: temporary files and
    backup files that the current `state` does not name."""
    if not os.path.isdir(backup_dir):
        return
    remove_stale_partials(backup_dir)
    keep = {STATE_FILE} | ({state["weights"], state.get("best_weights")} if state else set())
    for name in os.listdir(backup_dir):
        if name not in keep and not name.startswith(".") and _BACKUP_FILE.fullmatch(name):
            try:
                os.remove(os.path.join(backup_dir, name))
            except (FileNotFoundError, IsADirectoryError, PermissionError):
                pass


def discard_backup(backup_dir: str | os.PathLike) -> bool:
    """Deletes the training backup in `backup_dir`, and nothing else.

    Only the files a `TrainingBackup` writes are removed, then the folder if
    that leaves it empty. A folder holding anything else is refused: it is
    not a backup (a user's folder, or the output folder itself).

    Returns:
        `True` if a backup was removed, `False` if there was none (no folder,
        or an empty one).

    Raises:
        ValueError: (one line, nothing deleted) if `backup_dir` is a file or
            holds files a backup does not have, or its state is damaged.
    """
    backup_dir = os.fspath(backup_dir)
    if not os.path.lexists(backup_dir):
        return False
    if not os.path.isdir(backup_dir) or os.path.islink(backup_dir):
        raise ValueError(
            f"The backup folder {backup_dir!r} is not a folder; pass a folder of its own "
            "for the training backup."
        )
    names = os.listdir(backup_dir)
    foreign = sorted(n for n in names if not _BACKUP_FILE.fullmatch(n) and n != LOCK_FILE)
    if foreign:
        raise ValueError(
            f"The backup folder {backup_dir!r} holds files that are not a betavae_tf "
            f"training backup ({', '.join(repr(n) for n in foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); nothing was deleted. Pass an empty "
            "or new folder of its own for the backup."
        )
    if os.path.isfile(os.path.join(backup_dir, STATE_FILE)):
        state = read_backup_state(backup_dir)  # a foreign state.json is refused here
        if state.get("format", BACKUP_FORMAT) != BACKUP_FORMAT:
            raise ValueError(
                f"{os.path.join(backup_dir, STATE_FILE)!r} is not a betavae_tf training backup "
                f"(format {state.get('format')!r}); nothing was deleted."
            )
    removed = False
    for name in names:
        if _BACKUP_FILE.fullmatch(name):
            try:
                os.remove(os.path.join(backup_dir, name))
                removed = True
            except FileNotFoundError:  # other workers may be removing it too
                pass
    try:
        os.rmdir(backup_dir)
    except OSError:  # not empty (a lock file, a file that appeared) or already gone
        pass
    return removed


def _seed_generators(model: keras.Model) -> list:
    """Every `keras.random.SeedGenerator` of `model`'s layers, in a fixed order."""
    return [g for layer in model._flatten_layers() for g in getattr(layer, "_seed_generators", [])]


def _write_json(path: str, state: dict) -> None:
    with open(path, "w") as file:
        json.dump(state, file)
        file.flush()
        os.fsync(file.fileno())
