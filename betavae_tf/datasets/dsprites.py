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

import functools
import os
import zlib

import numpy as np

from betavae_tf.datasets.arrays import _check_numpy_file, _npz_array, _numpy_read_errors, _one_line
from betavae_tf.datasets.checksums import verify_sha256
from betavae_tf.datasets.ground_truth import GroundTruthData, RandomState

LATENTS_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
LATENTS_SIZES = (1, 3, 6, 40, 32, 32)
NUM_IMAGES = int(np.prod(LATENTS_SIZES))  # 737,280
DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DATA_DIR_ENV = "BETAVAE_DATA_DIR"

IMAGE_SIZE = 64
"""Side of the square canvas in pixels."""

HALF_SIZE = 8.0
"""Half the side (pixels) of the square at scale 1: a 16 px square, 1/4 of the canvas."""

MARGIN = 12.0
"""Pixels between the canvas border and the extreme shape centres.

A shape at scale 1 fits in a circle of radius `HALF_SIZE·√2 ≈ 11.3` px (the
square's corners), so with this margin every shape stays entirely inside the
canvas at every orientation. Position 0 maps to pixel coordinate 12 and
position 1 to 52 (the official file uses roughly 8..56 and lets corners touch
the border).
"""

_SHAPE_NAMES = {1: "square", 2: "ellipse", 3: "heart"}
_ELLIPSE_MINOR = 0.5  # minor semi-axis relative to the major one (1)
# The heart (x²+y²−1)³ − x²y³ ≤ 0 spans x ∈ [−1.139, 1.139], y ∈ [−1, 1.236];
# these map it onto the box |u|, |v| ≤ 1 centred at the origin.
_HEART_X, _HEART_Y, _HEART_SHIFT = 1.139, 1.118, 0.118


def _official_grids() -> tuple[np.ndarray, ...]:
    return (
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


def render(latents_values: np.ndarray, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Rasterises sprites from continuous factor values.

    Each pixel is on when its centre lies inside the shape's implicit region
    (no anti-aliasing). Conventions: posX moves the shape right (image columns
    grow), posY moves it down (image rows grow); orientation rotates it
    counter-clockwise as seen on screen; at orientation 0 the heart's point
    is at the bottom and the ellipse's long axis is horizontal.

    Args:
        latents_values: float array `(n, 6)` in the official layout (color,
            shape 1/2/3, scale, orientation in radians, posX, posY); values
            between the grid points are allowed.
        image_size: side of the canvas; the geometry scales with it.

    Returns:
        float32 array of shape `(n, image_size, image_size, 1)` with values 0/1.
    """
    values = np.asarray(latents_values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(LATENTS_SIZES):
        raise ValueError(
            f"latents_values must have shape (n, {len(LATENTS_SIZES)}) in the order "
            f"{LATENTS_NAMES}. Received shape {values.shape}"
        )
    shapes = np.rint(values[:, 1]).astype(np.int64)
    if values.size and not ((shapes >= 1) & (shapes <= 3)).all():  # _SHAPE_NAMES
        raise ValueError(
            f"shape values must be 1 (square), 2 (ellipse) or 3 (heart). Received: "
            f"{sorted(set(values[:, 1].tolist()) - {1.0, 2.0, 3.0})}"
        )
    out = np.zeros((len(values), image_size, image_size, 1), dtype=np.float32)
    for start in range(0, len(values), _RENDER_CHUNK):
        part = values[start : start + _RENDER_CHUNK]
        window = _window_size(part[:, 2], image_size) if np.isfinite(part).all() else None
        if window is None:
            out[start : start + _RENDER_CHUNK, ..., 0] = _render_chunk(
                shapes[start : start + _RENDER_CHUNK], *part[:, 2:].T, image_size
            )
        else:
            _render_windows(out[start : start + _RENDER_CHUNK, ..., 0],
                            shapes[start : start + _RENDER_CHUNK], *part[:, 2:].T,
                            image_size, window)
    return out


_RENDER_CHUNK = 256  # images per vectorised step: keeps the temporaries in cache


def _window_size(scales, image_size):
    """Side of a square window that holds every pixel the shapes can cover, or
    `None` when it would not be smaller than the canvas.

    Every shape lies inside `|u|, |v| <= 1` in its own frame (units of half
    sizes), so within `R = HALF_SIZE·ratio·|scale|·√2` pixels of its centre. A
    window of side `2·ceil(R) + 4` placed at `floor(centre) − side // 2`
    (clipped to the canvas) holds every pixel centre within `R + 1.5` of the
    centre; pixels outside it are outside the shape by more than a pixel, far
    beyond rounding.
    """
    radius = HALF_SIZE * (image_size / IMAGE_SIZE) * float(np.max(np.abs(scales), initial=0.0))
    side = 2 * int(np.ceil(radius * np.sqrt(2.0))) + 4
    return side if side < image_size else None


def _render_windows(out, shapes, scales, orientations, pos_x, pos_y, image_size, window):
    """`_render_chunk` evaluated only in a `window`² square around each shape.

    Writes into `out` (zeros, `(n, size, size)` float32). Every pixel inside a
    window goes through exactly `_render_chunk`'s float32 operations (same
    operands, same order), so the images are bit-identical to it.
    """
    ratio = image_size / IMAGE_SIZE
    margin = MARGIN * ratio
    grid = np.arange(image_size, dtype=np.float32) + np.float32(0.5)  # pixel centres

    def column(values):
        return values.astype(np.float32)[:, None, None]

    centre_x = margin + column(pos_x) * (image_size - 2 * margin)
    centre_y = margin + column(pos_y) * (image_size - 2 * margin)
    # Top-left corner of each window: (n,) pixel indices.
    last = image_size - window
    left = np.floor(centre_x[:, 0, 0]).astype(np.int64) - window // 2
    top = np.floor(centre_y[:, 0, 0]).astype(np.int64) - window // 2
    left, top = np.minimum(np.maximum(left, 0), last), np.minimum(np.maximum(top, 0), last)
    offsets = np.arange(window)
    dx = grid[left[:, None] + offsets][:, None, :] - centre_x  # (n, 1, w), pointing right
    dy = centre_y - grid[top[:, None] + offsets][:, :, None]  # (n, w, 1), pointing up
    angle = column(orientations)
    cos, sin = np.cos(angle), np.sin(angle)
    half = np.float32(HALF_SIZE * ratio) * column(scales)
    # Rotate each pixel by −orientation into the shape's frame, in half-sizes.
    u = (cos * dx + sin * dy) / half  # (n, w, w)
    v = (cos * dy - sin * dx) / half
    inside = np.empty(u.shape, dtype=bool)
    for shape in _SHAPE_NAMES:
        rows = np.flatnonzero(shapes == shape)
        if rows.size:
            test = _inside_heart_fast if shape == 3 else functools.partial(_inside, shape)
            inside[rows] = test(u[rows], v[rows])
    for i in range(len(inside)):  # per-image slices beat one fancy-indexed scatter
        out[i, top[i] : top[i] + window, left[i] : left[i] + window] = inside[i]


def _inside(shape, u, v):
    """Whether points `(u, v)` (shape frame, half-sizes) are inside `shape` (1, 2, 3)."""
    if shape == 1:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 2:  # ellipse
        return u * u + (v / _ELLIPSE_MINOR) ** 2 <= 1.0
    x2 = (u * _HEART_X) ** 2  # heart
    y = v * _HEART_Y + _HEART_SHIFT
    return (x2 + y * y - 1.0) ** 3 - x2 * y**3 <= 0.0


def _inside_heart_fast(u, v):
    """`_inside(3, u, v)`, bit for bit, without `powf` for almost every pixel.

    `_inside` cubes with `** 3` (NumPy's float32 `power`, ~50 ns a pixel).
    Here `a³` is `a·a·a`: with `A = x2 + y² − 1` computed exactly as there,
    both cubes are within 2 ulp of the true ones, so the two values of
    `f = A³ − x2·y³` differ by less than `2⁻²⁰·(|A|³ + |x2·y³|)`. Where the
    fast `|f|` exceeds `2⁻¹⁶` times that (16× the bound), both have the same
    sign; the few pixels closer to the outline are evaluated with `_inside`'s
    own expression (element-wise NumPy results do not depend on an element's
    position in the array).
    """
    x2 = (u * _HEART_X) ** 2
    y = v * _HEART_Y + _HEART_SHIFT
    a = x2 + y * y - 1.0
    cube = a * a * a
    tail = x2 * (y * y * y)
    f = cube - tail
    unsure = np.abs(f) <= np.float32(2.0**-16) * (np.abs(cube) + np.abs(tail))
    inside = f <= 0.0
    if unsure.any():
        x2, y = x2[unsure], y[unsure]
        inside[unsure] = (x2 + y * y - 1.0) ** 3 - x2 * y**3 <= 0.0
    return inside


def _render_chunk(shapes, scales, orientations, pos_x, pos_y, image_size):
    """Binary `(n, size, size)` float32 images; all inputs have shape `(n,)`."""
    ratio = image_size / IMAGE_SIZE
    margin = MARGIN * ratio
    grid = np.arange(image_size, dtype=np.float32) + np.float32(0.5)  # pixel centres
    out = np.zeros((len(shapes), image_size, image_size), dtype=np.float32)
    for shape in _SHAPE_NAMES:
        rows = np.flatnonzero(shapes == shape)
        if not rows.size:
            continue

        def column(values, rows=rows):
            return values[rows].astype(np.float32)[:, None, None]

        centre_x = margin + column(pos_x) * (image_size - 2 * margin)
        centre_y = margin + column(pos_y) * (image_size - 2 * margin)
        dx = grid[None, None, :] - centre_x  # (m, 1, W), pointing right
        dy = centre_y - grid[None, :, None]  # (m, H, 1), pointing up
        angle = column(orientations)
        cos, sin = np.cos(angle), np.sin(angle)
        half = np.float32(HALF_SIZE * ratio) * column(scales)
        # Rotate each pixel by −orientation into the shape's frame, in half-sizes.
        u = (cos * dx + sin * dy) / half  # (m, H, W)
        v = (cos * dy - sin * dx) / half
        out[rows] = _inside(shape, u, v)
    return out


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
