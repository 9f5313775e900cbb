"""dSprites: 64×64 binary sprites from 5 ground-truth factors.

Two sources with the same interface (`GroundTruthData` plus the official
index arithmetic):

* `load_dsprites(path)` -> `DSpritesArrays`, the official DeepMind file
  `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`.
* `DSprites()`, which renders the same factor grid on demand, without the
  file and without ever holding all 737,280 images.

Factors, in the official order (`latents_sizes = (1, 3, 6, 40, 32, 32)`):

=========== ===== ==================================================
factor      size  values (`latents_values`)
=========== ===== ==================================================
color       1     1.0 (white; constant, not a factor of variation)
shape       3     1.0 square, 2.0 ellipse, 3.0 heart
scale       6     linspace(0.5, 1, 6)
orientation 40    linspace(0, 2π, 40) radians
posX        32    linspace(0, 1, 32)
posY        32    linspace(0, 1, 32)
=========== ===== ==================================================

The flat index of a combination of classes is mixed-radix over
`latents_sizes` (posY varies fastest), as in the official file.
"""

from __future__ import annotations

import os
import zlib

import numpy as np

from betavae_tf.datasets.arrays import _check_numpy_file, _npz_array, _numpy_read_errors, _one_line
from betavae_tf.datasets.checksums import verify_sha256
from betavae_tf.datasets.dsprites_render import (  # noqa: F401 (their home before 0.2)
    HALF_SIZE,
    IMAGE_SIZE,
    LATENTS_NAMES,
    LATENTS_SIZES,
    MARGIN,
    render,
)
from betavae_tf.datasets.ground_truth import GroundTruthData, RandomState

NUM_IMAGES = int(np.prod(LATENTS_SIZES))  # 737,280
DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DATA_DIR_ENV = "BETAVAE_DATA_DIR"

def _official_grids() -> tuple[np.ndarray, ...]:
    return (
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


class _DSpritesIndex(GroundTruthData):
    """Official index arithmetic and the ground-truth interface over it.

    The 5 factors of variation are the official latents without color:
    `(shape, scale, orientation, posX, posY)`.
    """

    latents_sizes: tuple[int, ...] = LATENTS_SIZES

    @property
    def latents_bases(self) -> np.ndarray:
        """Place values of the mixed-radix index, e.g. `(737280, 245760, 40960, 1024, 32, 1)`."""
        sizes = np.asarray(self.latents_sizes, dtype=np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    @property
    def num_images(self) -> int:
        """Number of factor combinations (images)."""
        return int(np.prod(self.latents_sizes, dtype=np.int64))

    def __len__(self) -> int:
        return self.num_images

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Sizes of the factors of variation (color excluded): `(3, 6, 40, 32, 32)`."""
        return tuple(self.latents_sizes[1:])

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return (IMAGE_SIZE, IMAGE_SIZE, 1)

    def _check_indices(self, indices) -> np.ndarray:
        array = np.asarray(indices)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"indices must be integers in 0..{self.num_images - 1}. "
                f"Received dtype {array.dtype}"
            )
        array = array.astype(np.int64)
        if array.size and (array.min() < 0 or array.max() >= self.num_images):
            bad = array[(array < 0) | (array >= self.num_images)].flat[0]
            raise ValueError(
                f"index {bad} is out of range; pass indices in 0..{self.num_images - 1}."
            )
        return array

    def index_to_classes(self, indices) -> np.ndarray:
        """Official `latents_classes` rows of flat indices.

        Args:
            indices: int array of shape `(n,)` (or any shape `S`).

        Returns:
            int64 array of shape `(*S, 6)` in the official factor order.
        """
        indices = self._check_indices(indices)
        sizes = np.asarray(self.latents_sizes, dtype=np.int64)
        return (indices[..., np.newaxis] // self.latents_bases) % sizes

    def classes_to_index(self, classes) -> np.ndarray:
        """Flat indices of official class rows (inverse of `index_to_classes`).

        Args:
            classes: int array of shape `(..., 6)`.

        Returns:
            int64 array of shape `(...)`.
        """
        classes = np.asarray(classes)
        sizes = np.asarray(self.latents_sizes, dtype=np.int64)
        if classes.shape[-1:] != (len(sizes),):
            raise ValueError(
                f"classes must have shape (..., {len(sizes)}) in the order {LATENTS_NAMES}. "
                f"Received shape {classes.shape}"
            )
        classes = classes.astype(np.int64)
        if ((classes < 0) | (classes >= sizes)).any():
            raise ValueError(
                f"classes out of range; factor i takes values 0..latents_sizes[i]-1 with "
                f"latents_sizes={tuple(int(s) for s in sizes)}."
            )
        return classes @ self.latents_bases

    def factors_to_classes(self, factors) -> np.ndarray:
        """Prepends the constant color class to `(n, 5)` factors -> `(n, 6)` classes."""
        factors = self.check_factors(factors)
        return np.concatenate([np.zeros((len(factors), 1), np.int64), factors], axis=1)

    def images(self, indices) -> np.ndarray:
        """Images of official flat indices: float32 `(n, 64, 64, 1)` in [0, 1]."""
        raise NotImplementedError

    def sample_observations_from_factors(
        self, factors, rng: RandomState | None = None
    ) -> np.ndarray:
        """Images of `(n, 5)` factors (shape, scale, orientation, posX, posY).

        The image is fully determined by the factors; `rng` is accepted for
        the interface and unused.

        Returns:
            float32 array of shape `(n, 64, 64, 1)` in [0, 1].
        """
        return self.images(self.classes_to_index(self.factors_to_classes(factors)))


class DSprites(_DSpritesIndex):
    """dSprites rendered on demand over the official factor grid.

    Nothing is precomputed: `images(indices)` rasterises just the requested
    sprites (see `render` for the geometry and the axis conventions), so
    memory is proportional to the batch, never to the 737,280 combinations.

    Example:
        >>> data = DSprites()
        >>> data.factor_sizes, len(data)
        ((3, 6, 40, 32, 32), 737280)
        >>> factors, images = data.sample(8, np.random.default_rng(0))
        >>> factors.shape, images.shape, images.dtype
        ((8, 5), (8, 64, 64, 1), dtype('float32'))
    """

    def __init__(self):
        self._grids = _official_grids()

    def latents_values(self, classes) -> np.ndarray:
        """Official `latents_values` of class rows.

        Args:
            classes: int array of shape `(n, 6)` (official order).

        Returns:
            float64 array of shape `(n, 6)`, e.g. class row `[0, 0, 0, 0, 0, 0]`
            -> `[1, 1, 0.5, 0, 0, 0]`.
        """
        self.classes_to_index(classes)  # validates shape and range
        classes = np.asarray(classes).astype(np.int64)
        return np.stack([grid[classes[..., i]] for i, grid in enumerate(self._grids)], axis=-1)

    def render(self, latents_values) -> np.ndarray:
        """Renders arbitrary (also off-grid) `(n, 6)` latent values; see `render`."""
        return render(latents_values)

    def images(self, indices) -> np.ndarray:
        """Renders official flat indices: float32 `(n, 64, 64, 1)`, values 0/1."""
        return render(self.latents_values(self.index_to_classes(np.atleast_1d(indices))))


class DSpritesArrays(_DSpritesIndex):
    """The official dSprites arrays held in memory (see `load_dsprites`).

    `imgs` stay uint8 (≈3 GB for the official file); only the requested
    images are converted to float32 on access.

    Attributes:
        imgs: uint8 `(n, 64, 64)`.
        all_latents_values: float64 `(n, 6)`, the file's `latents_values`.
        all_latents_classes: int64 `(n, 6)`, the file's `latents_classes`.

    Args:
        imgs: uint8 `(n, H, W)` with values 0/1 (or 0..255).
        latents_values: float `(n, 6)` in the official factor order.
        latents_classes: int `(n, 6)`; must be the full factor grid in
            official mixed-radix order (row `i` = `index_to_classes(i)`).
        source: how the arrays are named in error messages.
    """

    def __init__(
        self,
        imgs: np.ndarray,
        latents_values: np.ndarray,
        latents_classes: np.ndarray,
        source: str = "arrays",
    ):
        n = len(imgs)
        if imgs.ndim != 3 or latents_values.shape != (n, 6) or latents_classes.shape != (n, 6):
            raise ValueError(
                f"{source} has imgs {imgs.shape}, latents_values {latents_values.shape} and "
                f"latents_classes {latents_classes.shape}; expected (n, H, W), (n, 6) and (n, 6) "
                "as in the official dSprites file, download it again."
            )
        if n == 0:
            raise ValueError(f"{source} holds no images; pass the official dSprites file.")
        classes = latents_classes.astype(np.int64)
        self.latents_sizes = tuple(int(s) for s in classes.max(axis=0) + 1)
        if classes.min() < 0 or self.num_images != n or not np.array_equal(
            classes, self.index_to_classes(np.arange(n))
        ):
            raise ValueError(
                f"{source}: latents_classes are not the full factor grid in official "
                "(mixed-radix) order, so factors cannot be looked up; pass the unmodified "
                "official dSprites file."
            )
        self.imgs = imgs
        self.all_latents_values = latents_values
        self.all_latents_classes = classes
        self._scale = np.float32(1.0 / 255.0) if imgs.max() > 1 else np.float32(1.0)

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return tuple(self.imgs.shape[1:]) + (1,)

    def latents_values(self, classes) -> np.ndarray:
        """The file's `latents_values` of class rows `(n, 6)` -> float64 `(n, 6)`."""
        return self.all_latents_values[self.classes_to_index(classes)]

    def images(self, indices) -> np.ndarray:
        """float32 `(n, H, W, 1)` in [0, 1] of official flat indices."""
        indices = self._check_indices(np.atleast_1d(indices))
        return (self.imgs[indices].astype(np.float32) * self._scale)[..., np.newaxis]


def _resolve_path(path) -> str:
    fix = f"pass the path of {DSPRITES_FILE} or set {DATA_DIR_ENV}"
    if path is None:
        root = os.environ.get(DATA_DIR_ENV) or None
        if root is None:
            raise FileNotFoundError(
                f"No dSprites path given and {DATA_DIR_ENV} is unset; {fix} "
                "(download: https://github.com/deepmind/dsprites-dataset), or use "
                "DSprites() to render the images without the file."
            )
        path = root
    path = os.fspath(path)
    if os.path.isdir(path):
        for candidate in (
            os.path.join(path, DSPRITES_FILE),
            os.path.join(path, "dsprites", DSPRITES_FILE),
        ):
            if os.path.isfile(candidate):
                return candidate
        raise FileNotFoundError(f"No {DSPRITES_FILE} in {path!r} or its dsprites/ folder; {fix}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No dSprites file at {path!r}; {fix}.")
    return path


def load_dsprites(
    path: str | os.PathLike | None = None, sha256: str | None = None
) -> DSpritesArrays:
    """Reads the official dSprites `.npz` (pickled `metadata` is never loaded).

    betavae_tf never downloads this file; it reads the copy you point it at.
    The file is opened with `allow_pickle=False`, so it cannot run code.

    Args:
        path: `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`, or a folder
            holding it (directly or in `dsprites/`). Defaults to the
            `BETAVAE_DATA_DIR` environment variable.
        sha256: if given, the file's SHA-256 (64 hex digits) must match it
            before anything is read (see `checksums.verify_sha256`); a
            mismatch raises `ValueError` and the file is not used (nor
            deleted). No official hash is built in: pass the one you trust.

    Returns:
        `DSpritesArrays` with `factor_sizes == (3, 6, 40, 32, 32)` for the
        official file; images come out float32 `(n, 64, 64, 1)` in [0, 1].

    Raises:
        FileNotFoundError: if there is no file.
        ValueError: if the file is corrupt, lacks `imgs`, `latents_values`
            or `latents_classes`, is not the full grid in official order, or
            does not have the SHA-256 `sha256`.
    """
    path = _resolve_path(path)
    if sha256 is not None:
        verify_sha256(path, sha256)
    _check_numpy_file(path)
    with _numpy_read_errors(path):
        loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path!r} is a single .npy array; pass the official dSprites .npz.")
    with loaded:
        keys = ("imgs", "latents_values", "latents_classes")
        missing = [k for k in keys if k not in loaded.files]
        if missing:
            raise ValueError(
                f"{path!r} lacks {missing} (it has {loaded.files}); "
                f"pass the official {DSPRITES_FILE}."
            )
        try:  # _npz_array turns NumPy's read errors into one-line ones
            arrays = {k: _npz_array(path, loaded, k) for k in keys}
        except zlib.error as error:  # a damaged deflate stream inside the zip
            raise ValueError(
                f"Could not read {path!r} ({_one_line(error)}); the file is corrupt or "
                "truncated, download it again."
            ) from None
    return DSpritesArrays(source=repr(path), **arrays)
