"""β schedules: callbacks that set the model's β from a pure function of time.

Each schedule is a pure function of the epoch (or of the global training
step), `get_beta(t)`; the callback only assigns its value to the model's β
*variable*, which the compiled training step reads.
"""

from __future__ import annotations

import math

import keras

from betavae_tf.validation import check_float, check_int

__all__ = ['BetaSchedule', 'KLAnnealing', 'CyclicalAnnealing', 'SigmoidAnnealing', 'SCHEDULE_UPDATES']

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
