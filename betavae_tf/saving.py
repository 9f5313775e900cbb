"""Saving and loading β-VAE models (`.h5` and `.keras`)."""

from __future__ import annotations

import contextlib
import os
import zipfile

import h5py
import keras
from absl import logging as absl_logging

from betavae_tf.layers import LearnedLogVariance, Sampling, SpatialBroadcast

try:  # Keras's own scope; not public API, so optional.
    from keras.src.saving.serialization_lib import SafeModeScope as _SafeModeScope
except ImportError:  # pragma: no cover - other Keras versions
    _SafeModeScope = None
from betavae_tf.models import BetaVAE

MODEL_EXTENSIONS = (".h5", ".keras")


def custom_objects() -> dict:
    """The classes plain Keras needs to rebuild a betavae_tf model.

    Example:
        `keras.models.load_model(path, custom_objects=betavae_tf.custom_objects())`
    """
    return {"BetaVAE": BetaVAE, "LearnedLogVariance": LearnedLogVariance, "Sampling": Sampling,
            "SpatialBroadcast": SpatialBroadcast}


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

    The model is written to a temporary file in the same folder, which is then
    renamed over `path`: an interrupted save never leaves a half-written file
    where a good one was.

    Returns:
        The path written.
    """
    path = check_model_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, extension = os.path.splitext(os.path.basename(path))
    temporary = os.path.join(folder, f".{stem}.partial-{os.getpid()}{extension}")
    try:
        with _quiet_h5_legacy_warnings():
            model.save(temporary, overwrite=True)
        os.replace(temporary, path)
    finally:
        if os.path.isfile(temporary):
            os.remove(temporary)
    return path


def _check_readable_model_file(path: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}; check the path.")
    if not os.path.isfile(path):
        raise ValueError(f"{path!r} is a folder, not a model file.")
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
    scope = _SafeModeScope(bool(safe_mode)) if _SafeModeScope else contextlib.nullcontext()
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
