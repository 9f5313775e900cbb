"""Checks that turn bad arguments into one-line errors before any training.

Every message names the bad value and says how to fix it, e.g.
`beta must be a finite number >= 0. Received: beta=-1`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import stat
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf


def check_int(name: str, value, minimum: int = 1) -> int:
    """Returns `value` as an int, or raises if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_float(
    name: str,
    value,
    minimum: float = 0.0,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> float:
    """Returns `value` as a float, or raises if it is not finite and in range."""
    low = ">" if exclusive_minimum else ">="
    high = "<" if exclusive_maximum else "<="
    rule = f"a finite number {low} {minimum}"
    if maximum is not None:
        rule += f" and {high} {maximum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {rule}. Received: {name}={value!r}")
    value = float(value)
    too_low = value <= minimum if exclusive_minimum else value < minimum
    too_high = maximum is not None and (
        value >= maximum if exclusive_maximum else value > maximum
    )
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {rule}. Received: {name}={value!r}")
    return value


def check_choice(kind: str, name, choices):
    """Returns `choices[name]` (or `name` for a sequence), or raises listing the valid names.

    Example: `check_choice("likelihood", "laplace", LIKELIHOODS)` raises
    `Unknown likelihood 'laplace'; choose one of ['bernoulli', 'gaussian', 'mse'].`
    """
    try:
        if name in choices:
            return choices[name] if isinstance(choices, dict) else name
    except TypeError:  # unhashable name
        pass
    raise ValueError(f"Unknown {kind} {name!r}; choose one of {sorted(choices)}.")


def check_random_state(value, name: str = "random_state", allow_int: bool = True):
    """Returns a NumPy RNG: `value` itself, or `RandomState(value)` for an int seed.

    Args:
        value: a `np.random.RandomState` or `np.random.Generator` (or, with
            `allow_int`, an integer seed in [0, 2**32)).
        name: the argument's name in the error message.
        allow_int: whether an integer seed is accepted.

    Raises:
        ValueError: for anything else (including `None`: results must be seeded).
    """
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        return value
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if allow_int and is_int and 0 <= value < 2**32:
        return np.random.RandomState(int(value))
    if allow_int:
        raise ValueError(
            f"{name} must be a np.random.RandomState or an integer seed in [0, 2**32), "
            f"e.g. {name}=0. Received: {name}={value!r}"
        )
    raise ValueError(
        f"{name} must be a np.random.RandomState or np.random.Generator; pass e.g. "
        f"{name}=np.random.default_rng(0). Received: {name}={value!r}"
    )


def read_json_object(path: str, damaged: Callable[[str], Exception]) -> dict:
    """The JSON object in the file at `path`.

    Raises:
        `damaged(reason)`: if the file cannot be read, is not JSON, or holds
        something other than an object; `reason` is one short line.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError) as error:
        raise damaged(" ".join(str(error).split())[:120]) from None
    if not isinstance(value, dict):
        raise damaged(f"a JSON {type(value).__name__}, not an object")
    return value


def _describe_shape(shape: Sequence) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def validate_features(
    x,
    name: str = "x",
    feature_shape: Sequence[int] | None = None,
    min_examples: int = 1,
) -> np.ndarray:
    """Validates an in-memory array of examples and returns it as float32.

    Args:
        x: array-like of shape `(n, *feature_shape)`.
        name: how the array is called in error messages.
        feature_shape: the shape of one example the model expects, or `None`
            to accept any.
        min_examples: the fewest examples accepted.

    Returns:
        `np.ndarray` of dtype float32 and shape `(n, *feature_shape)`.

    Raises:
        ValueError: for non-numeric or complex data, a scalar or 1-D
            array, too few examples, a wrong example shape, integer images
            `(n, h, w, c)` with values outside [0, 255], NaN/Inf values, or
            values too large for float32.
    """
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as error:
        reason = " ".join(str(error).split())
        raise ValueError(
            f"{name} could not be read as a numeric array ({reason}); pass a "
            "NumPy array of shape (examples, features)."
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise ValueError(
            f"{name} must hold numbers, but its dtype is {array.dtype}; convert "
            "text columns to numbers or drop them."
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(
            f"{name} holds complex numbers ({array.dtype}); pass real values, "
            "e.g. x.real or np.abs(x)."
        )
    if array.ndim < 2:
        raise ValueError(
            f"{name} must have shape (examples, features...), but it has shape "
            f"{array.shape}; reshape it, e.g. x.reshape(-1, 1) for one feature."
        )
    if array.shape[0] < min_examples:
        raise ValueError(
            f"{name} has {array.shape[0]} examples but at least {min_examples} "
            "are needed; pass more data."
        )
    if feature_shape is not None and tuple(array.shape[1:]) != tuple(feature_shape):
        raise ValueError(
            f"{name} has examples of shape {tuple(array.shape[1:])} but the model "
            f"expects {tuple(feature_shape)}; reshape the data or build the "
            "model for this shape."
        )
    if np.issubdtype(array.dtype, np.integer) and array.ndim == 4 and array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"{name} holds integer images with values in [{low}, {high}], outside "
                "the 8-bit range [0, 255]; scale them to [0, 1] floats first "
                "(e.g. x / 65535.0 for 16-bit images)."
            )
    def bad_rows_of(finite: np.ndarray) -> np.ndarray:
        return np.unique(np.nonzero(~finite)[0])

    if np.issubdtype(array.dtype, np.floating):
        bad_rows = bad_rows_of(np.isfinite(array))
        if bad_rows.size:
            raise ValueError(
                f"{name} contains NaN or Inf in {bad_rows.size} example(s) (first at "
                f"index {bad_rows[0]}); drop or impute them before training."
            )
    with np.errstate(over="ignore"):
        array = array.astype(np.float32, copy=False)
    bad_rows = bad_rows_of(np.isfinite(array))
    if bad_rows.size:  # finite before, but too large for float32
        raise ValueError(
            f"{name} has values beyond float32's range (about ±3.4e38) in {bad_rows.size} "
            f"example(s) (first at index {bad_rows[0]}); rescale the data."
        )
    return array


def validate_dataset(
    dataset: tf.data.Dataset,
    name: str = "dataset",
    feature_shape: Sequence[int] | None = None,
) -> None:
    """Checks a `tf.data.Dataset`'s element spec without reading it.

    The dataset must yield batches `x` or tuples whose first item is `x`, with
    `x` of shape `(batch, *feature_shape)` and a floating or integer dtype.

    Raises:
        ValueError: if the element spec does not fit the model.
    """
    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)):
        if not spec:
            raise ValueError(f"{name} yields empty tuples; it must yield batches x or (x, ...).")
        spec = spec[0]
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError(
            f"{name} must yield tensors x or tuples (x, ...), but yields "
            f"{type(spec).__name__}; map it to plain tensors first."
        )
    if not (spec.dtype.is_floating or spec.dtype.is_integer):
        raise ValueError(f"{name} yields {spec.dtype.name} tensors; it must yield numbers.")
    shape = spec.shape
    if shape.rank is None:
        return
    if feature_shape is not None:
        expected = (None, *feature_shape)
        compatible = shape.rank == len(expected) and all(
            got is None or want is None or got == want
            for got, want in zip(shape.as_list(), expected)
        )
        if not compatible:
            hint = " (is it batched? call .batch(batch_size))" if shape.rank == len(feature_shape) else ""
            raise ValueError(
                f"{name} yields tensors of shape {_describe_shape(shape.as_list())} but "
                f"the model expects batches of shape {_describe_shape(expected)}{hint}."
            )


def check_inside(root, name, what: str = "name") -> str:
    """Returns `os.path.join(root, name)`, or raises if that path leaves `root`.

    Use it wherever a file or folder name that a user (or user data) chose is
    joined onto an output folder: `"../x"`, absolute paths and symbolic links
    that point out of `root` are refused, so nothing is written outside it.

    Example:
        `check_inside("out", "images")` -> `"out/images"`;
        `check_inside("out", "../x")` raises `ValueError`.

    Raises:
        ValueError: if the joined path is not `root` itself or inside it.
    """
    root_text, name_text = os.fspath(root), os.fspath(name)
    joined = os.path.join(root_text, name_text)
    real_root = os.path.realpath(root_text)
    real_joined = os.path.realpath(joined)
    if os.path.commonpath([real_root, real_joined]) != real_root:
        raise ValueError(
            f"{what} {name_text!r} would write outside the output folder {root_text!r}; "
            "pass a name inside it (relative, without '..')."
        )
    return joined


def check_regular_file(path: str, what: str) -> None:
    """Raises `ValueError` if the existing `path` is not a regular file.

    A folder is named as such; a FIFO, socket or device is "not a regular
    file". Only `os.stat` looks at `path`: opening a FIFO to check it would
    block until something writes to it.

    Example:
        `check_regular_file("pipe.h5", "model file")` raises
        `'pipe.h5' is not a regular file (it is a FIFO); pass a model file.`
    """
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ValueError(f"{path!r} is a folder, not a {what}.")
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "a special file"
    raise ValueError(f"{path!r} is not a regular file (it is {kind}); pass a {what}.")


def ensure_writable_folder(folder: str, what: str, fix: str) -> str:
    """Creates `folder` if needed and checks it can be written.

    Args:
        folder: the folder path.
        what: how the message names it, e.g. `"checkpoint folder"`.
        fix: the advice that ends the message, e.g. `"pass --output-dir ..."`.

    Returns:
        `folder`.

    Raises:
        OSError: one line, naming the folder, the reason and `fix`.
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OSError(f"Cannot create the {what} {folder!r} ({error.strerror}); {fix}.") from None
    if not os.access(folder, os.W_OK):
        raise OSError(f"The {what} {folder!r} is not writable; {fix}.")
    return folder
