"""Draws dSprites images from factor values: the geometry of `DSprites`.

Each pixel is on when its centre lies inside the shape's implicit region (a
square, an ellipse or a heart), scaled, rotated and moved by the factors.
`render` is exact and vectorised: each chunk of images is drawn only in a
window around its shapes (the rest of the canvas stays 0), so the metrics,
which render millions of images, do not pay for the empty canvas.
"""

from __future__ import annotations

import functools

import numpy as np

LATENTS_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
LATENTS_SIZES = (1, 3, 6, 40, 32, 32)

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
