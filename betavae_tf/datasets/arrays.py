"""Data loaders: the embedded digits default and users' own array files."""

from __future__ import annotations

import contextlib
import csv
import os
import zipfile
from typing import NamedTuple

import numpy as np

from betavae_tf.validation import check_float, validate_features


class Standardizer(NamedTuple):
    """Per-feature `(x − mean) / std`, fitted on training data only.

    Features that are constant in the training data get `std = 1`, so they
    map to 0 instead of dividing by zero. The statistics are computed in
    float64 (in float32, squares overflow for values above about 1e19 and
    vanish below about 1e-22), so any float32 data is scaled correctly.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        """Fits `x`; raises if a feature's mean or std does not fit float32."""
        x = np.asarray(x)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
            std = x.std(axis=0, dtype=np.float64).astype(np.float32)
        bad = ~(np.isfinite(mean) & np.isfinite(std))
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            values = x[(slice(None), *index)]
            where = f"column {index[0] + 1}" if len(index) == 1 else f"feature {index}"
            if not np.isfinite(values).all():
                raise ValueError(f"x {where} holds NaN or Inf; drop or impute them first.")
            raise ValueError(
                f"x {where} has values in [{values.min():.3g}, {values.max():.3g}], which "
                "overflow float32 (about ±3.4e38); rescale the data."
            )
        return cls(mean, np.where(std > 0, std, 1.0).astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            z = (x - self.mean) / self.std
        if not np.isfinite(z).all():  # x − mean overflowed float32: redo in float64
            z = (np.asarray(x, np.float64) - self.mean) / self.std
        return z.astype(np.float32)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) * self.std + self.mean).astype(np.float32)


def train_val_split(
    x: np.ndarray, val_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffles the rows of `x` with `seed` and splits off `val_fraction`.

    Returns:
        `(x_train, x_val)`; each keeps at least two examples.
    """
    val_fraction = check_float(
        "val_fraction", val_fraction, exclusive_minimum=True, maximum=1.0, exclusive_maximum=True
    )
    n = len(x)
    n_val = int(round(n * val_fraction))
    if n_val < 2 or n - n_val < 2:
        raise ValueError(
            f"Splitting {n} examples with val_fraction={val_fraction} leaves fewer "
            "than 2 for training or validation; pass more data or change val_fraction."
        )
    order = np.random.default_rng(seed).permutation(n)
    return x[order[n_val:]], x[order[:n_val]]


def load_digits(
    val_fraction: float = 0.2, seed: int = 0, standardize: bool = True
) -> tuple[np.ndarray, np.ndarray, Standardizer | None]:
    """scikit-learn's 8×8 digits (1,797 images, shipped with it) as vectors.

    Args:
        val_fraction: share of examples held out for validation.
        seed: seed of the shuffle before the split.
        standardize: standardise each of the 64 features with the training
            split's mean and std. Defaults to `True`.

    Returns:
        `(x_train, x_val, standardizer)`: float32 arrays of shape `(n, 64)`
        and the fitted `Standardizer` (or `None`).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    x = sklearn_digits().data.astype(np.float32)  # (1797, 64), values 0..16
    return _split_and_scale(x, val_fraction, seed, standardize)


def _split_and_scale(x, val_fraction, seed, standardize):
    x_train, x_val = train_val_split(x, val_fraction, seed)
    if not standardize:
        return x_train, x_val, None
    scaler = Standardizer.fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), scaler


def _read_csv(path: str) -> np.ndarray:
    """Reads a numeric CSV; a first row with any non-number is a header."""
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path!r} holds no rows; pass a CSV with one example per row.")

    def as_number(cell: str) -> float | None:
        try:
            return float(cell)
        except ValueError:
            return None

    if any(as_number(cell) is None for cell in rows[0]):
        header, rows = rows[0], rows[1:]
    else:
        header = None
    width = len(header) if header else len(rows[0]) if rows else 0
    values = []
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise ValueError(
                f"{path!r} line {number} has {len(row)} columns but the file has "
                f"{width}; fix the ragged row."
            )
        parsed = [as_number(cell) for cell in row]
        for column, value in enumerate(parsed, start=1):
            if value is None:
                raise ValueError(
                    f"{path!r} line {number}, column {column}: {row[column - 1]!r} is "
                    "not a number; drop or encode text columns."
                )
        values.append(parsed)
    if not values:
        raise ValueError(f"{path!r} has a header but no data rows.")
    return np.asarray(values, dtype=np.float32)


def load_array_file(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Reads examples from a `.csv`, `.npy` or `.npz` file, one example per row.

    Args:
        path: the file. CSV files may have a header row; `.npy`/`.npz` files
            are read with `allow_pickle=False` (they can never run code).
        key: for `.npz`, the array to use. Defaults to the only array, or the
            first of `x`, `X`, `data`, `arr_0` present.

    Returns:
        A validated float32 array of shape `(n, ...)`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No data file at {path!r}; check the path.")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        array = _read_csv(path)
    elif extension in (".npy", ".npz"):
        array = _read_numpy(path, key)
    else:
        raise ValueError(f"Unsupported data file {path!r}; use .csv, .npy or .npz.")
    return validate_features(array, name=os.path.basename(path), min_examples=1)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


@contextlib.contextmanager
def _numpy_read_errors(path: str):
    """Turns NumPy's read failures into one-line errors naming the file."""
    try:
        yield
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise ValueError(
                f"{path!r} holds pickled Python objects, which are never loaded "
                "(they can run code); save plain numeric arrays instead."
            ) from None
        raise ValueError(
            f"Could not read {path!r} ({_one_line(error)}); the file is corrupt or "
            "truncated, save or download it again."
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"Could not read {path!r} ({_one_line(error)}); the file is corrupt or "
            "truncated, save or download it again."
        ) from None


def _read_numpy(path: str, key: str | None) -> np.ndarray:
    """`np.load` with `allow_pickle=False`; for `.npz`, one chosen array."""
    with _numpy_read_errors(path):
        loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return loaded
    with loaded:
        name = _npz_key(path, list(loaded.keys()), key)
        with _numpy_read_errors(path):
            return loaded[name]


def _npz_key(path: str, keys: list[str], key: str | None) -> str:
    if key is not None:
        if key not in keys:
            raise ValueError(f"{path!r} has no array {key!r}; it has {keys}.")
        return key
    if len(keys) == 1:
        return keys[0]
    for candidate in ("x", "X", "data", "arr_0"):
        if candidate in keys:
            return candidate
    raise ValueError(f"{path!r} has several arrays {keys}; say which one to use.")


def load_vectors(
    path: str | os.PathLike,
    val_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
) -> tuple[np.ndarray, np.ndarray, Standardizer | None]:
    """A user's `.csv`/`.npy`/`.npz` file, split and scaled like `load_digits`.

    Examples with more than one axis are flattened to vectors.
    """
    x = load_array_file(path)
    x = x.reshape(len(x), -1)
    return _split_and_scale(x, val_fraction, seed, standardize)
