"""The one place that makes, titles, measures and saves figures.

Every picture of the library is a `matplotlib.figure.Figure` built here with
the object API, never `pyplot`: no GUI backend is touched, nothing blocks and
no global figure is left open (Jupyter still displays a returned figure).
Files are written atomically — a reader sees the old picture or the new one,
never half a PNG — and their folders are created.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from betavae_tf.atomic import write_atomically

PathLike = str | os.PathLike

DPI = 100  # pixels per inch of every saved picture
TITLE_SIZE = 12  # points
LABEL_SIZE = 8  # points, tick labels of image grids
TITLE_GAP = 0.1  # inches above and below a title
MAX_WIDTH = 24.0  # inches: figures never grow beyond 2400 x 2400 pixels
MAX_HEIGHT = 24.0


def make_figure(
    width: float, height: float, title: str | None = None, constrained: bool = True
) -> Figure:
    """A new figure of `width` × `height` inches, optionally titled.

    Args:
        width, height: size in inches (at `DPI` pixels per inch).
        title: figure title, drawn centred at the top.
        constrained: let matplotlib's constrained layout place the axes
            (and the title). With `False` the caller places every axes itself
            and must leave `title_height(title)` inches free at the top.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    if title and constrained:
        figure.suptitle(title, fontsize=TITLE_SIZE)
    elif title:
        add_title(figure, title, centre=width / 2, top=height)
    return figure


def add_title(figure, title: str, centre: float, top: float, fontsize: float = TITLE_SIZE,
              **text):
    """Draws `title` centred at `centre` inches from the left, its top `top`
    inches above the bottom (less a small gap); returns the `Text`."""
    width, height = figure.get_size_inches()
    return figure.text(centre / width, (top - TITLE_GAP) / height, title,
                       ha="center", va="top", fontsize=fontsize, **text)


def title_height(title: str | None) -> float:
    """Inches a `make_figure(..., constrained=False)` title takes at the top."""
    return 0.0 if not title else text_size(title, TITLE_SIZE)[1] + 2 * TITLE_GAP


def legend_below(axes, handles=None, ncols: int = 2, fontsize: float = 9) -> None:
    """A legend under `axes`, below its tick labels and x label, where it
    cannot hide a curve (the offset is in points, so a constrained layout
    makes room for it whatever the size of the axes)."""
    handles = handles if handles is not None else axes.get_legend_handles_labels()[0]
    if handles:
        below = 20 + (15 if axes.get_xlabel() else 0)  # points: tick labels, x label
        axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                    borderaxespad=below / fontsize, ncols=min(len(handles), ncols),
                    fontsize=fontsize, frameon=False)


def save_figure(figure: Figure, save_path: PathLike | None) -> None:
    """Writes `figure` as a PNG at `DPI` (nothing when `save_path` is `None`)."""
    if save_path is not None:
        _write(save_path, lambda path: figure.savefig(path, dpi=DPI, format="png"))


def save_rgba(rgba: np.ndarray, save_path: PathLike | None) -> None:
    """Writes an image array `(H, W, 4)` or `(H, W, 3)` (uint8, or floats in
    [0, 1]) as a PNG, pixel for pixel."""
    if save_path is None:
        return
    pixels = np.asarray(rgba)
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    _write(save_path, lambda path: Image.fromarray(pixels).save(path, format="PNG"))


def _write(save_path: PathLike, write) -> None:
    path = os.fspath(save_path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, write)


def figure_to_rgba(figure: Figure) -> np.ndarray:
    """Renders a figure to an RGBA array `(height, width, 4)` of uint8, the
    pixels `save_figure` writes."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def text_size(text: str, fontsize: float) -> tuple[float, float]:
    """`(width, height)` in inches of `text` (lines split at "\\n") at `fontsize`."""
    return _text_size(str(text), float(fontsize))


@functools.lru_cache(maxsize=4096)
def _text_size(text: str, fontsize: float) -> tuple[float, float]:
    box = _measuring_figure().text(0, 0, text, fontsize=fontsize)
    extent = box.get_window_extent(_measuring_figure().canvas.get_renderer())
    box.remove()
    return extent.width / 72.0, extent.height / 72.0


@functools.cache
def _measuring_figure() -> Figure:
    figure = Figure(dpi=72)  # 1 pixel = 1 point
    FigureCanvasAgg(figure)
    return figure


def widest(texts, fontsize: float) -> float:
    """The largest width in inches of `texts` (0 for none)."""
    return max((text_size(text, fontsize)[0] for text in texts or ()), default=0.0)


def tallest(texts, fontsize: float) -> float:
    """The largest height in inches of `texts` (0 for none)."""
    return max((text_size(text, fontsize)[1] for text in texts or ()), default=0.0)


__all__ = [
    "DPI",
    "add_title",
    "figure_to_rgba",
    "legend_below",
    "make_figure",
    "save_figure",
    "save_rgba",
    "text_size",
    "title_height",
]
