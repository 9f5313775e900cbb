"""`array_dataset`: the `tf.data` pipeline `train_vae` feeds in-memory arrays through.

Keras's own array adapter does the same job, but it re-creates its iterator
twice per epoch and runs tf.data's autotuner and parallel map, whose fixed
costs per epoch dominate small data on a few CPU cores (benchmarks/README:
the dense seed network ran 1.5x faster through this pipeline). Here the
shuffled indices are batched and the examples gathered synchronously in the
training thread; the array is one dataset element (not a graph constant, so
arrays over 2 GB work).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


def array_dataset(
    x: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Batches of `x`, reshuffled every pass when `shuffle`.

    Args:
        x: float32 array of shape `(n, *feature_shape)`.
        batch_size: examples per batch; the last batch of a pass may be
            smaller (`ceil(n / batch_size)` batches per pass).
        shuffle: draw a new permutation for every pass. Defaults to `False`.
        seed: seed of the shuffling; `None` follows the global TF seed.
        repeat: repeat forever (pass `steps_per_epoch=ceil(n / batch_size)`
            to `fit`, so Keras keeps one iterator for the whole run).
            Defaults to `False`.

    Returns:
        A `tf.data.Dataset` of float32 tensors `(batch, *feature_shape)`.
    """
    n = len(x)
    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    if repeat:
        indices = indices.repeat()
    data = tf.data.Dataset.from_tensors(tf.convert_to_tensor(x)).repeat()
    dataset = tf.data.Dataset.zip((indices, data)).map(lambda i, array: tf.gather(array, i))
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


def batches_per_pass(n: int, batch_size: int) -> int:
    """`ceil(n / batch_size)`: the batches `array_dataset` yields per pass."""
    return math.ceil(n / batch_size)
