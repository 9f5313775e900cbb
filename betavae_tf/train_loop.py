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

from collections.abc import Callable

import keras
import tensorflow as tf

from betavae_tf.epoch_loop import ArrayEpochs, compiled_epoch_function, supports_compiled_epoch


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


class FitLoops:
    """How `BetaVAE.fit` picks its compiled loop (a mixin of `BetaVAE`).

    Keras's own loop by default; this module's lean loop for endless
    `tf.data` input; one XLA program per epoch for an
    `betavae_tf.epoch_loop.ArrayEpochs` source.
    """

    @property
    def _own_train_step(self):
        """`BetaVAE.train_step`: the first class below this mixin that defines it
        (found without importing `models`, which imports this module)."""
        for klass in reversed(type(self).__mro__):
            if issubclass(klass, FitLoops) and "train_step" in vars(klass):
                return vars(klass)["train_step"]
        return None

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`; endless `tf.data` input trains through a leaner
        loop, and an `ArrayEpochs` one compiled epoch at a time.

        With a `tf.data.Dataset` of infinite cardinality (and `steps_per_epoch`,
        which Keras then requires) every call into the compiled function runs
        exactly `steps_per_execution` steps, so `betavae_tf.train_loop` can
        skip Keras's end-of-data checks around each step. Same steps, losses
        and logs either way; set `model.endless_loop = False` (or
        `train_vae(endless_loop=False)`) for Keras's own loop.

        With `x` an `betavae_tf.epoch_loop.ArrayEpochs`, each epoch is one call
        into one XLA program (see `betavae_tf.epoch_loop`): pass no
        `steps_per_epoch`; callbacks run per epoch as usual and batch-level
        ones see one batch per epoch.
        """
        if isinstance(x, ArrayEpochs):
            return self._fit_compiled_epochs(x, *args, **kwargs)
        endless = isinstance(x, tf.data.Dataset) and bool(
            x.cardinality() == tf.data.INFINITE_CARDINALITY
        )
        if endless != self._fits_endless_input:
            self.train_function = None
        self._fits_endless_input = endless
        return super().fit(x, *args, **kwargs)

    def _fit_compiled_epochs(self, source, *args, **kwargs):
        why_not = supports_compiled_epoch(self)
        if why_not:
            raise ValueError(f"This model cannot train through compiled epochs: {why_not}.")
        if kwargs.get("steps_per_epoch") not in (None, source.steps):
            raise ValueError(
                f"A compiled epoch is one pass over the data ({source.steps} steps); pass no "
                f"steps_per_epoch. Received: steps_per_epoch={kwargs['steps_per_epoch']}")
        kwargs["steps_per_epoch"] = source.steps
        kwargs["shuffle"] = False  # the source shuffles (Keras would warn that it cannot)
        self.train_function = None
        self._epoch_source = source
        # Keras calls the train function once per steps_per_execution steps: once per epoch.
        steps_per_execution, self.steps_per_execution = self.steps_per_execution, source.steps
        try:
            return super().fit(source.placeholder(), *args, **kwargs)
        finally:
            self.steps_per_execution = steps_per_execution
            self._epoch_source = None  # train_on_batch and the next fit get Keras's functions
            self.train_function = None

    def make_train_function(self, force: bool = False):
        if self.train_function is not None and not force:
            return self.train_function
        if self._epoch_source is not None:  # one compiled program per source, reused by later fits
            cached = getattr(self, "_compiled_epochs", None)
            if cached is None or cached[0] is not self._epoch_source:
                self._compiled_epochs = (self._epoch_source,
                                         compiled_epoch_function(self, self._epoch_source))
            self.train_function = self._compiled_epochs[1]
            return self.train_function
        overridden = type(self).train_step is not self._own_train_step
        lean = self.endless_loop and self._fits_endless_input and not overridden
        if lean and uses_endless_loop(self):
            self.train_function = endless_train_function(self)
            return self.train_function
        return super().make_train_function(force)

