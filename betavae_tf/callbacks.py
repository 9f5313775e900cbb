"""Training-time behaviour of a β-VAE, as Keras callbacks."""

from __future__ import annotations

import math
import os
import warnings

import keras

from betavae_tf.saving import save_vae
from betavae_tf.validation import check_float, check_int


@keras.saving.register_keras_serializable(package="betavae_tf")
class KLAnnealing(keras.callbacks.Callback):
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
        super().__init__()
        self.start_beta = check_float("start_beta", start_beta)
        self.target_beta = check_float("target_beta", target_beta)
        self.n_epochs = check_int("n_epochs", n_epochs, minimum=0)
        self.verbose = verbose

    def get_beta(self, epoch: int) -> float:
        """β for a 0-based `epoch`: the linear ramp, then `target_beta`."""
        if epoch >= self.n_epochs:
            return self.target_beta
        fraction = epoch / self.n_epochs
        return self.start_beta + (self.target_beta - self.start_beta) * fraction

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "beta_variable"):
            raise ValueError(
                "KLAnnealing needs a model with a beta variable (a BetaVAE); got "
                f"{type(self.model).__name__}."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self.model.beta = self.get_beta(epoch)
        if self.verbose:
            keras.utils.io_utils.print_msg(f"\nEpoch {epoch + 1}: beta = {self.model.beta:.4g}")

    def get_config(self) -> dict:
        return {
            "start_beta": self.start_beta,
            "target_beta": self.target_beta,
            "n_epochs": self.n_epochs,
            "verbose": self.verbose,
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
        save_vae(self.model, self.filepath)
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
