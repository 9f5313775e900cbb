"""Every use of a private Keras API, behind one door.

betavae_tf needs a few things Keras 3 does not expose publicly. They are all
here, each with why, so that a Keras upgrade is checked in one place
(`tests/test_keras_internals.py` exercises each of them). Checked against
Keras 3.15.1 (TensorFlow 2.21); `CHECKED_KERAS_VERSIONS` lists the versions
the test suite passed with.

| what | used by | why |
|---|---|---|
| `SafeModeScope` | `saving.load_vae` | make `safe_mode=True` win over a process-wide `enable_unsafe_deserialization()` |
| `Model._compile_config` | `saving.save_vae` | Keras's `.h5` writer pops the optimizer out of it |
| `Layer._flatten_layers`, `Layer._seed_generators` | `backup.TrainingBackup` | back up every seed generator's state |
| `Model._initial_epoch` | `backup`, `training`, `distribute` | the resume hook Keras's own `BackupAndRestore` uses |
| `Optimizer._clip_gradients` | `replicas` | clip the *summed* gradient of all replicas |
| `Model._distribute_strategy` | `distribute` | the strategy a model was compiled under |
| `Optimizer._get_variable_index`, `_momentums`, `_velocities` | `optimizers.FusedAdam` | Adam's slot variables of a weight |
| `Optimizer._backend_update_step` (overridden) | `optimizers.FusedAdam` | the per-variable update hook |
| `keras.src.backend.tensorflow.random` (`normal`, `uniform`, `dropout`, `_cast_seed`), `draw_seed` | `xla_random` | a compiled epoch draws the noise of the uncompiled path |
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

CHECKED_KERAS_VERSIONS = ("3.15.1",)

try:
    from keras.src.saving.serialization_lib import SafeModeScope as _SafeModeScope
except ImportError:  # pragma: no cover - other Keras versions
    _SafeModeScope = None


def safe_mode_scope(safe_mode: bool):
    """A context in which Keras deserialises with `safe_mode`, whatever the
    process-wide setting (a no-op context where Keras has no such scope)."""
    if _SafeModeScope is None:  # pragma: no cover
        return contextlib.nullcontext()
    return _SafeModeScope(bool(safe_mode))


@contextlib.contextmanager
def compile_config_kept(model: keras.Model) -> Iterator[None]:
    """Restores `model`'s compile config after the block (a `.h5` save).

    Keras's `.h5` writer pops `"optimizer"` out of the model's own compile
    config (keras/src/legacy/saving/saving_utils.py), so a `.keras` file saved
    afterwards would reload with a default Adam instead of the model's
    optimizer.
    """
    config = getattr(getattr(model, "_compile_config", None), "config", None)
    kept = dict(config) if isinstance(config, dict) else None
    try:
        yield
    finally:
        if kept is not None:
            config.clear()
            config.update(kept)


def seed_generators(model: keras.Model) -> list:
    """Every `keras.random.SeedGenerator` of `model`'s layers (itself included),
    in a fixed order."""
    return [g for layer in model._flatten_layers() for g in getattr(layer, "_seed_generators", [])]


def initial_epoch(model: keras.Model) -> int | None:
    """The epoch a resumed `fit` starts at (set by a backup callback), or `None`."""
    return getattr(model, "_initial_epoch", None)


def set_initial_epoch(model: keras.Model, epoch: int | None) -> None:
    """Makes the running `fit` continue at `epoch` (Keras reads it after
    `on_train_begin`); `None` clears it so the next `fit` starts at 0."""
    model._initial_epoch = epoch


def clip_gradients(optimizer: keras.optimizers.Optimizer, gradients: list) -> list:
    """`gradients` clipped as `optimizer`'s `clipnorm`/`clipvalue`/`global_clipnorm` would."""
    return optimizer._clip_gradients(gradients)


def distribute_strategy_of(model: keras.Model):
    """The `tf.distribute` strategy `model` was created under, or `None`."""
    return getattr(model, "_distribute_strategy", None)


def adam_slots(optimizer: keras.optimizers.Adam, variable) -> tuple:
    """`(m, v)`, the first and second moment slots of `variable` in `optimizer`."""
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def tensorflow_random_functions() -> dict:
    """Keras's TensorFlow-backend `normal`, `uniform` and `dropout` (what
    `keras.random.*` and the Dropout layer call), by name."""
    from keras.src.backend.tensorflow import random as backend_random

    return {name: getattr(backend_random, name) for name in ("normal", "uniform", "dropout")}


def tensorflow_random_seed(seed):
    """The int32 pair Keras's TensorFlow backend passes to `tf.random.stateless_*`
    for `seed` (an int, a seed tensor or a `SeedGenerator`, which advances)."""
    from keras.src.backend.tensorflow import random as backend_random
    from keras.src.random.seed_generator import draw_seed

    return backend_random._cast_seed(draw_seed(seed))


@contextlib.contextmanager
def tensorflow_random_functions_replaced(**functions) -> Iterator[None]:
    """Within the block, Keras's TensorFlow backend uses `functions`
    (`normal=`, `uniform=`, `dropout=`) instead of its own; restored after.
    Process-wide while it lasts: hold it only around a trace."""
    from keras.src.backend.tensorflow import random as backend_random

    original = {name: getattr(backend_random, name) for name in functions}
    for name, function in functions.items():
        setattr(backend_random, name, function)
    try:
        yield
    finally:
        for name, function in original.items():
            setattr(backend_random, name, function)
