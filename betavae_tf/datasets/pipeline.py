"""`array_dataset`: the `tf.data` pipeline `train_vae` feeds in-memory arrays through.

Keras's own array adapter does the same job, but it re-creates its iterator
twice per epoch and runs tf.data's autotuner and parallel map, whose fixed
costs per epoch dominate small data on a few CPU cores (docs/speed.md has
the measured difference on the default dense network). Here the
shuffled indices are batched and the examples gathered synchronously in the
training thread; the array is one dataset element (not a graph constant, so
arrays over 2 GB work).

The order of every pass comes from a `keras.random.SeedGenerator`, drawn once
per pass: its state is a variable, so `TrainingBackup` saves and restores it
and a resumed run shuffles exactly as the interrupted one would have.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


def array_dataset(
    x: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    repeat: bool = False,
    shuffle_seeds: keras.random.SeedGenerator | None = None,
) -> tf.data.Dataset:
    """Batches of `x`, reshuffled every pass when `shuffle`.

    Args:
        x: float32 array of shape `(n, *feature_shape)`.
        batch_size: examples per batch; the last batch of a pass may be
            smaller (`ceil(n / batch_size)` batches per pass).
        shuffle: draw a new permutation for every pass. Defaults to `False`.
        seed: seed of the shuffling when `shuffle_seeds` is not given;
            `None` draws one from Keras's global seed
            (`keras.utils.set_random_seed`).
        repeat: repeat forever (pass `steps_per_epoch=ceil(n / batch_size)`
            to `fit`, so Keras keeps one iterator for the whole run).
            Defaults to `False`.
        shuffle_seeds: the generator that gives each pass its permutation
            seed (one draw per pass, when the pass starts). Pass your own to
            save and restore its `state` (as `train_vae` does for
            `TrainingBackup`). Defaults to a new `SeedGenerator(seed)`.

    Returns:
        A `tf.data.Dataset` of float32 tensors `(batch, *feature_shape)`.
    """
    n = len(x)
    starts = tf.data.Dataset.range(0, n, batch_size)  # first row of every batch
    array = tf.data.Dataset.from_tensors(tf.convert_to_tensor(x))
    if shuffle:
        # One permutation tensor per pass (no per-example work, unlike a
        # shuffle buffer), from a seed drawn when the pass starts: every new
        # iterator and every repetition gets a new order, and the generator's
        # state says how many passes have started.
        generator = shuffle_seeds or keras.random.SeedGenerator(seed)
        passes = array.repeat() if repeat else array

        def one_pass(rows):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.cast(generator.next(), tf.int64)
            )
            return starts.map(lambda start: tf.gather(rows, order[start:start + batch_size]))

        dataset = passes.flat_map(one_pass)
        # Keras reads the number of batches (or that there is no end) from the
        # cardinality, which flat_map cannot infer.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(
            tf.data.INFINITE_CARDINALITY if repeat else batches_per_pass(n, batch_size)
        ))
    else:
        dataset = tf.data.Dataset.zip((starts.repeat() if repeat else starts, array.repeat()))
        dataset = dataset.map(lambda start, rows: rows[start:start + batch_size])
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


def batches_per_pass(n: int, batch_size: int) -> int:
    """`ceil(n / batch_size)`: the batches `array_dataset` yields per pass."""
    return math.ceil(n / batch_size)
