"""The compiled training function `BetaVAE.fit` uses on endless input.

Keras's TensorFlow trainer runs `steps_per_execution` steps per call in a
`tf.while_loop` that, around every step, asks the iterator for an optional
next batch and branches on whether it got one (so that an epoch may end
mid-call). On endless input (`train_vae`'s array pipeline repeats forever and
passes `steps_per_epoch`) every call runs all its steps, and that machinery
is pure overhead: without it the default dense network trained about 7 % more
examples per second (see the lever table in docs/speed.md). The loop here fetches each batch with
`get_next()` and builds the logs once per call, after its last step, instead
of after every step; the steps, the order of the batches, the losses and the
logs are the same.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf


def uses_endless_loop(model: keras.Model) -> bool:
    """Whether `model`'s endless-input training can run through this loop.

    Not under XLA (`jit_compile`), eager execution or a `tf.distribute`
    strategy: those keep Keras's own loop.
    """
    return (
        not model.jit_compile
        and not model.run_eagerly
        and not tf.distribute.has_strategy()
        and model.distribute_strategy.num_replicas_in_sync == 1
    )


def endless_train_function(model: keras.Model) -> Callable:
    """A compiled `iterator -> logs` running `model.steps_per_execution` steps.

    The iterator must never run out (a `tf.data` iterator of infinite
    cardinality); each step is `model._train_batch`, the same optimizer step
    `train_step` takes.
    """
    steps = int(model.steps_per_execution)

    @tf.function(reduce_retracing=True)
    def train_function(iterator):
        losses = model._train_batch(iterator.get_next())
        for _ in tf.range(steps - 1):
            losses = model._train_batch(iterator.get_next())
        return model._logs(losses)

    return train_function
