"""Data-parallel training of a `BetaVAE` with `tf.distribute`.

Three strategies (`resolve_strategy`):

* `"default"` (or `None`): one device, plain `model.fit`.
* `"mirrored"`: `tf.distribute.MirroredStrategy` over every GPU of this
  machine (or its logical CPUs when it has none); trained with Keras `fit`.
* `"multi-worker"`: `tf.distribute.MultiWorkerMirroredStrategy` over the
  machines listed in the `TF_CONFIG` environment variable. Keras 3's `fit`
  cannot drive it on TensorFlow 2.21: a plain Sequential model fails inside
  `fit` with a `PerReplica` conversion error (tensorflow/tensorflow#72388),
  and a BetaVAE in Keras's multi-worker reduction of the logs
  (`strategy.reduce("MEAN", value, axis=0)` of a scalar: "Invalid reduction
  dimension 0 for input with 0 dimensions"). So `fit_distributed` trains it
  with a hand-written loop that runs `BetaVAE.train_step` on every replica
  and drives the same Keras callbacks as `fit`.

Losses are averaged over the *global* batch: each replica differentiates
its share `n_r / N` of the global batch's mean loss and Keras's optimizer sums
the replicas' gradients, so one step on R replicas equals one step on one
device with the whole batch (see `betavae_tf.replicas.global_batch_losses`).

A training run on a strategy goes: `strategy = resolve_strategy(name)` (for
`"multi-worker"` before TensorFlow has run anything), `model =
replicate_model(model, strategy)`, compile inside `strategy_scope(strategy)`
(the optimizer must be created there, or copied with `replicate_optimizer`),
then `model.fit` (`"mirrored"`) or `fit_distributed` (`needs_custom_loop`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from betavae_tf import keras_internals
from betavae_tf.backup import TrainingBackup
from betavae_tf.callbacks import BestModelCheckpoint
from betavae_tf.datasets.pipeline import batches_per_pass
from betavae_tf.models import BetaVAE, check_beta_vae

STRATEGIES = ("default", "mirrored", "multi-worker")

_TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
    '"task": {"type": "worker", "index": 0}}\' (index 1 on host1)'
)

# MultiWorkerMirroredStrategy configures collective ops once per process, so
# "multi-worker" always resolves to this one instance.
_multi_worker_strategy: tf.distribute.Strategy | None = None


# ------------------------------------------------------------------ strategies
def _tf_config() -> dict:
    """`TF_CONFIG` parsed and checked; one-line errors say what to fix."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        raise ValueError(
            "strategy='multi-worker' needs the TF_CONFIG environment variable on every "
            f"worker, e.g. {_TF_CONFIG_EXAMPLE}."
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({error.msg} at character {error.pos}); "
            f"set it like {_TF_CONFIG_EXAMPLE}."
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    jobs = {
        name: hosts
        for name, hosts in (cluster or {}).items()
        if name in ("chief", "worker")
    } if isinstance(cluster, dict) else {}
    if not jobs or not all(
        isinstance(hosts, list) and hosts and all(isinstance(h, str) and ":" in h for h in hosts)
        for hosts in jobs.values()
    ):
        raise ValueError(
            "TF_CONFIG needs a 'cluster' with a 'worker' (and optionally 'chief') list "
            f"of 'host:port' strings; set it like {_TF_CONFIG_EXAMPLE}. Received: {raw}"
        )
    if (
        not isinstance(task, dict)
        or task.get("type") not in jobs
        or not isinstance(task.get("index"), int)
        or not 0 <= task["index"] < len(jobs[task["type"]])
    ):
        raise ValueError(
            "TF_CONFIG needs a 'task' naming this process, {'type': one of "
            f"{sorted(jobs)}, 'index': its position in that list}}; set it like "
            f"{_TF_CONFIG_EXAMPLE}. Received: {raw}"
        )
    return config


def _multi_worker() -> tf.distribute.Strategy:
    global _multi_worker_strategy
    if _multi_worker_strategy is None:
        _tf_config()
        try:
            _multi_worker_strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            if "program startup" not in str(error):
                raise
            raise RuntimeError(
                "The multi-worker strategy must be created before TensorFlow runs "
                "anything: call betavae_tf.distribute.resolve_strategy('multi-worker') "
                "at the start of the program, before building or loading the model, "
                "and pass the strategy it returns."
            ) from None
    return _multi_worker_strategy


def resolve_strategy(
    strategy: str | tf.distribute.Strategy | None,
) -> tf.distribute.Strategy | None:
    """Returns the `tf.distribute.Strategy` that `strategy` names.

    Args:
        strategy: `None` or `"default"` (one device: returns `None`),
            `"mirrored"` (`MirroredStrategy` over every logical GPU of this
            machine, or every logical CPU when it has none), `"multi-worker"`
            (`MultiWorkerMirroredStrategy` over the cluster in `TF_CONFIG`;
            the same instance on every call), or a `tf.distribute.Strategy`,
            returned as is.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones),
            or for `"multi-worker"` when `TF_CONFIG` is missing or malformed.
        RuntimeError: for `"multi-worker"` when TensorFlow has already run
            operations in this process (it must be created first).
    """
    if strategy is None or isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {strategy!r}; choose one of {list(STRATEGIES)} or pass "
            "a tf.distribute.Strategy."
        )
    if strategy == "default":
        return None
    if strategy == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return _multi_worker()


def needs_custom_loop(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether `strategy` must be trained with `fit_distributed` (Keras 3's
    `fit` fails with `MultiWorkerMirroredStrategy` on TF 2.21) rather than
    `model.fit`."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def strategy_scope(strategy: tf.distribute.Strategy | None):
    """`strategy.scope()`, or a no-op context for `None`."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes files: always, except on a multi-worker
    cluster, where only the `"chief"` task (or worker 0 when the cluster has
    no chief) does."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not needs_custom_loop(strategy) or resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _broadcast(strategy: tf.distribute.Strategy, values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The first replica's `values` (arrays of any shape), on every worker."""
    values = [np.asarray(v) for v in values]
    tensors = [tf.constant(v, tf.float64 if v.dtype.kind in "iub" else v.dtype) for v in values]

    def first_replica_values():
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        return context.all_reduce(
            tf.distribute.ReduceOp.SUM, [tf.where(first, t, tf.zeros_like(t)) for t in tensors]
        )

    results = tf.function(lambda: strategy.run(first_replica_values))()
    return [
        strategy.experimental_local_results(r)[0].numpy().astype(v.dtype)
        for r, v in zip(results, values)
    ]


# ---------------------------------------------------------------- replication
def replicate_model(model: BetaVAE, strategy: tf.distribute.Strategy | None) -> BetaVAE:
    """A copy of `model` whose variables live on `strategy`'s replicas.

    The copy is rebuilt from `model.get_config()` inside `strategy.scope()`
    and given `model`'s weights (uncompiled: compile it inside
    `strategy_scope(strategy)`). On a multi-worker cluster the weights of the
    first worker are then copied to every worker, so all start identical even
    if each built its model differently. A model already built in this
    strategy's scope is returned itself; `None` returns `model`.

    Raises:
        ValueError: if `model` is not a `BetaVAE`, or cannot be rebuilt from
            its config (then build it inside `strategy.scope()` yourself).
    """
    check_beta_vae(model)
    if strategy is None:
        return model
    replica = model
    if keras_internals.distribute_strategy_of(model) is not strategy:
        try:
            with strategy.scope():
                replica = type(model).from_config(model.get_config())
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Cannot rebuild the model from its config to replicate it ({error}); "
                "build it inside strategy.scope() instead."
            ) from None
        replica.set_weights(model.get_weights())
    if needs_custom_loop(strategy):
        replica.set_weights(_broadcast(strategy, replica.get_weights()))
    return replica


def replicate_optimizer(
    optimizer: keras.optimizers.Optimizer,
    strategy: tf.distribute.Strategy | None,
    variables: Sequence | None = None,
) -> keras.optimizers.Optimizer:
    """`optimizer`, or a copy created inside `strategy.scope()`.

    An optimizer created outside the scope keeps plain (not mirrored) slot
    variables and silently trains wrongly on several replicas, so it is
    rebuilt from its config in the scope. If it was already built (e.g. a
    reloaded model's optimizer) and `variables` (the replicated model's
    `trainable_variables`, same order as the original's) are given, its
    state (iterations, moments, ...) is copied too.

    Raises:
        ValueError: if the built optimizer's state does not match `variables`.
    """
    if strategy is None or getattr(optimizer, "_distribution_strategy", None) is strategy:
        return optimizer
    with strategy.scope():
        replica = type(optimizer).from_config(optimizer.get_config())
        if optimizer.built and variables is not None:
            replica.build(list(variables))
    if optimizer.built and variables is not None:
        shapes = [tuple(v.shape) for v in optimizer.variables]
        if shapes != [tuple(v.shape) for v in replica.variables]:
            raise ValueError(
                "The optimizer's state does not match the model's variables; pass an "
                "optimizer built for this model, or a fresh one."
            )
        for target, source in zip(replica.variables, optimizer.variables):
            target.assign(source)
    return replica


# ------------------------------------------------------------------ input data
def _array_batches(
    x: np.ndarray,
    strategy: tf.distribute.Strategy,
    global_batch: int,
    order: np.ndarray,
) -> Iterable:
    """`x[order]` in global batches of `global_batch` rows, each split into
    one contiguous slice per replica (`np.array_split`: sizes differ by at
    most one; a last batch smaller than the replicas leaves some empty).

    Every worker computes the same split from the same `order` and feeds
    only its own replicas' slices, so no row is seen twice or skipped.

    Returns:
        A distributed dataset whose elements hold, per replica, a float
        array of shape `(rows, *x.shape[1:])`.
    """
    replicas = strategy.num_replicas_in_sync
    starts = range(0, len(order), global_batch)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local
        # Local replicas take the pipeline's elements in turn.
        slices = [
            piece
            for start in starts
            for piece in np.array_split(order[start:start + global_batch], replicas)[first:first + local]
        ]
        return tf.data.Dataset.from_generator(
            lambda: (x[index] for index in slices),
            output_signature=tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)),
        ).prefetch(2)

    return strategy.distribute_datasets_from_function(dataset_fn)


def _dataset_batches(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy) -> Iterable:
    """A batched dataset whose batches are global batches, distributed."""
    return strategy.experimental_distribute_dataset(dataset)


def _steps(data, batch_size: int) -> int | None:
    if isinstance(data, tf.data.Dataset):
        cardinality = int(data.cardinality())
        return cardinality if cardinality >= 0 else None
    return batches_per_pass(len(data), batch_size)


def _local_checkpoints(callbacks: Sequence, folder: str) -> list:
    """Copies of the checkpoint callbacks that write into `folder` instead,
    and of `TrainingBackup` that only restore (a non-chief worker's)."""
    kept = []
    for callback in callbacks:
        if isinstance(callback, (BestModelCheckpoint, keras.callbacks.ModelCheckpoint)):
            callback = copy.copy(callback)
            callback.filepath = os.path.join(folder, os.path.basename(callback.filepath))
        elif isinstance(callback, TrainingBackup):
            callback = copy.copy(callback)
            callback.writes = False
        kept.append(callback)
    return kept


# -------------------------------------------------------------------- training
def _replicated(strategy: tf.distribute.Strategy, step, element_spec):
    """A compiled function running `step` on every replica's slice of a
    distributed batch with `element_spec` (traced once).

    `BetaVAE.train_step`/`test_step` already average their logs over the
    global batch (all-reduced), so every replica returns the same values and
    the first local replica's are the logs: no further reduction is needed.
    """

    @tf.function(input_signature=[element_spec])
    def run(batch):
        logs = strategy.run(step, args=(batch,))
        return {name: strategy.experimental_local_results(v)[0] for name, v in logs.items()}

    return run


def fit_distributed(
    model: BetaVAE,
    x_train,
    x_val=None,
    *,
    strategy: tf.distribute.Strategy | None,
    batch_size: int,
    epochs: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    shuffle: bool = True,
    verbose="auto",
    seed: int | None = None,
) -> keras.callbacks.History:
    """Trains `model` on `strategy` with a hand-written loop that acts like `fit`.

    Every epoch runs `model.train_step` on each replica's slice of every
    global batch (`strategy.run`), then `model.test_step` over `x_val`, and
    drives `callbacks` through a `keras.callbacks.CallbackList` exactly as
    `fit` does (epoch/batch/test hooks, `params` with `epochs` and `steps`,
    `model.stop_training`, a `History`, a progress bar), so β schedules,
    early stopping with `restore_best_weights`, checkpoints, learning-rate
    callbacks and `TerminateOnNaN` behave as in `fit`. The logs are the same
    numbers `fit` reports on one device: losses averaged over each global
    batch, then over the epoch's steps; `val_`-prefixed for `x_val`.

    On a multi-worker cluster every worker must call this with the same
    arguments and data. Only the chief (`is_chief`) writes checkpoints:
    on the other workers, `BestModelCheckpoint` and `ModelCheckpoint`
    callbacks are copies that write into a temporary folder deleted at the
    end (they still save, so any collective op in saving runs on every
    worker), and the progress bar is off. A `TrainingBackup` is written by
    the chief only and restored by every worker from the chief's
    `backup_dir`, which must therefore be on a file system they all see;
    training then continues from the backed-up epoch, as `fit` does.

    Args:
        model: a `BetaVAE` built inside `strategy.scope()` (see
            `replicate_model`) and compiled there.
        x_train: array of shape `(n, *model.feature_shape)`, or a batched
            `tf.data.Dataset` whose batches are *global* batches, yielding
            `x` or `(x, ...)`. A dataset is distributed with
            `experimental_distribute_dataset`; across workers its default
            auto-sharding splits files, or else every batch (then every
            worker must produce the same batches in the same order, e.g.
            with a seeded shuffle).
        x_val: validation data of the same kind, or `None`.
        strategy: the `tf.distribute.Strategy` (`None`: the default one).
        batch_size: the GLOBAL batch (examples per step over all replicas)
            for arrays; datasets are already batched.
        epochs: the number of epochs (fewer if a callback stops training).
        callbacks: Keras callbacks.
        shuffle: shuffle array data each epoch, the same way on every
            worker (a permutation seeded by `seed` and the epoch). Defaults
            to `True`.
        verbose: 0 (silent), 1 (progress bar) or 2 (one line per epoch);
            `"auto"` is 1. Defaults to `"auto"`.
        seed: seed of the shuffling; `None` draws one (on a cluster: on the
            first worker, shared with the others). Defaults to `None`.

    Returns:
        The `keras.callbacks.History` (also `model.history`).

    Raises:
        ValueError: if `model` is not built and compiled in `strategy`'s
            scope, or for bad `batch_size`/`epochs`.
    """
    default = strategy is None
    strategy = strategy or tf.distribute.get_strategy()
    check_beta_vae(model)
    if not default and keras_internals.distribute_strategy_of(model) is not strategy:
        raise ValueError(
            "The model's variables were not created in this strategy's scope; pass "
            "betavae_tf.distribute.replicate_model(model, strategy)."
        )
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model (inside strategy.scope()) before fit_distributed.")
    if not default and getattr(model.optimizer, "_distribution_strategy", None) is not strategy:
        raise ValueError(
            "The optimizer was created outside this strategy's scope; create it inside "
            "strategy.scope() or pass betavae_tf.distribute.replicate_optimizer(optimizer, "
            "strategy, model.trainable_variables)."
        )
    for name, value in (("batch_size", batch_size), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1. Received: {name}={value!r}")
    verbose = 1 if verbose == "auto" else verbose
    chief = is_chief(strategy)
    if not chief:
        verbose = 0

    if seed is None:
        seed = int(np.random.randint(2**31 - 1))
        if needs_custom_loop(strategy):
            seed = int(_broadcast(strategy, [np.int64(seed)])[0])

    def batches(data, epoch: int | None):
        if isinstance(data, tf.data.Dataset):
            return _dataset_batches(data, strategy)
        data = np.asarray(data)
        if epoch is None or not shuffle:
            order = np.arange(len(data))
        else:
            order = np.random.default_rng([seed, epoch]).permutation(len(data))
        return _array_batches(data, strategy, batch_size, order)

    scratch = None if chief else tempfile.mkdtemp(prefix="betavae-worker-")
    if scratch is not None:
        callbacks = _local_checkpoints(callbacks, scratch)
    try:
        return _fit_loop(
            model, x_train, x_val, strategy, batch_size, epochs, list(callbacks), verbose, batches
        )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _fit_loop(model, x_train, x_val, strategy, batch_size, epochs, callbacks, verbose, batches):
    """The epoch loop of `fit_distributed` (Keras 3's `fit`, step by step)."""
    train_function = test_function = None
    callback_list = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=_steps(x_train, batch_size),
    )
    model.stop_training = False
    callback_list.on_train_begin()
    training_logs = None
    logs = {}
    # A TrainingBackup that restored a backup sets where to continue (as in fit).
    first_epoch = keras_internals.initial_epoch(model) or 0
    for epoch in range(first_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        data = batches(x_train, epoch)
        train_function = train_function or _replicated(strategy, model.train_step, data.element_spec)
        for step, batch in enumerate(data):
            callback_list.on_train_batch_begin(step)
            logs = train_function(batch)
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if x_val is not None:
            model.reset_metrics()
            callback_list.on_test_begin()
            val_logs = {}
            data = batches(x_val, None)
            test_function = test_function or _replicated(strategy, model.test_step, data.element_spec)
            for step, batch in enumerate(data):
                callback_list.on_test_batch_begin(step)
                val_logs = test_function(batch)
                callback_list.on_test_batch_end(step, val_logs)
            callback_list.on_test_end(val_logs)
            epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        if model.stop_training:
            break
    model.optimizer.finalize_variable_values(model.trainable_weights)
    callback_list.on_train_end(logs=training_logs)
    return next(c for c in callback_list.callbacks if isinstance(c, keras.callbacks.History))
