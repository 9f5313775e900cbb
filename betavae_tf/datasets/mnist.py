"""MNIST from the four standard IDX files, with a NumPy IDX parser.

The files are looked up in `data_dir`, else in the folder named by the
`BETAVAE_DATA_DIR` environment variable (the MNIST folder itself or a folder
holding `mnist/`); each may be gzipped (`.gz`) or plain. Only when neither is
given does `load_mnist` fall back to `keras.datasets.mnist.load_data()`,
which downloads the data.

The download is verified: Keras's `load_data` passes the SHA-256 of
`mnist.npz` (`731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1`,
see `MNIST_NPZ_SHA256`) to `keras.utils.get_file`, which raises `ValueError`
when a fresh download does not match and downloads again when a cached copy
does not match; the file is then read with `allow_pickle=False`.
`tests/test_security.py` checks that the installed Keras still does this.
Local IDX files are checked for structure (`read_idx`), not against hashes.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
"""SHA-256 of the `mnist.npz` Keras downloads; Keras's own `load_data` checks it."""

DATA_DIR_ENV = "BETAVAE_DATA_DIR"
"""Environment variable naming the data folder when `data_dir` is not given."""

IMAGES_MAGIC = 0x00000803
"""IDX magic number of unsigned-byte 3-D arrays (the image files)."""

LABELS_MAGIC = 0x00000801
"""IDX magic number of unsigned-byte 1-D arrays (the label files)."""

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_FIX = f"pass data_dir=<folder with the 4 MNIST IDX files> or set {DATA_DIR_ENV}"


def _read_bytes(path: str) -> bytes:
    """The whole file, gunzipped when its name ends in `.gz`."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read()
        with open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:
        # gzip.BadGzipFile is an OSError; a cut-off .gz raises EOFError.
        raise ValueError(
            f"Could not read {path!r} ({error}); the file is truncated or corrupt, "
            "download it again."
        ) from None


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Parses an unsigned-byte IDX file (optionally gzipped) into a uint8 array.

    The IDX header is a big-endian uint32 magic number `0x000008DD` (`08` =
    unsigned byte, `DD` = number of dimensions) followed by one big-endian
    uint32 per dimension; the data are the `prod(dims)` bytes after it.

    Args:
        path: the file; names ending in `.gz` are decompressed.
        expected_magic: `IMAGES_MAGIC` (3-D) or `LABELS_MAGIC` (1-D) to insist
            on, or `None` to accept any unsigned-byte IDX array.

    Returns:
        uint8 array of the shape given in the header, e.g. `(n, 28, 28)` for
        images and `(n,)` for labels.

    Raises:
        ValueError: if the magic number is wrong or the data are shorter or
            longer than the header says; the message names the file.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"{path!r} is {len(data)} bytes long, too short for an IDX header; "
            "the file is truncated, download it again."
        )
    magic = int.from_bytes(data[:4], "big")
    if (magic >> 8) != 0x08 or (expected_magic is not None and magic != expected_magic):
        wanted = f"0x{expected_magic:08x}" if expected_magic is not None else "0x000008NN"
        raise ValueError(
            f"{path!r} has IDX magic number 0x{magic:08x}, expected {wanted}; "
            "is it the right (unsigned-byte IDX) file?"
        )
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_size:
        raise ValueError(
            f"{path!r} has a broken IDX header ({ndim} dimensions in {len(data)} bytes); "
            "the file is truncated or corrupt, download it again."
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = int(np.prod(shape, dtype=np.int64))
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "corrupt (it has trailing bytes)"
        raise ValueError(
            f"{path!r} holds {actual} data bytes but its IDX header {shape} needs "
            f"{expected}; the file is {problem}, download it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def _find_file(folder: str, name: str) -> str | None:
    for candidate in (name, name + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _mnist_folder(root: str, source: str) -> str:
    """`root` or `root/mnist`, whichever holds the MNIST training images."""
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"MNIST data folder {root!r} (from {source}) does not exist; {_FIX}."
        )
    candidates = [root, os.path.join(root, "mnist")]
    for folder in candidates:
        if _find_file(folder, MNIST_FILES["train_images"]) is not None:
            return folder
    raise FileNotFoundError(
        f"No {MNIST_FILES['train_images']}[.gz] in {root!r} or "
        f"{os.path.join(root, 'mnist')!r} (from {source}); {_FIX}."
    )


def _images_to_float(images: np.ndarray) -> np.ndarray:
    """uint8 `(n, h, w)` -> float32 `(n, h, w, 1)` in [0, 1]."""
    return (images.astype(np.float32) / np.float32(255.0))[..., np.newaxis]


def _read_split(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    paths = {}
    for kind in ("images", "labels"):
        name = MNIST_FILES[f"{split}_{kind}"]
        path = _find_file(folder, name)
        if path is None:
            raise FileNotFoundError(
                f"No {name}[.gz] in {folder!r}; {_FIX} (all 4 files must be there)."
            )
        paths[kind] = path
    images = read_idx(paths["images"], IMAGES_MAGIC)
    labels = read_idx(paths["labels"], LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(
            f"{paths['images']!r} holds {len(images)} images but {paths['labels']!r} "
            f"holds {len(labels)} labels; the files do not belong together, download them again."
        )
    if labels.size and labels.max() > 9:
        raise ValueError(
            f"{paths['labels']!r} has label {int(labels.max())}, but MNIST labels are 0..9; "
            "the file is corrupt, download it again."
        )
    return _images_to_float(images), labels.astype(np.int64)


def load_mnist(
    data_dir: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The MNIST handwritten digits as float32 images and int64 labels.

    Args:
        data_dir: folder with `train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
            `t10k-labels-idx1-ubyte` (each plain or `.gz`), or a folder with
            an `mnist/` subfolder holding them. Defaults to the
            `BETAVAE_DATA_DIR` environment variable; when that is unset too,
            `keras.datasets.mnist.load_data()` downloads the data.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: images float32 of shape
        `(n, 28, 28, 1)` (NHWC) with values in [0, 1], labels int64 of shape
        `(n,)` with values 0..9; `n` is 60,000 for train and 10,000 for test.

    Raises:
        FileNotFoundError: if the folder or one of the four files is missing.
        ValueError: if a file is truncated or is not an IDX file of the
            right kind.
    """
    if data_dir is not None:
        root, source = os.fspath(data_dir), "data_dir"
    else:
        root, source = os.environ.get(DATA_DIR_ENV) or None, DATA_DIR_ENV
    if root is None:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        return (
            (_images_to_float(x_train), y_train.astype(np.int64)),
            (_images_to_float(x_test), y_test.astype(np.int64)),
        )
    folder = _mnist_folder(root, source)
    return _read_split(folder, "train"), _read_split(folder, "test")
