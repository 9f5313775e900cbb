"""Saving and loading β-VAE models (`.h5` and `.keras`)."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import zipfile

try:
    import resource
except ImportError:  # Windows has no file-size limits
    resource = None

import h5py
import keras
from absl import logging as absl_logging

from betavae_tf import keras_internals
from betavae_tf.atomic import write_atomically, write_json  # noqa: F401 (also their old home)
from betavae_tf.layers import (
    LearnedLogVariance,
    PixelDense,
    Sampling,
    SpatialBroadcast,
    SpatialBroadcastDense,
)
from betavae_tf.models import BetaVAE
from betavae_tf.optimizers import FusedAdam
from betavae_tf.validation import check_regular_file

MODEL_EXTENSIONS = (".h5", ".keras")


def custom_objects() -> dict:
    """The classes plain Keras needs to rebuild a betavae_tf model.

    Example:
        `keras.models.load_model(path, custom_objects=betavae_tf.custom_objects())`
    """
    from betavae_tf import objectives
    from betavae_tf.layers import TotalCorrelationDiscriminator

    classes = [BetaVAE, FusedAdam, LearnedLogVariance, PixelDense, Sampling, SpatialBroadcast,
               SpatialBroadcastDense, TotalCorrelationDiscriminator,
               *set(objectives.OBJECTIVES.values())]
    return {cls.__name__: cls for cls in classes}


def check_model_path(path: str | os.PathLike, name: str = "save_path") -> str:
    """Returns `path` as a string, or raises if it is not `.h5`/`.keras`."""
    path = os.fspath(path)
    if not path.endswith(MODEL_EXTENSIONS):
        raise ValueError(
            f"{name} must end in .h5 or .keras. Received: {name}={path!r}"
        )
    return path


@contextlib.contextmanager
def _quiet_h5_legacy_warnings():
    # Keras logs that .h5 is a legacy format on every save, and that compiled
    # metrics are not built on every .h5 load (BetaVAE has no compiled
    # metrics); .h5 is this project's documented format, so both are noise.
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)


def save_vae(model: keras.Model, path: str | os.PathLike) -> str:
    """Saves `model` to `path` (`.h5` or `.keras`) atomically.

    Checks first that there is room for it (`check_room_for`), then writes a
    temporary file in the same folder and renames it over `path`
    (`write_atomically`): an interrupted or failed save never leaves a
    half-written file where a good one was.

    Returns:
        The path written.

    Raises:
        OSError: if there is no room or the write fails; `path` is untouched.
    """
    path = check_model_path(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    check_room_for(path, checkpoint_size_estimate(model, path))

    def write(temporary):
        with _quiet_h5_legacy_warnings(), keras_internals.compile_config_kept(model):
            model.save(temporary, overwrite=True)

    write_atomically(path, write)
    return path


def checkpoint_size_estimate(model: keras.Model, path: str | None = None) -> int:
    """Bytes a checkpoint of `model` needs: the size of the file already at
    `path`, else 4 bytes per model and optimizer value (Adam's two slots
    assumed before the optimizer is built) plus 256 KiB."""
    if path is not None and os.path.isfile(path):
        return os.path.getsize(path)
    values = sum(math.prod(v.shape) for v in model.weights)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        values += sum(math.prod(v.shape) for v in optimizer.variables)
    else:
        values *= 3
    return 4 * values + 256 * 1024


def check_room_for(path: str, size: int) -> None:
    """Raises `OSError` if `size` bytes cannot be written beside `path`.

    Checks the free space of the file system and the process's file-size
    limit (`ulimit -f`). HDF5 can crash the process when a write fails half
    way, so `.h5` checkpoints are checked before they are written.
    """
    folder = os.path.dirname(os.path.abspath(path)) or "."
    free = shutil.disk_usage(folder).free
    if free < 2 * size:  # the temporary file and the old file coexist for a moment
        raise OSError(
            errno.ENOSPC, f"only {free / 2**20:.1f} MiB free in {folder!r}, "
            f"a checkpoint needs about {2 * size / 2**20:.1f} MiB"
        )
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0] if resource is not None else -1
    if limit != getattr(resource, "RLIM_INFINITY", -1) and limit < size:
        raise OSError(
            errno.EFBIG, f"the file-size limit (ulimit -f) is {limit} bytes, a checkpoint "
            f"needs about {size}"
        )


def _check_readable_model_file(path: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}; check the path.")
    check_regular_file(path, "model file")
    check_model_path(path, name="path")
    if path.endswith(".h5") and not h5py.is_hdf5(path):
        raise ValueError(
            f"{path!r} is not a valid HDF5 file (corrupt or truncated?); "
            "re-save the model or use another checkpoint."
        )
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a valid .keras archive (corrupt or truncated?); "
            "re-save the model or use another checkpoint."
        )


def load_vae(
    path: str | os.PathLike, compile: bool = True, safe_mode: bool = True
) -> BetaVAE:
    """Loads a `BetaVAE` saved as `.h5` or `.keras`.

    Args:
        path: the model file.
        compile: if true (default) the model comes back compiled, with its
            optimizer state, ready to continue training.
        safe_mode: refuse files that would run code when loaded (Lambda
            layers holding Python bytecode). Only pass `False` for files you
            trust: such a file can run any code on your machine. Defaults to
            `True`, which also holds when other code has called
            `keras.config.enable_unsafe_deserialization()`.

    Returns:
        The model, with the β it had when it was saved.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is not a readable betavae_tf model.
    """
    path = os.fspath(path)
    _check_readable_model_file(path)
    # Keras lets a process-wide keras.config.enable_unsafe_deserialization()
    # override load_model(safe_mode=True) for .keras files; the scope makes
    # this call's safe_mode win, whatever other code switched on.
    scope = keras_internals.safe_mode_scope(safe_mode)
    try:
        with _quiet_h5_legacy_warnings(), scope:
            model = keras.models.load_model(
                path,
                custom_objects=custom_objects(),
                compile=compile,
                safe_mode=safe_mode,
            )
    except Exception as error:  # Keras raises many types for bad files.
        text = str(error).strip()
        reason = " ".join(text.split())[:200]
        if "safe_mode" in text:
            fix = (
                "the file holds Python code (e.g. a Lambda layer), which could do "
                "anything when loaded; pass safe_mode=False only if you trust its source"
            )
        else:
            fix = "it is corrupt or not a betavae_tf model; re-save the model or use another file"
        raise ValueError(
            f"Could not load a model from {path!r} ({type(error).__name__}: {reason}); {fix}."
        ) from error
    if not isinstance(model, BetaVAE):
        raise ValueError(
            f"{path!r} holds a {type(model).__name__}, not a betavae_tf BetaVAE."
        )
    return model
