"""The compiled epoch: a whole pass over in-memory data as one XLA program.

On small dense networks a training step is a few hundred tiny ops, and
TensorFlow's executor spends about a microsecond on each, more than the
arithmetic. Compiled with XLA one step at a time, the step loses that cost
but pays XLA's own per call (and XLA's slow CPU random numbers). Here the
whole epoch is the program: the array is an argument, and the batches'
gather, every step (forward, gradient, the optimizer's update, the metric
trackers) and the loop over the batches run inside one `jit_compile=True`
function; only the permutation of the pass is drawn outside it.

What stays exactly as in the uncompiled path (`array_dataset` and
`train_loop`), so that a run may switch between them and a resumed run
continues identically:

* the order: the pass's permutation is `array_dataset`'s —
  `stateless_shuffle` (not XLA-compilable, so drawn just before the
  program, in the same graph) with a seed drawn from the same
  `shuffle_seeds` generator, one draw per pass; the batches are its
  consecutive slices, the last one smaller;
* the noise: Keras's `normal`/`uniform`/`dropout` are traced through
  `betavae_tf.xla_random`, which rebuilds TensorFlow's CPU kernels (XLA's
  own stateless ops give other numbers); the seed generators advance as
  before, so `TrainingBackup` saves the same states;
* the steps: `BetaVAE._train_batch`, the same as `train_step`; the logs
  after the epoch's last step, as `train_loop` gives them.

The losses then agree with the uncompiled path to float rounding (XLA fuses
and reorders float arithmetic; tests/test_epoch_loop.py bounds it).

`BetaVAE.fit` trains through here when given an `ArrayEpochs`;
`train_vae(compiled_epoch=...)` decides when (`resolve_compiled_epoch`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from betavae_tf.datasets.pipeline import batches_per_pass
from betavae_tf.xla_random import keras_backend_random

# "auto" turns the compiled epoch on from this many planned steps (epochs ×
# steps per epoch): compiling the epoch costs a few seconds more than the
# first uncompiled epoch (≈ 5.5 s for the default dense network on one
# core), and each compiled step saves ≈ 0.3 ms there (docs/speed.md).
AUTO_MIN_STEPS = 20_000
# ... and only for networks of at most this many weights (measured on the
# default dense network; larger ones spend their time in the matmuls).
AUTO_MAX_WEIGHTS = 1_000_000
# Layers a network may have for "auto": XLA's CPU convolutions were slower.
_DENSE_LAYERS = (
    keras.layers.Dense, keras.layers.Dropout, keras.layers.BatchNormalization,
    keras.layers.LayerNormalization, keras.layers.Activation, keras.layers.ReLU,
    keras.layers.LeakyReLU, keras.layers.InputLayer, keras.layers.Flatten,
    keras.layers.Reshape,
)


class ArrayEpochs:
    """In-memory training data for `BetaVAE.fit`, one compiled epoch per pass.

    `model.fit(ArrayEpochs(x, batch_size, shuffle_seeds=...), epochs=...)`
    trains on the batches `array_dataset(x, batch_size, shuffle, repeat=True,
    shuffle_seeds=...)` would give, in the same order, but each epoch runs as
    one XLA program (see the module docstring). `fit` then takes no
    `steps_per_epoch` (it is the pass) and runs each epoch in one call
    (batch-level callbacks see one batch per epoch).

    Args:
        x: float32 array of shape `(n, *feature_shape)`.
        batch_size: examples per step; the last batch of a pass may be smaller.
        shuffle: a new permutation every pass. Defaults to `True`.
        shuffle_seeds: the `keras.random.SeedGenerator` each pass draws its
            permutation seed from (as `array_dataset`'s). Defaults to a new
            `SeedGenerator(seed)`.
        seed: seed of that new generator. Defaults to `None`.
    """

    def __init__(self, x, batch_size: int, shuffle: bool = True,
                 shuffle_seeds: keras.random.SeedGenerator | None = None, seed: int | None = None):
        self.x = np.asarray(x, dtype=np.float32)
        if self.x.ndim < 2 or len(self.x) < 1:
            raise ValueError(f"x must be an array of examples; got shape {self.x.shape}.")
        self.batch_size = int(batch_size)
        if not 1 <= self.batch_size <= len(self.x):
            raise ValueError(
                f"batch_size must be in [1, {len(self.x)}]. Received: batch_size={batch_size}")
        self.shuffle = bool(shuffle)
        self.shuffle_seeds = shuffle_seeds or keras.random.SeedGenerator(seed)

    @property
    def steps(self) -> int:
        """Batches per pass, `ceil(n / batch_size)`."""
        return batches_per_pass(len(self.x), self.batch_size)

    def placeholder(self) -> tf.data.Dataset:
        """The endless dataset `fit` iterates over: Keras counts steps on it;
        the compiled epoch never reads it."""
        return tf.data.Dataset.from_tensors(np.zeros((1, *self.x.shape[1:]), np.float32)).repeat()


def supports_compiled_epoch(model: keras.Model) -> str | None:
    """Why `model` cannot train through compiled epochs, or `None` if it can.

    Not under eager execution, a `tf.distribute` strategy or with an
    overridden `train_step` (the epoch runs `_train_batch` itself).
    """
    if model.run_eagerly:
        return "the model runs eagerly (run_eagerly=True)"
    if tf.distribute.has_strategy() or model.distribute_strategy.num_replicas_in_sync > 1:
        return "it trains under a tf.distribute strategy"
    own = getattr(model, "_own_train_step", None)  # BetaVAE's (train_loop.FitLoops)
    if own is None:
        return f"{type(model).__name__} is not a BetaVAE"
    if type(model).train_step is not own:
        return f"{type(model).__name__} overrides train_step"
    return None


def is_small_dense(model: keras.Model) -> bool:
    """Whether `model`'s networks are dense (no convolutions: every layer one of
    Dense, Dropout, the normalisations, activations, Flatten/Reshape) with at
    most `AUTO_MAX_WEIGHTS` weights — where "auto" may compile epochs."""
    # A nested model among the layers is not one of the dense kinds: no "auto" for it.
    layers = [layer for network in (model.encoder, model.decoder)
              for layer in getattr(network, "layers", [network])]
    dense = all(isinstance(layer, _DENSE_LAYERS) for layer in layers)
    return dense and model.count_params() <= AUTO_MAX_WEIGHTS


def resolve_compiled_epoch(setting, model, *, array_input: bool, strategy, per_step_schedule: bool,
                           steps_per_execution, jit_compile, planned_steps: int) -> bool:
    """`train_vae`'s `compiled_epoch` (`True`, `False` or `"auto"`) for this run.

    `"auto"` compiles epochs only where it was measured to win: array data,
    one CPU device (no GPU visible), the `beta` or `capacity` objective, no per-step β schedule,
    `steps_per_execution="auto"` and `jit_compile` not `True`, a small dense network (`is_small_dense`), and at
    least `AUTO_MIN_STEPS` planned steps to pay back the compilation.
    `True` raises a `ValueError` saying why when the run cannot do it.
    """
    reasons = []
    if not array_input:
        reasons.append("X_train is a tf.data.Dataset (the compiled epoch needs arrays in memory)")
    if strategy is not None:
        reasons.append("a tf.distribute strategy was given")
    if per_step_schedule:
        reasons.append("a per-step β schedule sets β before every step")
    if steps_per_execution != "auto":
        reasons.append(f"steps_per_execution={steps_per_execution!r} (a compiled epoch is one call)")
    if setting is True:
        if reasons:
            raise ValueError(f"compiled_epoch=True cannot be used here: {'; '.join(reasons)}.")
        return True
    if setting is False or reasons or jit_compile is True:  # True: the user asked for XLA steps
        return False
    # Only the objectives measured with it: none that trains networks of its own.
    measured = type(model.objective).__name__ in ("Beta", "Capacity") and not model.objective_networks
    return (measured and not tf.config.list_physical_devices("GPU") and is_small_dense(model)
            and planned_steps >= AUTO_MIN_STEPS)


def compiled_epoch_function(model: keras.Model, source: ArrayEpochs) -> Callable:
    """`iterator -> logs`, training `model` for one pass over `source` per call.

    The iterator (Keras's, over `source.placeholder()`) is ignored.
    """
    data = tf.convert_to_tensor(source.x)
    n, size = len(source.x), source.batch_size
    full, rest = divmod(n, size)
    generator = source.shuffle_seeds

    # Traced inside `epoch`, so Keras's random functions are swapped only while tracing.
    @tf.function(jit_compile=True, autograph=False)
    def steps(data, order):
        batches = tf.reshape(tf.gather(data, order[:full * size]), (full, size, *data.shape[1:]))

        def body(i, losses):
            return i + 1, model._train_batch(batches[i])

        losses = model._train_batch(batches[0])
        if full > 1:
            losses = tf.while_loop(lambda i, _: i < full, body, (tf.constant(1), losses))[1]
        if rest:
            losses = model._train_batch(tf.gather(data, order[full * size:]))
        return model._logs(losses)

    @tf.function(autograph=False)
    def epoch(data):
        if source.shuffle:  # array_dataset's permutation, from the same generator
            seed = tf.cast(generator.next(), tf.int64)
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed)
        else:
            order = tf.range(n, dtype=tf.int64)
        with keras_backend_random():
            return steps(data, order)

    def train_function(iterator):
        del iterator
        return epoch(data)

    return train_function
