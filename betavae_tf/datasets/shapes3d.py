"""Shapes3D (DeepMind's `3dshapes.h5`), read lazily through h5py.

The file (https://github.com/deepmind/3d-shapes, 267,573,662 bytes) holds
two HDF5 datasets: `images`, uint8 `(480000, 64, 64, 3)` (≈5.9 GB once
decompressed), and `labels`, float64 `(480000, 6)`, the factor values of
each image. All combinations of the factors are present once, in
mixed-radix order (orientation varies fastest):

=========== ==== ==================================================
factor      size values in the labels (see `Shapes3D.factor_grids`)
=========== ==== ==================================================
floor_hue   10   hues in [0, 1]
wall_hue    10   hues in [0, 1]
object_hue  10   hues in [0, 1]
scale       8    object sizes
shape       4    0, 1, 2, 3
orientation 15   −30 .. 30 degrees
=========== ==== ==================================================

`load_shapes3d` reads the 23 MB of labels once (to check the layout and take
the factor sizes and values from them) and never the images as a whole:
`Shapes3D.images` reads just the requested ones.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from betavae_tf.datasets.arrays import _one_line
from betavae_tf.datasets.files import locate_data_file
from betavae_tf.datasets.grid import FactorGridImages

SHAPES3D_FILE = "3dshapes.h5"
SHAPES3D_URL = "https://storage.googleapis.com/3d-shapes/3dshapes.h5"
"""DeepMind's download address (github.com/deepmind/3d-shapes)."""

SHAPES3D_SHA256 = "0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785"
"""SHA-256 of `3dshapes.h5`, as recorded (with its size, 267,573,662 bytes) by
TensorFlow Datasets in `tensorflow_datasets/datasets/shapes3d/checksums.tsv`
(previously `tensorflow_datasets/url_checksums/shapes3d.txt`). Downloads are
checked against it."""

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)

H5_CACHE_BYTES = 64 << 20
"""h5py chunk cache: a compressed chunk read for one image serves its neighbours."""


def _grid_of(labels: np.ndarray, source: str) -> tuple[tuple[int, ...], tuple[np.ndarray, ...]]:
    """Factor sizes and per-class values of labels stored in mixed-radix order."""
    sizes = tuple(len(np.unique(column)) for column in labels.T)
    n = len(labels)
    problem = None
    if int(np.prod(sizes, dtype=np.int64)) != n:
        problem = f"{n} rows but {' x '.join(map(str, sizes))} distinct label values"
    grids = []
    if problem is None:
        indices = np.arange(n, dtype=np.int64)
        base = n
        for column, size in enumerate(sizes):
            base //= size
            grid = labels[np.arange(size) * base, column]
            if not np.array_equal(labels[:, column], grid[(indices // base) % size]):
                problem = f"column {column} ({FACTOR_NAMES[column]}) is out of order"
                break
            grids.append(grid.copy())
    if problem is not None:
        raise ValueError(
            f"{source}: labels are not the full factor grid in the official order ({problem}), "
            f"so factors cannot be looked up; pass the unmodified {SHAPES3D_FILE}."
        )
    return sizes, tuple(grids)


class Shapes3D(FactorGridImages):
    """The Shapes3D images of an open `3dshapes.h5`, read on demand.

    The file stays open (read-only) while the object lives; `images`
    reads only the requested images, in increasing index order, `READ_CHUNK`
    at a time, and converts them to float32 in [0, 1]. Use `close()` (or a
    `with` block) to release the file; a later read opens it again. Pickling
    keeps just the path, so copies in other processes open their own handle.

    Attributes:
        path: the HDF5 file.
        factor_names: `FACTOR_NAMES`.
        factor_grids: one float64 array per factor, the label value of each
            class (class `c` of factor `i` is `factor_grids[i][c]`).

    Args:
        path: an HDF5 file in the official layout; the factor sizes are
            taken from its labels (`(10, 10, 10, 8, 4, 15)` for the official
            file, smaller for a file holding a reduced grid in the same
            order, e.g. a test fixture).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: not HDF5, no `images`/`labels`, wrong shapes or dtypes,
            or labels that are not the full grid in the official order.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._file = None
        if not os.path.isfile(self.path):
            raise FileNotFoundError(
                f"No Shapes3D file at {self.path!r}; pass the path of {SHAPES3D_FILE}."
            )
        try:
            sizes, self.factor_grids, shape = self._read_layout(self._open())
        except BaseException:
            self.close()
            raise
        super().__init__(sizes, FACTOR_NAMES, shape)

    def _read_layout(self, handle: h5py.File):
        """Checks the datasets; returns the factor sizes and grids and the image shape."""
        where = repr(self.path)
        missing = [k for k in ("images", "labels") if not isinstance(handle.get(k), h5py.Dataset)]
        if missing:
            raise ValueError(
                f"{where} lacks the datasets {missing} (it has {sorted(handle)}); "
                f"pass DeepMind's {SHAPES3D_FILE}."
            )
        images, labels = handle["images"], handle["labels"]
        n = images.shape[0] if images.ndim else 0
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"{where} has images {images.shape} of {images.dtype}; expected uint8 "
                f"(n, 64, 64, 3) as in DeepMind's {SHAPES3D_FILE}, download it again."
            )
        if labels.shape != (n, 6) or labels.dtype.kind != "f" or n == 0:
            raise ValueError(
                f"{where} has labels {labels.shape} of {labels.dtype} for {n} images; expected "
                f"float (n, 6) with n >= 1 as in DeepMind's {SHAPES3D_FILE}, download it again."
            )
        try:
            values = np.asarray(labels[()], dtype=np.float64)
        except OSError as error:
            raise ValueError(
                f"Could not read the labels of {where} ({_one_line(error)}); the file is "
                "corrupt, download it again."
            ) from None
        return (*_grid_of(values, where), images.shape[1:])

    def _open(self) -> h5py.File:
        if self._file is None:
            if not h5py.is_hdf5(self.path):
                raise ValueError(
                    f"{self.path!r} is not an HDF5 file; pass DeepMind's {SHAPES3D_FILE} "
                    "(download it again if it is truncated)."
                )
            try:
                self._file = h5py.File(self.path, "r", rdcc_nbytes=H5_CACHE_BYTES)
            except OSError as error:
                raise ValueError(
                    f"Could not open {self.path!r} ({_one_line(error)}); the file is "
                    "corrupt, download it again."
                ) from None
        return self._file

    def close(self) -> None:
        """Closes the file (reads reopen it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Shapes3D:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        return state

    def _read_sorted(self, indices: np.ndarray) -> np.ndarray:
        dataset = self._open()["images"]
        try:
            if indices[-1] - indices[0] + 1 == len(indices):  # one contiguous run
                return dataset[int(indices[0]) : int(indices[-1]) + 1]
            return dataset[indices]
        except OSError as error:
            raise ValueError(
                f"Could not read images of {self.path!r} ({_one_line(error)}); the file "
                "is corrupt, download it again."
            ) from None

    def factor_values(self, factors) -> np.ndarray:
        """The file's label values of factors: `(n, 6)` classes -> float64 `(n, 6)`."""
        factors = self.check_factors(factors)
        return np.stack([grid[factors[:, i]] for i, grid in enumerate(self.factor_grids)], axis=1)


def load_shapes3d(
    path: str | os.PathLike | None = None,
    sha256: str | None = None,
    download: bool = False,
) -> Shapes3D:
    """Opens DeepMind's Shapes3D `3dshapes.h5` for lazy reading.

    Args:
        path: `3dshapes.h5`, or a folder holding it (directly or in
            `3dshapes/`). Defaults to the `BETAVAE_DATA_DIR` environment
            variable.
        sha256: if given, the file's SHA-256 (64 hex digits) must match it
            before it is opened (`SHAPES3D_SHA256` is the published one;
            hashing the 268 MB takes about a second). A local file is not
            hashed otherwise.
        download: when the file is not found, fetch it (268 MB) from
            `SHAPES3D_URL` with `keras.utils.get_file` into
            `<path or BETAVAE_DATA_DIR or ~/.keras/datasets>/3dshapes/`,
            check it against `sha256` or else `SHAPES3D_SHA256`, and delete
            it if it does not match. Nothing is downloaded by default.

    Returns:
        `Shapes3D` with `factor_sizes == (10, 10, 10, 8, 4, 15)` and
        `observation_shape == (64, 64, 3)` for the official file; images
        come out float32 in [0, 1].

    Raises:
        FileNotFoundError: no file, and `download` is False.
        ValueError: a SHA-256 mismatch, or a file that is not in the
            official layout (see `Shapes3D`).
    """
    path = locate_data_file(
        path,
        file_name=SHAPES3D_FILE,
        subfolder="3dshapes",
        what="Shapes3D",
        url=SHAPES3D_URL,
        download=download,
        sha256=sha256,
        published_sha256=SHAPES3D_SHA256,
    )
    return Shapes3D(path)
