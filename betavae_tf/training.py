"""`train_vae`: `model.fit` wired with early stopping, a best checkpoint, an LR
schedule, a β schedule, divergence checks and a resumable backup."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from betavae_tf import keras_internals
from betavae_tf.backup import TrainingBackup
from betavae_tf.callbacks import BestModelCheckpoint, StopOnNonFinite
from betavae_tf.datasets.pipeline import array_dataset, batches_per_pass
from betavae_tf.distribute import (
    fit_distributed,
    is_chief,
    needs_custom_loop,
    replicate_model,
    replicate_optimizer,
    resolve_strategy,
    strategy_scope,
)
from betavae_tf.epoch_loop import ArrayEpochs, resolve_compiled_epoch
from betavae_tf.models import BetaVAE, check_beta_vae
from betavae_tf.optimizers import FusedAdam
from betavae_tf.run_lock import folder_lock, remove_stale_partials
from betavae_tf.training_checks import (
    check_callbacks,
    check_outputs,
    check_speed_and_optimizer,
    fill_in_schedule_and_objective,
    learning_rate_setup,
    prepare_data,
    steps_per_epoch,
)
from betavae_tf.validation import check_float, check_int

AUTO_STEPS_PER_EXECUTION = 32


class TrainingDivergedError(FloatingPointError):
    """Training stopped because a loss became NaN or Inf.

    Attributes:
        history: the `keras.callbacks.History` up to the failure.
    """

    def __init__(self, message: str, history: keras.callbacks.History):
        super().__init__(message)
        self.history = history


def warmup_epochs(kl_scheduler, epochs: int) -> int:
    """Epochs during which β still moves, so losses are not comparable.

    The scheduler's `n_epochs` (0 when it has none). Early stopping, the
    checkpoint and the plateau scheduler start watching after them; at least
    the last epoch is always watched.
    """
    return max(0, min(getattr(kl_scheduler, "n_epochs", 0), epochs - 1))



def best_epoch(history: keras.callbacks.History, monitor: str = "val_loss", start_from_epoch: int = 0) -> int:
    """The 0-based epoch with the lowest finite `monitor` from `start_from_epoch` on."""
    values = np.asarray(history.history[monitor], dtype=float)[start_from_epoch:]
    if not np.isfinite(values).any():
        raise ValueError(f"No finite {monitor} was logged after epoch {start_from_epoch}.")
    return start_from_epoch + int(np.nanargmin(np.where(np.isfinite(values), values, np.nan)))





def train_vae(
    model: BetaVAE,
    X_train,
    X_val=None,
    batch_size: int = 64,
    epochs: int = 100,
    learning_rate: float = 1e-3,
    save_path: str | os.PathLike | None = "checkpoints/best_vae.h5",
    kl_scheduler: keras.callbacks.Callback | None = None,
    lr_scheduler: str | Callable | keras.callbacks.Callback | None = "plateau",
    patience: int | None = 5,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    optimizer: keras.optimizers.Optimizer | None = None,
    shuffle: bool = True,
    verbose="auto",
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    backup_dir: str | os.PathLike | None = None,
    jit_compile: bool | str = "auto",
    steps_per_execution: int | str = "auto",
    endless_loop: bool = True,
    fused_adam: bool = True,
    compiled_epoch: bool | str = "auto",
    seed: int | None = None,
    deterministic: bool = False,
    strategy: str | tf.distribute.Strategy | None = None,
) -> tuple[keras.callbacks.History, BetaVAE]:
    """Compiles and fits `model` with early stopping, checkpoints and LR schedule.

    Wires, in this order: `kl_scheduler` (e.g. `KLAnnealing`),
    `StopOnNonFinite` (Keras's `TerminateOnNaN`, saying where and which
    term), Keras `EarlyStopping(monitor="val_loss", patience=5,
    restore_best_weights=True)`, a best-only checkpoint of the whole model to
    `save_path` (written atomically), the learning-rate scheduler, your
    `callbacks`, and with `backup_dir` a `TrainingBackup`. Every argument is
    checked before training starts.

    While a `kl_scheduler` with `n_epochs` is still warming β up, losses of
    different epochs are not comparable (β changes), so early stopping, the
    checkpoint and the plateau scheduler start watching at epoch `n_epochs`.
    A per-step scheduler (`update="step"`) without `steps_per_epoch` gets
    it from the data (arrays, or datasets of known length).

    A `"tcvae"` model whose `dataset_size` is `None` gets `len(X_train)`
    for array data; for a `tf.data.Dataset` pass `dataset_size` to the model.

    Args:
        model: a `BetaVAE`.
        X_train: array of shape `(n, *model.feature_shape)`, or a batched
            `tf.data.Dataset` yielding `x` or `(x, ...)`.
        X_val: validation data of the same kind, or `None` (then `loss` is
            monitored instead of `val_loss`).
        batch_size: examples per step for arrays (datasets are already
            batched). Defaults to 64.
        epochs: the most epochs to run. Defaults to 100.
        learning_rate: Adam's learning rate. Defaults to 1e-3.
        save_path: best-model file (`.h5` or `.keras`), or `None` for no
            checkpoint. Defaults to `"checkpoints/best_vae.h5"`.
        kl_scheduler: a callback that sets β each epoch, or `None`.
        lr_scheduler: `"plateau"` (default: `ReduceLROnPlateau(factor=0.5,
            patience=3, min_lr=1e-6)`), `None`, any Keras callback, a function
            `(epoch, lr) -> lr` (used with `LearningRateScheduler`) or a
            `keras.optimizers.schedules.LearningRateSchedule`.
        patience: early-stopping patience in epochs, or `None` to disable
            early stopping. Defaults to 5.
        callbacks: extra Keras callbacks.
        optimizer: use this optimizer instead of `FusedAdam(learning_rate)`
            (Keras's Adam with a fused update, see `betavae_tf.optimizers`),
            e.g. to keep the state of a reloaded model's optimizer, or
            `keras.optimizers.Adam(learning_rate)` for Keras's own update.
        shuffle: shuffle array data each epoch. Defaults to `True`.
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
        clipnorm: if set (> 0), Adam clips each weight's gradient to this L2
            norm. Defaults to `None` (no clipping).
        clipvalue: if set (> 0), Adam clips every gradient element to
            `[-clipvalue, clipvalue]`. Defaults to `None`. At most one of
            `clipnorm` and `clipvalue`; neither with `optimizer` (set them on
            your optimizer instead).
        backup_dir: if set, the whole training state (weights, optimizer,
            β, epoch, history, early-stopping/LR/checkpoint state) is backed
            up there after every epoch, and a run started with a backup there
            resumes from it (see `TrainingBackup`). Defaults to `None`.
        jit_compile: compile the training step with XLA: `True`, `False` or
            `"auto"` (Keras's choice: XLA on GPUs only). Defaults to `"auto"`.
        steps_per_execution: training steps run per call into the compiled
            graph, `"auto"` or an int >= 1. More steps per call remove
            Python overhead per step; batch-level callbacks then see every
            k-th batch. `"auto"` picks 1 when a per-step β schedule runs,
            else the steps of an epoch up to 32 (from 16 to 32, one that
            divides them if there is one). Defaults to `"auto"`.
        endless_loop: run the steps of each call through
            `betavae_tf.train_loop` (array data, whose pipeline never ends)
            instead of Keras's loop, which checks for the end of the data
            around every step. Same losses; faster on small networks.
            Defaults to `True`.
        compiled_epoch: run each epoch over array data as one XLA program
            (`betavae_tf.epoch_loop`: the batches' gather, every step and
            the loop over them compiled together; same order, same noise,
            the same losses to float rounding): `True`, `False` or `"auto"`,
            which compiles epochs only where that was measured to win
            (`epoch_loop.resolve_compiled_epoch`: a small dense network on
            a CPU, array data on one device, no per-step β schedule,
            `steps_per_execution="auto"`, and enough planned steps to pay
            for the few seconds of compilation). `True` raises a
            `ValueError` where it cannot apply (datasets, strategies,
            per-step schedules, an explicit `steps_per_execution`).
            Defaults to `"auto"`.
        fused_adam: the default optimizer is `FusedAdam` (one fused
            TensorFlow kernel per weight; the same update as Keras's Adam)
            if `True`, `keras.optimizers.Adam` if `False`. Defaults to
            `True`; ignored when `optimizer` is given.
        seed: if set, `keras.utils.set_random_seed(seed)` before training
            (shuffling, dropout). Seed the model's construction yourself.
        deterministic: if `True`, enables TensorFlow's op determinism
            (`tf.config.experimental.enable_op_determinism`, process-wide)
            so that runs with the same seed give identical weights.
            Defaults to `False`.
        strategy: data-parallel training on `tf.distribute`: `None` or
            `"default"` (one device), `"mirrored"` (every local GPU, or the
            CPU), `"multi-worker"` (a cluster described by `TF_CONFIG`; create
            it first with `betavae_tf.distribute.resolve_strategy` before
            building the model), or a `tf.distribute.Strategy`. `batch_size`
            is the global batch; losses are averaged over it, so results
            match one device. The model is copied into the strategy's scope
            and the best weights are copied back into `model`. Multi-worker
            training runs `betavae_tf.distribute.fit_distributed` (Keras 3
            `fit` does not support it) and only the chief writes the
            checkpoint and the backup, which every worker restores from
            `backup_dir` (a folder all workers see). Defaults to `None`.

    Returns:
        `(history, model)`; `model` holds the best weights seen.

    Raises:
        ValueError: for bad data or arguments (before any training).
        OSError: if the checkpoint folder cannot be written.
        TrainingDivergedError: if a loss became NaN/Inf; the best checkpoint
            on disk is untouched and the error carries the history.
    """
    strategy = resolve_strategy(strategy)  # first: a cluster must be joined before TF runs
    check_beta_vae(model)
    batch_size = check_int("batch_size", batch_size)
    epochs = check_int("epochs", epochs)
    learning_rate = check_float("learning_rate", learning_rate, exclusive_minimum=True)
    if patience is not None:
        patience = check_int("patience", patience, minimum=0)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    clipping = check_speed_and_optimizer(optimizer, clipnorm, clipvalue, jit_compile,
                                          steps_per_execution, endless_loop, fused_adam,
                                          compiled_epoch)
    X_train = prepare_data(X_train, "X_train", model, batch_size)
    if X_val is not None:
        X_val = prepare_data(X_val, "X_val", model, None)
    save_path, backup_dir = check_outputs(model, save_path, backup_dir)
    check_callbacks(kl_scheduler, callbacks)

    custom_loop = needs_custom_loop(strategy)
    fill_in_schedule_and_objective(model, kl_scheduler, X_train, batch_size)
    compiled_epoch = resolve_compiled_epoch(
        compiled_epoch, model, array_input=isinstance(X_train, np.ndarray), strategy=strategy,
        per_step_schedule=getattr(kl_scheduler, "update", None) == "step",
        steps_per_execution=steps_per_execution, jit_compile=jit_compile,
        planned_steps=epochs * (steps_per_epoch(X_train, batch_size) or 0),
    )
    original = model
    if strategy is not None:  # dataset_size is filled in first: it is part of the config
        model = replicate_model(model, strategy)
        if optimizer is not None:
            optimizer = replicate_optimizer(optimizer, strategy, model.trainable_variables)
    monitor = "val_loss" if X_val is not None else "loss"
    warmup = warmup_epochs(kl_scheduler, epochs)
    optimizer_learning_rate, lr_callback = learning_rate_setup(lr_scheduler, learning_rate, monitor, warmup)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    with strategy_scope(strategy):  # the optimizer's slots must be created in the scope
        model.compile(
            optimizer=optimizer or (FusedAdam if fused_adam else keras.optimizers.Adam)(
                optimizer_learning_rate, **clipping
            ),
            jit_compile=jit_compile,
            steps_per_execution=_resolve_steps_per_execution(
                steps_per_execution, kl_scheduler, steps_per_epoch(X_train, batch_size)
            ),
        )
    model.endless_loop = endless_loop

    # The order of every pass over array data; its state is backed up with
    # the model's own seed generators, so a resumed run shuffles on exactly.
    shuffle_seeds = keras.random.SeedGenerator(seed)
    wired = _wire_callbacks(kl_scheduler, lr_callback, callbacks, monitor, warmup, patience,
                            save_path, backup_dir, shuffle_seeds)
    if save_path is not None:  # what runs killed while saving left behind
        remove_stale_partials(os.path.dirname(os.path.abspath(save_path)))
    # One writer per backup: a second run on the same backup_dir is refused
    # (multi-worker: only the chief writes; the others read its backup).
    writes_backup = backup_dir is not None and (not custom_loop or is_chief(strategy))
    with folder_lock(backup_dir, "backup folder") if writes_backup else contextlib.nullcontext():
        _fit(model, original, X_train, X_val, wired.callbacks, strategy, custom_loop, batch_size,
             epochs, shuffle, shuffle_seeds, verbose, seed, compiled_epoch)
    if wired.non_finite.failure is not None:
        if save_path is None:
            kept = "The"
        elif os.path.isfile(save_path):
            kept = f"The best checkpoint {save_path!r} was kept and the"
        else:
            kept = "No checkpoint was written (it diverged before the first one); the"
        raise TrainingDivergedError(
            f"Training diverged in {wired.non_finite.failure} became NaN/Inf. {kept} error's "
            "history holds the epochs so far; lower learning_rate or beta (or pass clipnorm) "
            "and retry.",
            wired.history,
        )
    return wired.history, original


class _Wired(NamedTuple):
    callbacks: list
    history: keras.callbacks.History
    non_finite: StopOnNonFinite


def _wire_callbacks(kl_scheduler, lr_callback, callbacks, monitor: str, warmup: int, patience,
                    save_path, backup_dir, shuffle_seeds) -> _Wired:
    """`train_vae`'s callbacks, in order: the β schedule, the NaN stop, early
    stopping, the checkpoint, the LR scheduler, the user's, the history and,
    last (it saves and restores the others' state), the backup."""
    history = keras.callbacks.History()
    non_finite = StopOnNonFinite()
    wired = [kl_scheduler, non_finite]
    if patience is not None:
        wired.append(keras.callbacks.EarlyStopping(
            monitor=monitor, patience=patience, restore_best_weights=True, start_from_epoch=warmup,
        ))
    if save_path is not None:
        wired.append(BestModelCheckpoint(save_path, monitor=monitor, start_from_epoch=warmup))
    wired += [lr_callback, *callbacks, history]  # history sees the logs the others add
    if backup_dir is not None:
        wired.append(TrainingBackup(backup_dir, history=history, callbacks=wired,
                                    seed_generators=[shuffle_seeds]))
    return _Wired([c for c in wired if c is not None], history, non_finite)


def _fit(model, original, X_train, X_val, callbacks, strategy, custom_loop, batch_size, epochs,
         shuffle, shuffle_seeds, verbose, seed, compiled_epoch=False) -> None:
    """Runs the fit that suits the data and strategy; `original` gets the weights."""
    array_input = isinstance(X_train, np.ndarray)
    try:
        if compiled_epoch:  # the same passes as array_dataset's, one XLA program each
            model.fit(
                ArrayEpochs(X_train, batch_size, shuffle=shuffle, shuffle_seeds=shuffle_seeds),
                validation_data=None if X_val is None else array_dataset(X_val, batch_size),
                epochs=epochs,
                shuffle=False,  # ArrayEpochs shuffles
                callbacks=callbacks,
                verbose=verbose,
            )
        elif custom_loop:
            fit_distributed(
                model, X_train, X_val, strategy=strategy, batch_size=batch_size,
                epochs=epochs, callbacks=callbacks, shuffle=shuffle and array_input,
                verbose=verbose, seed=seed,
            )
        elif array_input:  # our synchronous pipeline: less fixed cost per epoch than Keras's
            steps = batches_per_pass(len(X_train), batch_size)
            # One endless iterator saves re-creating it each epoch, but Keras runs whole
            # executions on endless data, so only when they tile the epoch exactly.
            endless = steps % model.steps_per_execution == 0
            model.fit(
                array_dataset(X_train, batch_size, shuffle=shuffle, repeat=endless,
                              shuffle_seeds=shuffle_seeds),
                validation_data=None if X_val is None else array_dataset(X_val, batch_size),
                steps_per_epoch=steps if endless else None,
                epochs=epochs,
                shuffle=False,  # array_dataset shuffles
                callbacks=callbacks,
                verbose=verbose,
            )
        else:
            model.fit(
                X_train,
                validation_data=X_val,
                epochs=epochs,
                shuffle=False,  # a dataset is already shuffled as it should be
                callbacks=callbacks,
                verbose=verbose,
            )
    finally:
        keras_internals.set_initial_epoch(model, None)  # a resumed fit must not leak it
        if model is not original:  # the caller's model gets the trained (best) weights
            original.set_weights(model.get_weights())


def _resolve_steps_per_execution(value, kl_scheduler, steps_per_epoch: int | None) -> int:
    """`steps_per_execution` for `compile`: the user's int, or the "auto" choice."""
    per_step_schedule = getattr(kl_scheduler, "update", None) == "step"
    if value == "auto":
        if per_step_schedule:
            return 1
        if steps_per_epoch is None:
            return AUTO_STEPS_PER_EXECUTION
        if steps_per_epoch <= AUTO_STEPS_PER_EXECUTION:
            return steps_per_epoch
        # prefer executions that tile the epoch exactly (see the fit call), else the cap
        tiling = [d for d in range(AUTO_STEPS_PER_EXECUTION // 2, AUTO_STEPS_PER_EXECUTION + 1)
                  if steps_per_epoch % d == 0]
        return max(tiling, default=AUTO_STEPS_PER_EXECUTION)
    if value > 1 and per_step_schedule:
        raise ValueError(
            f"A per-step {type(kl_scheduler).__name__} needs steps_per_execution=1 (β "
            f"is set before every step). Received: steps_per_execution={value}"
        )
    return value
