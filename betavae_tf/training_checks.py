"""Checks of `train_vae`'s arguments and data, all made before any training.

Each raises a one-line error naming the bad value and the fix; `train_vae`
calls them first, so nothing is compiled or written when one fails.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from betavae_tf.backup import TrainingBackup
from betavae_tf.callbacks import DelayedReduceLROnPlateau
from betavae_tf.datasets.pipeline import batches_per_pass
from betavae_tf.models import BetaVAE
from betavae_tf.saving import check_model_path, check_room_for, checkpoint_size_estimate
from betavae_tf.validation import (
    check_float,
    check_int,
    ensure_writable_folder,
    validate_dataset,
    validate_features,
)


def steps_per_epoch(data, batch_size: int) -> int | None:
    """Training steps per epoch for arrays and datasets of known length."""
    if isinstance(data, np.ndarray):
        return batches_per_pass(len(data), batch_size)
    cardinality = int(data.cardinality())
    return cardinality if cardinality > 0 else None


def fill_in_schedule_and_objective(model: BetaVAE, kl_scheduler, X_train, batch_size: int):
    """Gives per-step β schedules their steps per epoch and "tcvae" models
    their `dataset_size` (from array data), or explains what is missing."""
    if getattr(kl_scheduler, "update", None) == "step":
        steps = steps_per_epoch(X_train, batch_size)
        if steps is not None:
            kl_scheduler.steps_per_epoch = steps
        elif kl_scheduler.steps_per_epoch is None:
            raise ValueError(
                f"X_train is a dataset of unknown length, so the per-step "
                f"{type(kl_scheduler).__name__} cannot know its warm-up in epochs; "
                "pass steps_per_epoch=... to the scheduler."
            )
    if model.objective.missing_dataset_size():
        if not isinstance(X_train, np.ndarray):
            raise ValueError(
                f"The {model.objective.name!r} objective needs the number of training examples, which a "
                "tf.data.Dataset does not tell; pass BetaVAE(..., dataset_size=N). "
                "Received: dataset_size=None"
            )
        model.dataset_size = len(X_train)


def prepare_data(data, name: str, model: BetaVAE, batch_size: int | None):
    """Validates arrays (returned as float32) and datasets (returned as is)."""
    if isinstance(data, tf.data.Dataset):
        validate_dataset(data, name, model.feature_shape)
        if int(data.cardinality()) == 0:
            raise ValueError(
                f"{name} is an empty tf.data.Dataset (0 batches); check the data source "
                "or the filters and take() applied to it."
            )
        return data
    array = validate_features(data, name, model.feature_shape, min_examples=2)
    if model.likelihood.name == "bernoulli" and (array.min() < 0 or array.max() > 1):
        raise ValueError(
            f"{name} has values in [{array.min():g}, {array.max():g}] but the bernoulli "
            "likelihood needs data in [0, 1]; divide 8-bit images by 255 or use likelihood='mse'."
        )
    if batch_size is not None and batch_size > len(array):
        raise ValueError(
            f"batch_size={batch_size} is larger than the {len(array)} examples in "
            f"{name}; pass batch_size <= {len(array)}."
        )
    return array


def check_writable(path: str, model: BetaVAE, what: str = "checkpoint folder",
                    fix: str = "pass a save_path in a writable folder") -> None:
    """Refuses, before training, a checkpoint path that cannot be written."""
    if os.path.isdir(path):
        raise OSError(
            f"The checkpoint path {path!r} is a folder; pass a file path ending in "
            ".h5 or .keras."
        )
    ensure_writable_folder(os.path.dirname(os.path.abspath(path)), what, fix)
    try:
        check_room_for(path, checkpoint_size_estimate(model, path))
    except OSError as error:
        raise OSError(
            f"No room for the checkpoint {path!r}: {error.strerror}; free disk space "
            "or choose a folder on another disk."
        ) from None


def learning_rate_setup(lr_scheduler, learning_rate: float, monitor: str, warmup: int):
    """Returns `(optimizer learning rate, callback or None)` for `lr_scheduler`."""
    if lr_scheduler is None:
        return learning_rate, None
    if isinstance(lr_scheduler, str):
        if lr_scheduler != "plateau":
            raise ValueError(
                f"Unknown lr_scheduler {lr_scheduler!r}; pass 'plateau', None, a "
                "keras Callback, a function (epoch, lr) -> lr, or a "
                "keras.optimizers.schedules.LearningRateSchedule."
            )
        return learning_rate, DelayedReduceLROnPlateau(
            start_from_epoch=warmup,
            monitor=monitor,
            factor=0.5,
            patience=3,
            min_lr=1e-6,
        )
    if isinstance(lr_scheduler, keras.optimizers.schedules.LearningRateSchedule):
        return lr_scheduler, None
    if isinstance(lr_scheduler, keras.callbacks.Callback):
        return learning_rate, lr_scheduler
    if callable(lr_scheduler):
        return learning_rate, keras.callbacks.LearningRateScheduler(lr_scheduler)
    raise ValueError(
        f"lr_scheduler must be 'plateau', None, a Callback, a function or a "
        f"LearningRateSchedule. Received: lr_scheduler={lr_scheduler!r}"
    )


def check_speed_and_optimizer(optimizer, clipnorm, clipvalue, jit_compile, steps_per_execution,
                               endless_loop, fused_adam, compiled_epoch="auto") -> dict:
    """Checks `train_vae`'s optimizer and speed arguments; returns the clipping to set."""
    clipping = {}
    for name, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue)):
        if value is not None:
            clipping[name] = check_float(name, value, exclusive_minimum=True)
    if len(clipping) == 2:
        raise ValueError(
            "Pass at most one of clipnorm and clipvalue. Received: "
            f"clipnorm={clipnorm!r}, clipvalue={clipvalue!r}"
        )
    if clipping and optimizer is not None:
        raise ValueError(
            f"{next(iter(clipping))} applies to the default Adam; set it on your "
            f"optimizer instead. Received: optimizer={type(optimizer).__name__}"
        )
    if jit_compile not in (True, False, "auto"):
        raise ValueError(
            f"jit_compile must be True, False or 'auto'. Received: jit_compile={jit_compile!r}"
        )
    if steps_per_execution != "auto":
        check_int("steps_per_execution", steps_per_execution)
    for name, value in (("endless_loop", endless_loop), ("fused_adam", fused_adam)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False. Received: {name}={value!r}")
    if compiled_epoch not in (True, False, "auto") or not isinstance(compiled_epoch, (bool, str)):
        raise ValueError(
            f"compiled_epoch must be True, False or 'auto'. Received: compiled_epoch={compiled_epoch!r}"
        )
    return clipping


def check_outputs(model: BetaVAE, save_path, backup_dir) -> tuple[str | None, str | None]:
    """The checkpoint path and backup folder, checked writable (with room) before training."""
    if save_path is not None:
        save_path = check_model_path(save_path)
        check_writable(save_path, model)
    if backup_dir is not None:
        backup_dir = os.fspath(backup_dir)
        check_writable(os.path.join(backup_dir, TrainingBackup.STATE_FILE), model,
                        "backup folder", "pass a backup_dir in a writable place")
    return save_path, backup_dir


def check_callbacks(kl_scheduler, callbacks) -> None:
    if kl_scheduler is not None and not isinstance(kl_scheduler, keras.callbacks.Callback):
        raise ValueError(
            "kl_scheduler must be a keras Callback such as KLAnnealing; got "
            f"{type(kl_scheduler).__name__}."
        )
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise ValueError(f"callbacks must be keras Callbacks; got {callback!r}.")
