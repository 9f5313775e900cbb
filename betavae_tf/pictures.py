"""Pictures of what a trained β-VAE has learned, written to files.

Reconstructions, prior samples, latent interpolations, latent traversals
(ordered by how much information each dimension carries) and a 2-D PCA of the
latent means. Every function takes any `BetaVAE` — the dense network on
feature vectors or a convolutional one on NHWC images — writes a PNG
(creating its folder), returns the `matplotlib.figure.Figure` and never blocks:
figures are built with `Figure` directly, never `pyplot`.

How arrays are shown (one helper, `_display_images`, does it for every
function):

* images `(H, W, C)` with C in {1, 3, 4} (or `(H, W)`) are shown as they are,
  a gray colormap for one channel, clipped to [0, 1] by default;
* vectors of length n are shown as √n × √n images when n is a perfect square
  (the 64 digits features become 8 × 8) and as a 1-pixel-high strip otherwise,
  on a gray scale that spans the values of the whole figure by default;
* `image_shape=` overrides that shape, `postprocess=` (for example a
  `Standardizer.inverse_transform`) maps the model's arrays back to data
  space before display, and `vmin=`/`vmax=` fix the value range.

Predictions run in batches of `batch_size` examples, so large inputs are fine.
"""

from __future__ import annotations

import math
import os
from typing import Callable, NamedTuple, Sequence

import keras
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from betavae_tf.metrics.diagnostics import kl_per_dimension
from betavae_tf.metrics.utils import encode_in_batches
from betavae_tf.validation import check_int, validate_features

PathLike = str | os.PathLike
Postprocess = Callable[[np.ndarray], np.ndarray]

DEFAULT_TRAVERSAL_VALUES = np.linspace(-3.0, 3.0, 9)
DEFAULT_BATCH_SIZE = 256

_MAX_FIGURE_WIDTH = 24.0  # inches
_MAX_FIGURE_HEIGHT = 24.0
_GIF_MIN_CELL_PIXELS = 96
_STRIP_REPEAT = 4  # a 1-pixel-high strip is drawn 4 pixels high in grids


# ---------------------------------------------------------------- validation
def _check_examples(model, x, name: str) -> np.ndarray:
    """`x` as float32 `(n, *model.feature_shape)`, n >= 1, or a one-line error."""
    return validate_features(x, name=name, feature_shape=model.feature_shape)


def _with_batch_axis(model, x, name: str) -> np.ndarray:
    """Adds the batch axis to a single example of shape `model.feature_shape`."""
    array = np.asarray(x)
    feature_shape = tuple(model.feature_shape)
    if array.ndim == len(feature_shape):
        if array.shape != feature_shape:
            raise ValueError(
                f"{name} has shape {array.shape} but the model expects examples of "
                f"shape {feature_shape}; pass one example or a batch (n, *{feature_shape})."
            )
        array = array[None]
    return array


def _check_one_example(model, x, name: str) -> np.ndarray:
    """One example, given as `feature_shape` or `(1, *feature_shape)`, as `(1, ...)`."""
    array = _check_examples(model, _with_batch_axis(model, x, name), name)
    if len(array) != 1:
        raise ValueError(
            f"{name} must be one example of shape {tuple(model.feature_shape)}, but "
            f"it has {len(array)} examples; pass e.g. {name}=x[0]."
        )
    return array


def _check_values(values) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"values must be a 1-D sequence of numbers. Received: values={values!r}"
        ) from None
    if array.ndim != 1 or array.size < 1 or not np.isfinite(array).all():
        raise ValueError(
            "values must be a non-empty 1-D sequence of finite numbers, e.g. "
            f"np.linspace(-3, 3, 9). Received: values={values!r}"
        )
    return array


def _check_dims(dims, encoding_dim: int) -> np.ndarray:
    array = np.asarray(dims)
    if array.ndim != 1 or array.size < 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"dims must be a non-empty 1-D sequence of latent indices. Received: dims={dims!r}"
        )
    if array.min() < 0 or array.max() >= encoding_dim:
        raise ValueError(
            f"dims must be latent indices in [0, {encoding_dim - 1}] (the model has "
            f"{encoding_dim} latent dimensions). Received: dims={dims!r}"
        )
    return array.astype(np.int64)


# --------------------------------------------------------------- predictions
def _decode(model, z: np.ndarray, batch_size: int) -> np.ndarray:
    """Mean reconstructions `(n, *feature_shape)` of latents `(n, encoding_dim)`."""
    z = np.asarray(z, dtype=np.float32)
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(model.decode(z[start : start + batch_size], training=False))
            for start in range(0, len(z), batch_size)
        ]
    )


# ---------------------------------------------------- arrays -> display images
class _Display(NamedTuple):
    """Arrays ready to draw: RGBA `(n, H, W, 4)` in [0, 1] and their scale."""

    rgba: np.ndarray
    grayscale: bool
    vmin: float
    vmax: float


def _image_shape_of(feature_shape: tuple, image_shape) -> tuple[int, int, int]:
    size = math.prod(feature_shape)
    if image_shape is not None:
        try:
            shape = tuple(int(d) for d in image_shape)
        except (TypeError, ValueError):
            shape = ()
        if len(shape) == 2:
            shape = (*shape, 1)
        if len(shape) != 3 or math.prod(shape) != size or min(shape) < 1:
            raise ValueError(
                f"image_shape must be (height, width) or (height, width, channels) with "
                f"{size} values in all, to match examples of shape {feature_shape}. "
                f"Received: image_shape={image_shape!r}"
            )
    elif len(feature_shape) == 3:
        shape = feature_shape
    elif len(feature_shape) == 2:
        shape = (*feature_shape, 1)
    elif len(feature_shape) == 1:
        side = math.isqrt(size)
        shape = (side, side, 1) if side * side == size else (1, size, 1)
    else:
        raise ValueError(
            f"Cannot show examples of shape {feature_shape} as images; pass "
            "image_shape=(height, width) or (height, width, channels)."
        )
    if shape[2] not in (1, 3, 4):
        raise ValueError(
            f"Cannot show images with {shape[2]} channels (shape {shape}); pass "
            "postprocess= mapping them to 1, 3 or 4 channels, or image_shape=."
        )
    return shape


def _display_images(
    arrays,
    image_shape: Sequence[int] | None = None,
    postprocess: Postprocess | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> _Display:
    """The one place that turns model arrays into displayable RGBA images.

    Args:
        arrays: `(n, *feature_shape)`, every array one figure shows (so the
            automatic scale of vectors is shared by the whole figure).
        image_shape: optional `(H, W)` or `(H, W, C)` override.
        postprocess: optional callable applied to `arrays` first; it must
            return `n` examples.
        vmin, vmax: value range mapped to black..white. Defaults: [0, 1] for
            images (values outside are clipped); the finite min and max of
            `arrays` for vectors.

    Returns:
        `_Display` with `rgba` of shape `(n, H, W, 4)`; NaN values become
        transparent.
    """
    arrays = np.asarray(arrays)
    n = len(arrays)
    if postprocess is not None:
        arrays = np.asarray(postprocess(arrays))
        if arrays.ndim < 2 or len(arrays) != n:
            raise ValueError(
                f"postprocess must return an array of {n} examples; it returned shape "
                f"{arrays.shape}."
            )
    arrays = arrays.astype(np.float64)
    feature_shape = tuple(arrays.shape[1:])
    shape = _image_shape_of(feature_shape, image_shape)
    images = arrays.reshape((n, *shape))

    if vmin is None or vmax is None:
        if len(feature_shape) == 1:  # vectors: the range of this figure
            finite = images[np.isfinite(images)]
            low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
            if high <= low:  # a constant figure: show it mid-gray
                low, high = low - 0.5, high + 0.5
        else:
            low, high = 0.0, 1.0
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
    vmin, vmax = float(vmin), float(vmax)
    if not (math.isfinite(vmin) and math.isfinite(vmax) and vmax > vmin):
        raise ValueError(
            f"vmin and vmax must be finite with vmin < vmax. Received: vmin={vmin}, vmax={vmax}"
        )
    scaled = np.clip((images - vmin) / (vmax - vmin), 0.0, 1.0)  # NaN stays NaN
    grayscale = shape[2] == 1
    rgb = np.repeat(scaled, 3, axis=-1) if grayscale else scaled[..., :3]
    alpha = scaled[..., 3:4] if shape[2] == 4 else np.ones_like(scaled[..., :1])
    alpha = np.where(np.isnan(rgb).any(axis=-1, keepdims=True), 0.0, alpha)  # NaN -> transparent
    rgba = np.concatenate([np.nan_to_num(rgb), np.nan_to_num(alpha)], axis=-1)
    return _Display(rgba.astype(np.float64), grayscale, vmin, vmax)


def _cells_to_mosaic(cells: np.ndarray) -> tuple[np.ndarray, list[float], list[float]]:
    """Tiles RGBA cells `(rows, cols, H, W, 4)` with transparent gaps.

    Returns:
        `(mosaic, row_centres, col_centres)`: the `(rows·(H'+p)−p, cols·(W+p)−p, 4)`
        image (strips, H = 1, are repeated to H' = 4 pixels) and the pixel
        centres of each row and column, for labels.
    """
    rows, cols, height, width = cells.shape[:4]
    if height == 1:
        cells = np.repeat(cells, _STRIP_REPEAT, axis=2)
        height = _STRIP_REPEAT
    pad = max(1, round(0.06 * max(height, width)))
    mosaic = np.zeros((rows * (height + pad) - pad, cols * (width + pad) - pad, 4))
    for r in range(rows):
        for c in range(cols):
            top, left = r * (height + pad), c * (width + pad)
            mosaic[top : top + height, left : left + width] = cells[r, c]
    row_centres = [r * (height + pad) + (height - 1) / 2 for r in range(rows)]
    col_centres = [c * (width + pad) + (width - 1) / 2 for c in range(cols)]
    return mosaic, row_centres, col_centres


def _grid_figure(
    display: _Display,
    layout: np.ndarray,
    title: str,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> Figure:
    """Draws `display` images on a grid: `layout[r, c]` is an image index or -1."""
    rows, cols = layout.shape
    height, width = display.rgba.shape[1:3]
    empty = np.zeros((height, width, 4))
    cells = np.stack(
        [np.stack([display.rgba[i] if i >= 0 else empty for i in row]) for row in layout]
    )
    mosaic, row_centres, col_centres = _cells_to_mosaic(cells)

    if height == 1:  # strips: wide, flat cells
        cell_width, cell_height = 1.8, 0.3
    else:
        cell_width = 1.0
        cell_height = float(np.clip(height / width, 0.25, 4.0))
    with_colorbar = display.grayscale and (display.vmin, display.vmax) != (0.0, 1.0)
    extra_width = (1.8 if row_labels else 0.3) + (1.2 if with_colorbar else 0.3)
    extra_height = 0.6 + (0.4 if col_labels else 0.0)
    fig_width = cols * cell_width + extra_width
    fig_height = rows * cell_height + extra_height
    shrink = min(1.0, _MAX_FIGURE_WIDTH / fig_width, _MAX_FIGURE_HEIGHT / fig_height)
    figure = Figure(
        figsize=(max(4.0, fig_width * shrink), max(2.0, fig_height * shrink)),
        layout="constrained",
    )
    axes = figure.add_subplot()
    axes.imshow(
        mosaic,
        interpolation="nearest",
        aspect="auto" if height == 1 else "equal",
    )
    axes.set_xticks(col_centres if col_labels else [], list(col_labels or []))
    axes.set_yticks(row_centres if row_labels else [], list(row_labels or []))
    axes.tick_params(length=0, labelsize=8)
    axes.xaxis.set_ticks_position("top")
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_title(title)
    if with_colorbar:  # the value of black and white is not obvious
        scale = ScalarMappable(Normalize(display.vmin, display.vmax), cmap="gray")
        figure.colorbar(scale, ax=axes, shrink=0.8, label="value")
    return figure


def _save_figure(figure: Figure, save_path: PathLike | None) -> None:
    if save_path is None:
        return
    save_path = os.fspath(save_path)
    os.makedirs(os.path.dirname(os.path.abspath(save_path)), exist_ok=True)
    figure.savefig(save_path, dpi=100)


def _to_uint8(rgba: np.ndarray, grayscale: bool) -> np.ndarray:
    """RGBA `(H, W, 4)` in [0, 1] -> uint8 `(H, W)` gray or `(H, W, 3)` on white."""
    alpha = rgba[..., 3:4]
    rgb = rgba[..., :3] * alpha + (1.0 - alpha)  # transparent -> white
    pixels = np.round(rgb * 255).astype(np.uint8)
    return pixels[..., 0] if grayscale else pixels


# ------------------------------------------------------------------- pictures
def plot_reconstructions(
    model,
    x,
    n: int = 10,
    save_path: PathLike | None = "reconstructions.png",
    image_shape: Sequence[int] | None = None,
    postprocess: Postprocess | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Figure:
    """Originals (top row) and their deterministic reconstructions (below).

    Reconstructions decode `z_mean`, so they are the same on every call.

    Args:
        model: a `BetaVAE`.
        x: float array `(N, *model.feature_shape)`, N >= 1.
        n: how many of the first examples of `x` to show (at most N).
            Defaults to 10.
        save_path: PNG to write (folders are created), or `None`.
            Defaults to `"reconstructions.png"`.
        image_shape: optional `(H, W)`/`(H, W, C)` display shape.
        postprocess: optional callable applied to `(k, *feature_shape)`
            arrays before display, e.g. `scaler.inverse_transform`.
        vmin, vmax: display range; see the module docstring.
        batch_size: examples per model call. Defaults to 256.

    Returns:
        The `matplotlib.figure.Figure` (2 rows × min(n, N) columns).
    """
    n = check_int("n", n)
    batch_size = check_int("batch_size", batch_size)
    x = _check_examples(model, x, "x")[:n]
    z_mean, _ = encode_in_batches(model, x, batch_size)
    reconstructions = _decode(model, z_mean, batch_size)
    display = _display_images(
        np.concatenate([x, reconstructions]), image_shape, postprocess, vmin, vmax
    )
    k = len(x)
    figure = _grid_figure(
        display,
        np.arange(2 * k).reshape(2, k),
        title="Originals and reconstructions",
        row_labels=["original", "reconstruction"],
        col_labels=[str(i) for i in range(k)],
    )
    _save_figure(figure, save_path)
    return figure


def _prior_samples(model, n: int, seed: int | None, batch_size: int) -> np.ndarray:
    """Same draws as `model.sample(n, seed)`, decoded in batches."""
    if seed is None:
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(model.sample(min(batch_size, n - start)))
                for start in range(0, n, batch_size)
            ]
        )
    z = keras.random.normal((n, model.encoding_dim), seed=seed)
    return _decode(model, keras.ops.convert_to_numpy(z), batch_size)


def plot_samples(
    model,
    n: int = 64,
    seed: int | None = 0,
    save_path: PathLike | None = "samples.png",
    individual_dir: PathLike | None = None,
    image_shape: Sequence[int] | None = None,
    postprocess: Postprocess | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Figure:
    """Decodes `n` draws from the prior N(0, I) into a grid.

    Args:
        model: a `BetaVAE`.
        n: number of samples, >= 1. Defaults to 64 (an 8 × 8 grid).
        seed: integer for reproducible draws (the same as
            `model.sample(n, seed)`), or `None` for the model's own seed
            generator. Defaults to 0.
        save_path: PNG of the grid, or `None`. Defaults to `"samples.png"`.
        individual_dir: optional folder that also receives every sample as its
            own PNG, `sample_0000.png`, `sample_0001.png`, ... at the image's
            native resolution (gray for one channel). Existing files there are
            overwritten, other files are left alone.
        image_shape, postprocess, vmin, vmax: display options; see the module
            docstring.
        batch_size: latents per decoder call. Defaults to 256.

    Returns:
        The `matplotlib.figure.Figure` (a ⌈n/⌈√n⌉⌉ × ⌈√n⌉ grid).
    """
    n = check_int("n", n)
    batch_size = check_int("batch_size", batch_size)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    samples = _prior_samples(model, n, seed, batch_size)
    display = _display_images(samples, image_shape, postprocess, vmin, vmax)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    layout = np.full(rows * cols, -1)
    layout[:n] = np.arange(n)
    figure = _grid_figure(
        display, layout.reshape(rows, cols), title=f"{n} samples from the prior"
    )
    _save_figure(figure, save_path)
    if individual_dir is not None:
        individual_dir = os.fspath(individual_dir)
        os.makedirs(individual_dir, exist_ok=True)
        digits = max(4, len(str(n - 1)))
        for i, rgba in enumerate(display.rgba):
            pixels = _to_uint8(rgba, display.grayscale)
            Image.fromarray(pixels).save(os.path.join(individual_dir, f"sample_{i:0{digits}d}.png"))
    return figure


def interpolate_latents(z_start, z_end, steps: int) -> np.ndarray:
    """Evenly spaced points on the segment from `z_start` to `z_end`.

    Args:
        z_start: latent code `(latent_dim,)` (or `(1, latent_dim)`).
        z_end: latent code of the same size.
        steps: number of points, >= 2; the first is `z_start`, the last
            `z_end`, exactly.

    Returns:
        Array `(steps, latent_dim)` with row t = `(1 − t/(steps−1))·z_start +
        t/(steps−1)·z_end`, in the inputs' floating dtype (at least float32).
    """
    steps = check_int("steps", steps, minimum=2)
    start, end = np.asarray(z_start), np.asarray(z_end)
    dtype = np.result_type(start, end, np.float32)
    start, end = start.reshape(-1), end.reshape(-1)
    if start.shape != end.shape or start.size < 1:
        raise ValueError(
            f"z_start and z_end must be latent codes of the same size; got sizes "
            f"{np.asarray(z_start).size} and {np.asarray(z_end).size}."
        )
    t = np.linspace(0.0, 1.0, steps)[:, None]
    points = (1.0 - t) * start.astype(np.float64) + t * end.astype(np.float64)
    return points.astype(dtype)


def plot_interpolation(
    model,
    x_start,
    x_end,
    steps: int = 10,
    save_path: PathLike | None = "interpolation.png",
    image_shape: Sequence[int] | None = None,
    postprocess: Postprocess | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Decodes a straight line between the latent means of two examples.

    One strip: the original `x_start`, `steps` decoded points from its
    `z_mean` to that of `x_end` (`interpolate_latents`), the original `x_end`.

    Args:
        model: a `BetaVAE`.
        x_start, x_end: one example each, of shape `model.feature_shape`
            (or `(1, *feature_shape)`).
        steps: decoded points, >= 2, endpoints included. Defaults to 10.
        save_path: PNG to write, or `None`. Defaults to `"interpolation.png"`.
        image_shape, postprocess, vmin, vmax: display options; see the module
            docstring.

    Returns:
        The `matplotlib.figure.Figure` (1 row × steps + 2 columns).
    """
    steps = check_int("steps", steps, minimum=2)
    x_start = _check_one_example(model, x_start, "x_start")
    x_end = _check_one_example(model, x_end, "x_end")
    z_mean, _ = encode_in_batches(model, np.concatenate([x_start, x_end]), DEFAULT_BATCH_SIZE)
    path = interpolate_latents(z_mean[0], z_mean[1], steps)
    decoded = _decode(model, path, DEFAULT_BATCH_SIZE)
    display = _display_images(
        np.concatenate([x_start, decoded, x_end]), image_shape, postprocess, vmin, vmax
    )
    labels = ["start\n(original)"] + [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
    figure = _grid_figure(
        display,
        np.arange(steps + 2)[None],
        title="Interpolation between the latent means of two examples",
        col_labels=labels + ["end\n(original)"],
    )
    _save_figure(figure, save_path)
    return figure


def _traversal_codes(
    base: np.ndarray, dims: np.ndarray, values: np.ndarray, relative: bool
) -> np.ndarray:
    """Latents `(len(dims), len(values), latent_dim)` sweeping each dim of `base`."""
    codes = np.tile(base.astype(np.float64), (len(dims), len(values), 1))
    for row, dim in enumerate(dims):
        codes[row, :, dim] = base[dim] + values if relative else values
    return codes


def latent_traversal(
    model,
    x_base,
    dims: Sequence[int] | None = None,
    values=DEFAULT_TRAVERSAL_VALUES,
    relative: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Decodes sweeps of single latent dimensions around a base code.

    The base code is the `z_mean` of the first example of `x_base`; row i
    sets dimension `dims_order[i]` to each of `values` (or adds them, with
    `relative=True`) and keeps every other dimension at the base code.

    Args:
        model: a `BetaVAE`.
        x_base: `(N, *feature_shape)` (N >= 1) or one example `feature_shape`.
        dims: latent indices to sweep, in this order. Defaults to every
            dimension ordered by its mean KL over `x_base`, highest first
            (see `betavae_tf.metrics.kl_per_dimension`).
        values: 1-D values to sweep. Defaults to 9 points from −3 to 3, the
            prior's ±3σ.
        relative: add `values` to the base code instead of replacing it.
            Defaults to `False`.
        batch_size: examples per model call. Defaults to 256.

    Returns:
        `(images, dims_order)`: float array `(n_dims, len(values),
        *feature_shape)` of mean reconstructions and int array `(n_dims,)`.
    """
    batch_size = check_int("batch_size", batch_size)
    values = _check_values(values)
    x = _check_examples(model, _with_batch_axis(model, x_base, "x_base"), "x_base")
    if dims is None:
        dims_order = np.argsort(-kl_per_dimension(model, x, batch_size), kind="stable")
    else:
        dims_order = _check_dims(dims, model.encoding_dim)
    z_mean, _ = encode_in_batches(model, x[:1], batch_size)
    codes = _traversal_codes(z_mean[0], dims_order, values, relative)
    decoded = _decode(model, codes.reshape(-1, model.encoding_dim), batch_size)
    images = decoded.reshape((len(dims_order), len(values), *model.feature_shape))
    return images, dims_order


def _write_gif(cells: np.ndarray, gif_path: PathLike, duration_ms: int) -> None:
    """Frame k stacks column k of every row of RGBA `cells (rows, cols, H, W, 4)`,
    with a progress bar underneath (so consecutive frames always differ)."""
    rows, cols, height, width = cells.shape[:4]
    scale = max(1, math.ceil(_GIF_MIN_CELL_PIXELS / max(height, width)))
    row_scale = max(scale, 16) if height == 1 else scale
    big = np.repeat(np.repeat(cells, row_scale, axis=2), scale, axis=3)
    pad = max(1, scale // 2)
    frame_width = width * scale
    frames = []
    for k in range(cols):
        column, _, _ = _cells_to_mosaic(big[:, k : k + 1])
        pixels = _to_uint8(column, grayscale=False)
        bar = np.full((max(4, pad * 2), frame_width, 3), 255, np.uint8)
        filled = max(1, round(frame_width * (k + 1) / cols))
        bar[:, :filled] = (200, 60, 40)
        gap = np.full((pad, frame_width, 3), 255, np.uint8)
        frame = np.concatenate([pixels, gap, bar])
        frames.append(Image.fromarray(frame))
    gif_path = os.fspath(gif_path)
    os.makedirs(os.path.dirname(os.path.abspath(gif_path)), exist_ok=True)
    frames[0].save(
        gif_path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0
    )


def plot_latent_traversals(
    model,
    x,
    n_dims: int | None = None,
    values=DEFAULT_TRAVERSAL_VALUES,
    save_path: PathLike | None = "traversals.png",
    gif_path: PathLike | None = None,
    image_shape: Sequence[int] | None = None,
    postprocess: Postprocess | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    relative: bool = False,
    gif_duration_ms: int = 200,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Figure:
    """Latent traversals, one row per dimension, most informative first.

    Rows are latent dimensions ordered by their KL to the prior averaged over
    `x` (highest first; dimensions near 0 nats are unused); each row label
    gives the index and that KL. Columns set the dimension to each of
    `values` around the base code, the `z_mean` of `x[0]`.

    Args:
        model: a `BetaVAE`.
        x: float array `(N, *model.feature_shape)`, N >= 1.
        n_dims: show only the `n_dims` most informative dimensions.
            Defaults to all of them.
        values: 1-D sweep values. Defaults to 9 points from −3 to 3.
        save_path: PNG to write, or `None`. Defaults to `"traversals.png"`.
        gif_path: optional animated GIF to write as well: frame k shows
            column k of every row (`len(values)` frames, looping).
        image_shape, postprocess, vmin, vmax: display options; see the module
            docstring.
        relative: add `values` to the base code instead of replacing it.
        gif_duration_ms: time each GIF frame is shown. Defaults to 200.
        batch_size: examples per model call. Defaults to 256.

    Returns:
        The `matplotlib.figure.Figure` (n_dims rows × len(values) columns).
    """
    batch_size = check_int("batch_size", batch_size)
    gif_duration_ms = check_int("gif_duration_ms", gif_duration_ms)
    values = _check_values(values)
    if n_dims is not None:
        n_dims = check_int("n_dims", n_dims)
        if n_dims > model.encoding_dim:
            raise ValueError(
                f"n_dims={n_dims} but the model has {model.encoding_dim} latent "
                f"dimensions; pass n_dims <= {model.encoding_dim} or None for all."
            )
    x = _check_examples(model, x, "x")
    kl = kl_per_dimension(model, x, batch_size)
    order = np.argsort(-kl, kind="stable")[:n_dims]
    images, dims = latent_traversal(
        model, x[:1], dims=order, values=values, relative=relative, batch_size=batch_size
    )
    rows, cols = images.shape[:2]
    display = _display_images(
        images.reshape((rows * cols, *model.feature_shape)), image_shape, postprocess, vmin, vmax
    )
    prefix = "Δ" if relative else ""
    figure = _grid_figure(
        display,
        np.arange(rows * cols).reshape(rows, cols),
        title="Latent traversals (rows ordered by mean KL, highest first)",
        row_labels=[f"z{d}  KL={kl[d]:.2f} nats" for d in dims],
        col_labels=[f"{prefix}{v:+.3g}" for v in values],
    )
    _save_figure(figure, save_path)
    if gif_path is not None:
        cells = display.rgba.reshape((rows, cols, *display.rgba.shape[1:]))
        _write_gif(cells, gif_path, gif_duration_ms)
    return figure


def _is_categorical(labels: np.ndarray) -> bool:
    """Integers: classes when <= 10 distinct values; floats: when also integer-valued;
    anything else (text, booleans, objects): classes."""
    kind = labels.dtype.kind
    if kind in "iu":
        return len(np.unique(labels)) <= 10
    if kind == "f":
        finite = labels[np.isfinite(labels)]
        return len(np.unique(finite)) <= 10 and np.array_equal(finite, np.round(finite))
    return True


def plot_latent_pca(
    model,
    x,
    labels=None,
    save_path: PathLike | None = "latent_pca.png",
    label_name: str = "label",
    categorical: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Figure:
    """Scatter of the latent means projected on their first two principal axes.

    With a 1-D latent the single coordinate is plotted against the example
    index instead (nothing to project).

    Args:
        model: a `BetaVAE`.
        x: float array `(N, *model.feature_shape)`, N >= 1.
        labels: optional `(N,)` class labels or a continuous ground-truth
            factor to colour the points by.
        save_path: PNG to write, or `None`. Defaults to `"latent_pca.png"`.
        label_name: what `labels` are called in the legend / colourbar.
        categorical: treat `labels` as classes (legend) or as a continuous
            value (colourbar). Defaults to classes for text or booleans and
            for integer-valued labels with at most 10 distinct values.
        batch_size: examples per encoder call. Defaults to 256.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    batch_size = check_int("batch_size", batch_size)
    x = _check_examples(model, x, "x")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(x):
            raise ValueError(
                f"labels has shape {labels.shape} but x has {len(x)} examples; pass one "
                "label per example, shape (n,)."
            )
    z_mean, _ = encode_in_batches(model, x, batch_size)
    z = z_mean.astype(np.float64)

    figure = Figure(figsize=(6.5, 5.0), layout="constrained")
    axes = figure.add_subplot()
    if z.shape[1] == 1:
        coords = np.stack([np.arange(len(z)), z[:, 0]], axis=1)
        axes.set(xlabel="example index", ylabel="z0 (mean)",
                 title="Latent means (1-D latent)")
    else:
        centred = z - z.mean(axis=0)
        if len(z) >= 2 and np.any(centred.var(axis=0) > 0):
            from sklearn.decomposition import PCA

            pca = PCA(n_components=2).fit(z)
            coords = pca.transform(z)
            ratios = pca.explained_variance_ratio_
        else:  # one example or identical codes: no direction to project on
            coords, ratios = np.zeros((len(z), 2)), np.zeros(2)
        axes.set(
            xlabel=f"PC1 ({100 * ratios[0]:.1f}% of variance)",
            ylabel=f"PC2 ({100 * ratios[1]:.1f}% of variance)",
            title=f"PCA of the {z.shape[1]}-D latent means",
        )

    if labels is None:
        axes.scatter(coords[:, 0], coords[:, 1], s=12, alpha=0.8)
    elif categorical if categorical is not None else _is_categorical(labels):
        classes = np.unique(labels)
        palette = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, value in enumerate(classes):
            chosen = labels == value
            axes.scatter(coords[chosen, 0], coords[chosen, 1], s=12, alpha=0.8,
                         color=palette(i % palette.N), label=str(value))
        axes.legend(title=label_name, fontsize=8, markerscale=1.5,
                    ncols=1 if len(classes) <= 10 else 2,
                    loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        try:
            values = labels.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"labels of dtype {labels.dtype} cannot be a continuous colour scale; "
                "pass numbers or categorical=True."
            ) from None
        points = axes.scatter(coords[:, 0], coords[:, 1], c=values, s=12, cmap="viridis")
        figure.colorbar(points, ax=axes, label=label_name)
    _save_figure(figure, save_path)
    return figure


__all__ = [
    "DEFAULT_TRAVERSAL_VALUES",
    "interpolate_latents",
    "latent_traversal",
    "plot_interpolation",
    "plot_latent_pca",
    "plot_latent_traversals",
    "plot_reconstructions",
    "plot_samples",
]
