"""Data loaders: the embedded digits default and users' own array files."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import tokenize
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from betavae_tf.validation import check_float, check_regular_file, validate_features


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
    def fit(cls, x: np.ndarray) -> Standardizer:
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
    val_fraction: float = 0.2, seed: int = 0, standardize: bool = True, with_labels: bool = False
) -> tuple:
    """scikit-learn's 8×8 digits (1,797 images, shipped with it) as vectors.

    Args:
        val_fraction: share of examples held out for validation.
        seed: seed of the shuffle before the split.
        standardize: standardise each of the 64 features with the training
            split's mean and std. Defaults to `True`.
        with_labels: also return the digits (0-9) of both splits.

    Returns:
        `(x_train, x_val, standardizer)`: float32 arrays of shape `(n, 64)`
        and the fitted `Standardizer` (or `None`); with `with_labels`, then
        `(y_train, y_val)`, int arrays of shape `(n,)`.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = digits.data.astype(np.float32)  # (1797, 64), values 0..16
    split = _split_and_scale(x, val_fraction, seed, standardize)
    if not with_labels:
        return split
    return (*split, *train_val_split(digits.target, val_fraction, seed))


def _split_and_scale(x, val_fraction, seed, standardize):
    x_train, x_val = train_val_split(x, val_fraction, seed)
    if not standardize:
        return x_train, x_val, None
    scaler = Standardizer.fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), scaler


# Cells that mark a missing value (pandas' defaults that float() does not
# already read as NaN).
_MISSING_VALUES = frozenset(
    {"", "NA", "N/A", "n/a", "NULL", "null", "None", "<NA>", "#N/A", "#N/A N/A", "#NA",
     "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN"}
)


def _read_text(path: str) -> str:
    """The text of a CSV file: UTF-8 (with or without a BOM), else Latin-1.

    Numbers are ASCII in both, so the encoding only matters for header names
    and text cells (refused anyway): files saved as Latin-1 or Windows-1252
    by Excel or older tools load as they are instead of being refused.
    Control characters other than whitespace mean binary data or UTF-16
    text, which are refused.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    control = re.search(rb"[\x00-\x08\x0e-\x19\x1b-\x1f]", data)  # 0x1a: old DOS end of file
    if control:
        raise ValueError(
            f"{path!r} is not a text file (byte 0x{data[control.start()]:02X} at offset "
            f"{control.start()}); save it as a UTF-8 CSV of numbers."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _quoted(cell: str) -> str:
    """`repr(cell)`, shortened for an error message if it is long."""
    if len(cell) <= 40:
        return repr(cell)
    return f"{cell[:30] + '...'!r} ({len(cell):,} characters)"


def _read_csv(path: str) -> np.ndarray:
    """Reads a numeric CSV file (`_read_text` says which encodings).

    The first row is a header if it has a cell that is neither a number nor
    a missing-value marker (`NA`, `N/A`, `null`, an empty cell, ...); a first
    row of numbers with gaps is data, refused like any other row with gaps.
    """
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    rows, line = [], 1  # (line where the row starts, cells), blank rows left out
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise ValueError(
                f"{path!r} line {line} has a field longer than {csv.field_size_limit():,} "
                "characters; it is not a CSV of numbers (is a quote left open?)."
            ) from None
        raise ValueError(f"{path!r} line {line} is not valid CSV ({error}).") from None
    if not rows:
        raise ValueError(f"{path!r} holds no rows; pass a CSV with one example per row.")

    def as_number(cell: str) -> float | None:
        try:
            return float(cell)
        except ValueError:
            return None

    def is_missing(cell: str) -> bool:
        return cell.strip() in _MISSING_VALUES

    if any(as_number(cell) is None and not is_missing(cell) for cell in rows[0][1]):
        header, rows = rows[0][1], rows[1:]
    else:
        header = None
    width = len(header) if header else len(rows[0][1]) if rows else 0
    values = []
    for number, row in rows:
        if len(row) != width:
            raise ValueError(
                f"{path!r} line {number} has {len(row)} columns but the file has "
                f"{width}; fix the ragged row."
            )
        parsed = [as_number(cell) for cell in row]
        for column, value in enumerate(parsed, start=1):
            cell = row[column - 1]
            if value is None and is_missing(cell):
                raise ValueError(
                    f"{path!r} line {number}, column {column}: {cell!r} is a missing value; "
                    "drop or impute the examples with missing values."
                )
            if value is None:
                raise ValueError(
                    f"{path!r} line {number}, column {column}: {_quoted(cell)} is "
                    "not a number; drop or encode text columns."
                )
        values.append(parsed)
    if not values:
        raise ValueError(f"{path!r} has a header but no data rows.")
    return np.asarray(values)  # float64: validate_features refuses what overflows float32


def load_array_file(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Reads examples from a `.csv`, `.npy` or `.npz` file, one example per row.

    Args:
        path: the file. CSV files may have a header row and are read as
            UTF-8, or as Latin-1 if they are not UTF-8 (numbers read the same
            in both); empty cells and markers such as `NA` are refused as
            missing values. `.npy`/`.npz` files are read with
            `allow_pickle=False` (they can never run code), after their
            headers are checked against the file's size.
        key: for `.npz`, the array to use. Defaults to the only array, or the
            first of `x`, `X`, `data`, `arr_0` present.

    Returns:
        A validated float32 array of shape `(n, ...)`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No data file at {path!r}; check the path.")
    check_regular_file(path, "data file")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        array = _read_csv(path)
    elif extension in (".npy", ".npz"):
        array = _read_numpy(path, key)
    else:
        raise ValueError(f"Unsupported data file {path!r}; use .csv, .npy or .npz.")
    return validate_features(array, name=os.path.basename(path), min_examples=1)


def _one_line(error: BaseException, limit: int = 150) -> str:
    """`error`'s text on one line, cut to `limit` characters (NumPy quotes whole headers)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, tokenize.TokenError) as error:
        raise ValueError(
            f"Could not read {path!r} ({_one_line(error)}); the file is corrupt or "
            "truncated, save or download it again."
        ) from None


_NPY_SIGNATURE = b"\x93NUMPY"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # an archive, an empty archive


def _size_text(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.4g} {unit}"
        size /= 1000
    return f"{size:.4g} TB"


def _claimed_array(handle) -> tuple[tuple, np.dtype, int] | None:
    """`(shape, dtype, bytes up to the data's end)` from a .npy header at the
    start of `handle`, or `None` if there is none to check (a broken header is
    left to `np.load` to report; object arrays, to be refused as pickles)."""
    try:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(handle)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, tokenize.TokenError):
        return None
    if dtype.hasobject:
        return None
    return shape, dtype, handle.tell() + math.prod(shape) * dtype.itemsize


def _refuse_oversized(path: str, claimed, available: int, array: str | None = None) -> None:
    """Raises if the header `claimed` needs more than `available` bytes.

    Checked before reading: NumPy allocates the claimed size first, so a
    header claiming terabytes ends in a `MemoryError`.
    """
    if claimed is None or claimed[2] <= available:
        return
    shape, dtype, _ = claimed
    size = _size_text(math.prod(shape) * dtype.itemsize)
    if array is None:
        header, holds = "its header", f"the file holds only {available:,} bytes"
    else:
        header = f"the header of its array {array!r}"
        holds = f"the archive holds only {available:,} bytes for it"
    raise ValueError(
        f"Could not read {path!r}: {header} claims shape {shape} of {dtype}, {size}, but "
        f"{holds}; it is corrupt or truncated, save or download it again."
    )


def _check_numpy_file(path: str) -> None:
    """Refuses, before `np.load` reads them, files that are neither .npy, .npz
    nor pickles (which `np.load` would call pickles) and .npy files whose
    header claims more data than the file holds."""
    with open(path, "rb") as handle:
        head = handle.read(len(_NPY_SIGNATURE))
        if head == _NPY_SIGNATURE:
            handle.seek(0)
            _refuse_oversized(path, _claimed_array(handle), os.fstat(handle.fileno()).st_size)
            return
    # np.load reads anything else as a pickle; only a real one (protocol 2+
    # starts with 0x80 and the protocol) should be called one.
    is_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
    if head and not head.startswith(_ZIP_SIGNATURES) and not is_pickle:
        extension = os.path.splitext(path)[1].lower()
        saver = "np.savez" if extension == ".npz" else "np.save"
        raise ValueError(
            f"{path!r} is not a valid {extension or '.npy'} file (it starts with neither NumPy's nor "
            f"zip's signature); it is corrupt or not a NumPy file, save it with {saver}."
        )


def _npz_array(path: str, loaded: np.lib.npyio.NpzFile, name: str) -> np.ndarray:
    """`loaded[name]`, after checking its header against the archive member's size."""
    member = name if name in loaded.zip.namelist() else name + ".npy"
    info = loaded.zip.getinfo(member)
    available = info.file_size
    if info.compress_type == zipfile.ZIP_STORED:
        available = min(available, info.compress_size, os.path.getsize(path))
    with _numpy_read_errors(path):
        with loaded.zip.open(member) as handle:
            claimed = _claimed_array(handle)
    _refuse_oversized(path, claimed, available, array=name)
    with _numpy_read_errors(path):
        return loaded[name]


def _read_numpy(path: str, key: str | None) -> np.ndarray:
    """`np.load` with `allow_pickle=False`; for `.npz`, one chosen array."""
    _check_numpy_file(path)
    with _numpy_read_errors(path):
        loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return loaded
    with loaded:
        return _npz_array(path, loaded, _npz_key(path, list(loaded.keys()), key))


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
