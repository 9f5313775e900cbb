"""How model arrays become pictures: the display options and the image grid.

`DisplayOptions` is the one place for how arrays are shown; every picture
function takes its fields as keyword arguments (`**display`):

* images `(H, W, C)` with C in {1, 3, 4} (or `(H, W)`) are shown as they are,
  a gray scale for one channel, clipped to [0, 1] by default;
* vectors of length n are shown as √n × √n images when n is a perfect square
  (the 64 digits features become 8 × 8) and as a 1-pixel-high strip otherwise,
  on a gray scale that spans the values of the whole figure by default;
* `image_shape=` overrides that shape, `postprocess=` (for example a
  `Standardizer.inverse_transform`) maps the model's arrays back to data
  space before display, and `vmin=`/`vmax=` fix the value range.

`ImageGrid` lays such images out with row and column labels, measured in
inches before anything is drawn, so labels are never cut off.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from betavae_tf.plots import figures

Postprocess = Callable[[np.ndarray], np.ndarray]

_STRIP_REPEAT = 4  # a 1-pixel-high strip is drawn 4 pixels high in grids
_PAD = 0.12  # inches around a grid
_TICK_GAP = 0.06  # inches between a label and the images
_NOTE_SIZE = 9  # points, the line under a grid's title


def as_numpy(array) -> np.ndarray:
    """A NumPy array of `array`: NumPy, lists, or tensors (e.g. the outputs
    of `model.encode`/`model.sample` as well as those of `model.predict`)."""
    if isinstance(array, np.ndarray):
        return array
    try:
        return np.asarray(keras.ops.convert_to_numpy(array))
    except Exception:  # not a tensor: lists, scalars, objects NumPy rejects later
        return np.asarray(array)


class Shown(NamedTuple):
    """Arrays ready to draw: RGBA `(n, H, W, 4)` in [0, 1] and their scale."""

    rgba: np.ndarray
    grayscale: bool
    vmin: float
    vmax: float

    @property
    def needs_colorbar(self) -> bool:
        """Gray values whose meaning is not the obvious black = 0, white = 1."""
        return self.grayscale and (self.vmin, self.vmax) != (0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class DisplayOptions:
    """How arrays `(n, *feature_shape)` are shown as images.

    Args:
        image_shape: optional `(H, W)` or `(H, W, C)` display shape of one
            example (e.g. `(28, 28)` for flat MNIST vectors).
        postprocess: optional callable applied to `(k, *feature_shape)`
            arrays before display, e.g. `scaler.inverse_transform`; it must
            return k examples (NumPy arrays or tensors).
        vmin, vmax: value range mapped to black..white. Defaults: [0, 1] for
            images (values outside are clipped); the finite min and max of
            the figure's arrays for vectors.
    """

    image_shape: Sequence[int] | None = None
    postprocess: Postprocess | None = None
    vmin: float | None = None
    vmax: float | None = None

    @classmethod
    def from_keywords(cls, function: str, keywords: dict) -> DisplayOptions:
        """The options from a picture function's `**display` keywords."""
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(keywords) - set(names))
        if unknown:
            raise TypeError(
                f"{function}() got an unexpected keyword argument {unknown[0]!r}; its "
                f"display options are {', '.join(names)}."
            )
        return cls(**keywords)

    def show(self, arrays) -> Shown:
        """Turns model arrays into displayable RGBA images.

        Args:
            arrays: `(n, *feature_shape)`, every array one figure shows (so the
                automatic scale of vectors is shared by the whole figure).

        Returns:
            `Shown` with `rgba` of shape `(n, H, W, 4)`; NaN values become
            transparent.
        """
        arrays = as_numpy(arrays)
        n = len(arrays)
        if self.postprocess is not None:
            arrays = as_numpy(self.postprocess(arrays))
            if arrays.ndim < 2 or len(arrays) != n:
                raise ValueError(
                    f"postprocess must return an array of {n} examples; it returned shape "
                    f"{arrays.shape}."
                )
        arrays = arrays.astype(np.float64)
        feature_shape = tuple(arrays.shape[1:])
        shape = _image_shape_of(feature_shape, self.image_shape)
        images = arrays.reshape((n, *shape))
        vmin, vmax = self._value_range(images, vectors=len(feature_shape) == 1)
        scaled = np.clip((images - vmin) / (vmax - vmin), 0.0, 1.0)  # NaN stays NaN
        grayscale = shape[2] == 1
        rgb = np.repeat(scaled, 3, axis=-1) if grayscale else scaled[..., :3]
        alpha = scaled[..., 3:4] if shape[2] == 4 else np.ones_like(scaled[..., :1])
        alpha = np.where(np.isnan(rgb).any(axis=-1, keepdims=True), 0.0, alpha)  # NaN: transparent
        rgba = np.concatenate([np.nan_to_num(rgb), np.nan_to_num(alpha)], axis=-1)
        return Shown(rgba.astype(np.float64), grayscale, vmin, vmax)

    def _value_range(self, images: np.ndarray, vectors: bool) -> tuple[float, float]:
        vmin, vmax = self.vmin, self.vmax
        if vmin is None or vmax is None:
            low, high = 0.0, 1.0
            if vectors:  # the range of this figure
                finite = images[np.isfinite(images)]
                low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
                if high <= low:  # a constant figure: show it mid-gray
                    low, high = low - 0.5, high + 0.5
            vmin = low if vmin is None else vmin
            vmax = high if vmax is None else vmax
        vmin, vmax = float(vmin), float(vmax)
        if not (math.isfinite(vmin) and math.isfinite(vmax) and vmax > vmin):
            raise ValueError(
                f"vmin and vmax must be finite with vmin < vmax. Received: vmin={vmin}, vmax={vmax}"
            )
        return vmin, vmax


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


def to_uint8(rgba: np.ndarray, grayscale: bool) -> np.ndarray:
    """RGBA `(..., H, W, 4)` in [0, 1] -> uint8 `(..., H, W)` gray or `(..., H, W, 3)`
    on white."""
    alpha = rgba[..., 3:4]
    rgb = rgba[..., :3] * alpha + (1.0 - alpha)  # transparent -> white
    pixels = np.round(rgb * 255).astype(np.uint8)
    return pixels[..., 0] if grayscale else pixels


def _gap(height: int, width: int) -> int:
    """Pixels between the cells of a mosaic of `height` × `width` images."""
    return max(1, round(0.06 * max(height, width)))


def cells_to_mosaic(cells: np.ndarray) -> tuple[np.ndarray, list[float], list[float]]:
    """Tiles RGBA cells `(rows, cols, H, W, 4)` with transparent gaps.

    Returns:
        `(mosaic, row_centres, col_centres)`: the `(rows·(H'+p)−p, cols·(W+p)−p, 4)`
        image (strips, H = 1, are repeated to H' = 4 pixels) and the pixel
        centres of each row and column, for labels.
    """
    rows, cols, height, width = cells.shape[:4]
    pad = _gap(height, width)
    if height == 1:
        cells = np.repeat(cells, _STRIP_REPEAT, axis=2)
        height = _STRIP_REPEAT
    mosaic = np.zeros((rows * (height + pad) - pad, cols * (width + pad) - pad, 4))
    for r in range(rows):
        for c in range(cols):
            top, left = r * (height + pad), c * (width + pad)
            mosaic[top : top + height, left : left + width] = cells[r, c]
    row_centres = [r * (height + pad) + (height - 1) / 2 for r in range(rows)]
    col_centres = [c * (width + pad) + (width - 1) / 2 for c in range(cols)]
    return mosaic, row_centres, col_centres


class ImageGrid:
    """A titled grid of images with row and column labels, sized in inches.

    Everything is measured when the grid is made: `width` and `height` hold
    its size with the labels, the title and the colourbar (drawn when gray
    values are not simply black = 0, white = 1), so callers make a figure of
    that size (`grid_figure`) or place the grid in a larger one (`draw`).

    Args:
        shown: `Shown` images `(n, H, W, 4)`.
        layout: int array `(rows, cols)`: the image index of each cell, −1
            for an empty cell.
        title: optional title centred above the grid.
        note: optional smaller line under the title (how to read the grid).
        row_labels, col_labels: optional labels left of the rows and above
            the columns.
        cell_inches: width of an image cell before the grid is shrunk to fit
            `max_width` × `max_height`. Defaults to 1 inch.
    """

    def __init__(
        self,
        shown: Shown,
        layout: np.ndarray,
        title: str | None = None,
        row_labels: Sequence[str] | None = None,
        col_labels: Sequence[str] | None = None,
        note: str | None = None,
        cell_inches: float = 1.0,
        max_width: float = figures.MAX_WIDTH,
        max_height: float = figures.MAX_HEIGHT,
    ):
        self.shown, self.title, self.note = shown, title, note
        self.row_labels = list(row_labels or [])
        self.col_labels = list(col_labels or [])
        height, width = shown.rgba.shape[1:3]
        empty = np.zeros((height, width, 4))
        cells = np.stack(
            [np.stack([shown.rgba[i] if i >= 0 else empty for i in row]) for row in layout]
        )
        self.mosaic, self.row_centres, self.col_centres = cells_to_mosaic(cells)
        self.strips = height == 1
        # inches per mosaic pixel: a cell (with its gap) is `cell_inches` wide
        step_w = width + _gap(height, width)
        step_h = (_STRIP_REPEAT if self.strips else height) + _gap(height, width)
        if self.strips:  # wide, flat cells
            inch_x, inch_y = 1.8 * cell_inches / step_w, 0.3 * cell_inches / step_h
        else:  # square pixels, unless the images are extremely wide or tall
            ratio = height / width
            inch_x = cell_inches / step_w
            inch_y = inch_x * float(np.clip(ratio, 0.25, 4.0)) / ratio
        self.aspect = "equal" if inch_x == inch_y else "auto"
        image_h, image_w = self.mosaic.shape[0] * inch_y, self.mosaic.shape[1] * inch_x
        cell_width, cell_height = step_w * inch_x, step_h * inch_y
        self.label_size = self.col_label_size = figures.LABEL_SIZE
        margins_w = 2 * _PAD + self._row_label_width() + self._colorbar_width()
        margins_h = 2 * _PAD + self._title_height() + self._col_label_height()
        scale = min(1.0, (max_width - margins_w) / image_w, (max_height - margins_h) / image_h)
        self.image_w, self.image_h = image_w * scale, image_h * scale
        # smaller cells, smaller labels (never larger than the cells)
        self.label_size = float(np.clip(0.75 * 72 * cell_height * scale, 4.0, figures.LABEL_SIZE))
        widest_col = max(figures.widest(self.col_labels, self.label_size), 1e-6)
        fits = 0.95 * cell_width * scale / widest_col
        self.col_label_size = float(np.clip(self.label_size * fits, 4.0, self.label_size))
        self.body_h = max(self.image_h, self._colorbar_height())
        content_w = 2 * _PAD + self._row_label_width() + self.image_w + self._colorbar_width()
        heading_w = max(figures.widest([title], figures.TITLE_SIZE),
                        figures.widest([note], _NOTE_SIZE))
        self.width = max(content_w, heading_w + 2 * _PAD)
        self.content_left = (self.width - content_w) / 2
        self.height = 2 * _PAD + self._title_height() + self._col_label_height() + self.body_h

    def _title_height(self) -> float:
        note = figures.text_size(self.note, _NOTE_SIZE)[1] + figures.TITLE_GAP if self.note else 0.0
        return figures.title_height(self.title) + note

    def _row_label_width(self) -> float:
        if not self.row_labels:
            return 0.0
        return figures.widest(self.row_labels, self.label_size) + _TICK_GAP

    def _col_label_height(self) -> float:
        if not self.col_labels:
            return 0.0
        return figures.tallest(self.col_labels, self.col_label_size) + _TICK_GAP

    def _colorbar_width(self) -> float:
        if not self.shown.needs_colorbar:
            return 0.0
        # gap, bar, tick labels (matplotlib keeps them to about 5 characters), label;
        # the same for every figure, so that pictures of two models have one size
        return 0.2 + 0.15 + 0.1 + figures.widest(["−0.000"], 10) + 0.35

    def _colorbar_height(self) -> float:
        return float(np.clip(self.image_h, 1.5, 5.0)) if self.shown.needs_colorbar else 0.0

    def draw(self, figure: Figure, left: float = 0.0, bottom: float = 0.0):
        """Draws the grid with its lower left corner at (`left`, `bottom`)
        inches; returns the image `Axes`."""
        fig_w, fig_h = figure.get_size_inches()

        def rect(x, y, w, h):
            return [x / fig_w, y / fig_h, w / fig_w, h / fig_h]

        x = left + self.content_left + _PAD + self._row_label_width()
        y = bottom + _PAD + (self.body_h - self.image_h) / 2
        axes = figure.add_axes(rect(x, y, self.image_w, self.image_h))
        axes.imshow(self.mosaic, interpolation="nearest", aspect=self.aspect)
        axes.set_xticks(self.col_centres if self.col_labels else [], self.col_labels)
        axes.set_yticks(self.row_centres if self.row_labels else [], self.row_labels)
        axes.tick_params(axis="y", length=0, pad=2, labelsize=self.label_size)
        axes.tick_params(axis="x", length=0, pad=2, labelsize=self.col_label_size)
        axes.xaxis.set_ticks_position("top")
        for spine in axes.spines.values():
            spine.set_visible(False)
        if self.shown.needs_colorbar:  # the value of black and white is not obvious
            bar_h = self._colorbar_height()
            bar_y = bottom + _PAD + (self.body_h - bar_h) / 2
            bar = figure.add_axes(rect(x + self.image_w + 0.2, bar_y, 0.15, bar_h))
            scale = ScalarMappable(Normalize(self.shown.vmin, self.shown.vmax), cmap="gray")
            figure.colorbar(scale, cax=bar, label="value")
        top, centre = bottom + self.height, left + self.width / 2
        if self.title:
            figures.add_title(figure, self.title, centre=centre, top=top)
            top -= figures.title_height(self.title) - figures.TITLE_GAP
        if self.note:
            figures.add_title(figure, self.note, centre=centre, top=top, fontsize=_NOTE_SIZE,
                              color="0.3")
        return axes


def grid_figure(shown: Shown, layout: np.ndarray, title: str, **labels) -> Figure:
    """A figure holding just one `ImageGrid` (keywords: its labels)."""
    grid = ImageGrid(shown, layout, title=title, **labels)
    figure = figures.make_figure(grid.width, grid.height, constrained=False)
    grid.draw(figure)
    return figure


__all__ = ["DisplayOptions", "ImageGrid", "Shown", "as_numpy", "grid_figure", "to_uint8"]
