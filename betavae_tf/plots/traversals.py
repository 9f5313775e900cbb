"""Latent traversals: what each latent dimension draws, most informative first.

A traversal sweeps one latent dimension over `values` (prior standard
deviations: the prior is N(0, 1)) and keeps the others at the latent mean of
one example. Dimensions are ranked by their mean KL to the prior
(`betavae_tf.metrics.kl_per_dimension`); by default the 10 highest are shown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from betavae_tf.atomic import write_atomically
from betavae_tf.metrics.diagnostics import kl_per_dimension
from betavae_tf.plots import figures
from betavae_tf.plots.display import DisplayOptions, ImageGrid, Shown, to_uint8
from betavae_tf.plots.predictions import (
    DEFAULT_BATCH_SIZE,
    check_examples,
    decode,
    encode_means,
    with_batch_axis,
)
from betavae_tf.validation import check_int

DEFAULT_TRAVERSAL_VALUES = np.linspace(-3.0, 3.0, 9)
DEFAULT_TRAVERSAL_DIMS = 10  # rows shown unless n_dims says otherwise

_GIF_MIN_CELL_PIXELS = 96


# ---------------------------------------------------------------- arguments
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
            f"dims must be a non-empty 1-D sequence of latent indices, None or 'all'. "
            f"Received: dims={dims!r}"
        )
    if array.min() < 0 or array.max() >= encoding_dim:
        raise ValueError(
            f"dims must be latent indices in [0, {encoding_dim - 1}] (the model has "
            f"{encoding_dim} latent dimensions). Received: dims={dims!r}"
        )
    return array.astype(np.int64)


def number_of_dims(n_dims, encoding_dim: int) -> int:
    """How many traversal rows `n_dims` asks for.

    Args:
        n_dims: `None` (the default: the 10 most informative dimensions, or
            all when the model has fewer), `"all"`, or an int in
            [1, encoding_dim].
        encoding_dim: the model's latent dimensions.
    """
    if n_dims is None:
        return min(DEFAULT_TRAVERSAL_DIMS, encoding_dim)
    if isinstance(n_dims, str) and n_dims == "all":
        return encoding_dim
    n_dims = check_int("n_dims", n_dims)
    if n_dims > encoding_dim:
        raise ValueError(
            f"n_dims={n_dims} but the model has {encoding_dim} latent dimensions; pass "
            f"n_dims <= {encoding_dim}, 'all', or None for the {DEFAULT_TRAVERSAL_DIMS} "
            "most informative."
        )
    return n_dims


def ranked_dims(kl: np.ndarray, n_dims) -> np.ndarray:
    """The `n_dims` (see `number_of_dims`) indices of the highest `kl`, highest first."""
    return np.argsort(-kl, kind="stable")[: number_of_dims(n_dims, len(kl))]


# -------------------------------------------------------------------- decode
def latent_traversal(
    model,
    x_base,
    dims: Sequence[int] | str | None = None,
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
        dims: latent indices to sweep, in this order; `None` (default) for
            the 10 with the highest mean KL over `x_base` (all when the model
            has fewer), `"all"` for every dimension, highest KL first.
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
    x = check_examples(model, with_batch_axis(model, x_base, "x_base"), "x_base")
    if dims is None or (isinstance(dims, str) and dims == "all"):
        dims_order = ranked_dims(kl_per_dimension(model, x, batch_size), dims)
    else:
        dims_order = _check_dims(dims, model.encoding_dim)
    base = encode_means(model, x[:1], batch_size)[0].astype(np.float64)
    codes = np.tile(base, (len(dims_order), len(values), 1))
    for row, dim in enumerate(dims_order):
        codes[row, :, dim] = base[dim] + values if relative else values
    decoded = decode(model, codes.reshape(-1, model.encoding_dim), batch_size)
    images = decoded.reshape((len(dims_order), len(values), *model.feature_shape))
    return images, dims_order


class Traversals(NamedTuple):
    """Traversal images ready to draw (`traversal_grid`'s result)."""

    grid: ImageGrid  # the labelled (n_dims, len(values)) grid
    shown: Shown  # its images, row after row
    dims: np.ndarray  # (n_dims,) latent indices of the rows
    kl: np.ndarray  # (encoding_dim,) mean KL of every latent, nats
    values: np.ndarray  # (len(values),) the column values


def traversal_grid(
    model, x, n_dims=None, values=DEFAULT_TRAVERSAL_VALUES, relative: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE, options: DisplayOptions = DisplayOptions(),
    title: str | None = None, with_note: bool = True, **grid,
) -> Traversals:
    """The traversal grid of `plot_latent_traversals` (same arguments), for
    pictures that place it in a larger figure; `**grid` goes to `ImageGrid`."""
    batch_size = check_int("batch_size", batch_size)
    values = _check_values(values)
    x = check_examples(model, x, "x")
    kl = kl_per_dimension(model, x, batch_size)
    order = ranked_dims(kl, n_dims)
    images, dims = latent_traversal(
        model, x[:1], dims=order, values=values, relative=relative, batch_size=batch_size
    )
    rows, cols = images.shape[:2]
    shown = options.show(images.reshape((rows * cols, *model.feature_shape)))
    which = (f"all {len(kl)} dimensions, highest KL first" if rows == len(kl) else
             f"the {rows} of {len(kl)} dimensions with the highest KL")
    sign = "Δ" if relative else ""
    image_grid = ImageGrid(
        shown, np.arange(rows * cols).reshape(rows, cols),
        title=title if title is not None else f"Latent traversals: {which}",
        note=traversal_note(relative) if with_note else None,
        row_labels=[f"z{d}  KL={kl[d]:.2f} nats" for d in dims],
        col_labels=[f"{sign}{v:+.3g}" for v in values],
        **grid,
    )
    return Traversals(image_grid, shown, dims, kl, values)


def traversal_note(relative: bool = False) -> str:
    """How to read a traversal grid, in one line."""
    change = ("adds the column's value to one latent" if relative else
              "sets one latent to the column's value (prior N(0, 1))")
    return f"each row {change}; the others keep the latent mean of x[0]"


# ------------------------------------------------------------------ pictures
def plot_latent_traversals(
    model,
    x,
    n_dims: int | str | None = None,
    values=DEFAULT_TRAVERSAL_VALUES,
    save_path: figures.PathLike | None = "traversals.png",
    gif_path: figures.PathLike | None = None,
    *,
    relative: bool = False,
    gif_duration_ms: int = 200,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **display,
) -> Figure:
    """Latent traversals, one row per dimension, most informative first.

    Rows are latent dimensions ordered by their KL to the prior averaged over
    `x` (highest first; dimensions near 0 nats are unused); each row label
    gives the index and that KL. Columns set the dimension to each of
    `values` around the base code, the `z_mean` of `x[0]`.

    Args:
        model: a `BetaVAE`.
        x: examples `(N, *model.feature_shape)`, N >= 1.
        n_dims: rows: `None` (default) for the 10 most informative
            dimensions (all when the model has fewer), `"all"`, or an int.
        values: 1-D sweep values. Defaults to 9 points from −3 to 3.
        save_path: PNG to write, or `None`. Defaults to `"traversals.png"`.
        gif_path: optional animated GIF to write as well: frame k shows
            column k of every row, the rows on a labelled grid
            (`len(values)` frames, looping).
        relative: add `values` to the base code instead of replacing it.
        gif_duration_ms: time each GIF frame is shown. Defaults to 200.
        batch_size: examples per model call. Defaults to 256.
        **display: `image_shape`, `postprocess`, `vmin`, `vmax`; see
            `DisplayOptions`.

    Returns:
        The `matplotlib.figure.Figure` (n_dims rows × len(values) columns).
    """
    options = DisplayOptions.from_keywords("plot_latent_traversals", display)
    gif_duration_ms = check_int("gif_duration_ms", gif_duration_ms)
    traversals = traversal_grid(model, x, n_dims, values, relative, batch_size, options)
    grid = traversals.grid
    figure = figures.make_figure(grid.width, grid.height, constrained=False)
    grid.draw(figure)
    figures.save_figure(figure, save_path)
    if gif_path is not None:
        write_traversal_gif(traversals, gif_path, gif_duration_ms, relative)
    return figure


# ----------------------------------------------------------------------- GIF
def _font(pixels: int):
    try:
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), pixels)
    except OSError:  # pragma: no cover - matplotlib always ships DejaVu Sans
        return ImageFont.load_default()


def _text_width(draw, text: str, font) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return right - left


def write_traversal_gif(
    traversals: Traversals, gif_path: figures.PathLike, duration_ms: int = 200,
    relative: bool = False,
) -> None:
    """An animated GIF of `traversals`: frame k shows column k of every row.

    The rows (latent dimensions) lie on a grid of about √(2·n_dims) columns,
    each image enlarged to at least 96 pixels and labelled with its latent
    and KL; the header names the value of the frame, with a progress bar.
    """
    shown, dims, kl, values = traversals.shown, traversals.dims, traversals.kl, traversals.values
    rows, frames = len(dims), len(values)
    cells = shown.rgba.reshape((rows, frames, *shown.rgba.shape[1:]))
    height, width = cells.shape[2:4]
    scale = max(1, math.ceil(_GIF_MIN_CELL_PIXELS / max(height, width)))
    row_scale = max(scale, 16) if height == 1 else scale
    big = to_uint8(np.repeat(np.repeat(cells, row_scale, axis=2), scale, axis=3), grayscale=False)
    cell_h, cell_w = big.shape[2:4]

    label_font, header_font = _font(13), _font(16)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    labels = [f"z{d}  KL={kl[d]:.2f} nats" for d in dims]
    label_h, gap, margin = 18, 10, 12
    step_w = max(cell_w, max(_text_width(measure, text, label_font) for text in labels)) + gap
    step_h = label_h + cell_h + gap
    grid_cols = min(rows, math.ceil(math.sqrt(2 * rows)))
    grid_rows = math.ceil(rows / grid_cols)
    headers = [f"each latent {'shifted by' if relative else 'set to'} {v:+.2f}   "
               f"(frame {k + 1} of {frames})" for k, v in enumerate(values)]
    header_w = max(_text_width(measure, text, header_font) for text in headers)
    frame_w = max(grid_cols * step_w - gap, header_w) + 2 * margin
    top = margin + 22 + 6 + gap  # header, progress bar, gap
    frame_h = top + grid_rows * step_h - gap + margin

    images = []
    for k in range(frames):
        frame = Image.new("RGB", (frame_w, frame_h), "white")
        draw = ImageDraw.Draw(frame)
        draw.text((margin, margin), headers[k], fill="black", font=header_font)
        bar_y = margin + 22
        draw.rectangle([margin, bar_y, frame_w - margin, bar_y + 5], fill=(225, 225, 225))
        filled = margin + round((frame_w - 2 * margin) * (k + 1) / frames)
        draw.rectangle([margin, bar_y, filled, bar_y + 5], fill=(200, 60, 40))
        for i in range(rows):
            x = margin + (i % grid_cols) * step_w
            y = top + (i // grid_cols) * step_h
            draw.text((x, y), labels[i], fill="black", font=label_font)
            frame.paste(Image.fromarray(big[i, k]), (x, y + label_h))
        images.append(frame)
    path = os.fspath(gif_path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, lambda temporary: images[0].save(
        temporary, format="GIF", save_all=True, append_images=images[1:],
        duration=duration_ms, loop=0,
    ))


__all__ = [
    "DEFAULT_TRAVERSAL_DIMS",
    "DEFAULT_TRAVERSAL_VALUES",
    "latent_traversal",
    "plot_latent_traversals",
]
