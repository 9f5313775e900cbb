"""Pictures of decoded images: reconstructions, prior samples, interpolations.

Every function takes any `BetaVAE` — the dense network on feature vectors or
a convolutional one on NHWC images — writes a PNG (creating its folder),
returns the `matplotlib.figure.Figure` and never blocks. Inputs may be NumPy
arrays or tensors. `**display` keywords (`image_shape`, `postprocess`,
`vmin`, `vmax`) say how arrays are shown; see `plots.display.DisplayOptions`.
Predictions run in batches of `batch_size` examples, so large inputs are fine.
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from betavae_tf.atomic import write_atomically
from betavae_tf.plots import figures
from betavae_tf.plots.display import DisplayOptions, grid_figure, to_uint8
from betavae_tf.plots.predictions import (
    DEFAULT_BATCH_SIZE,
    check_examples,
    check_one_example,
    decode,
    encode_means,
    prior_samples,
)
from betavae_tf.validation import check_int


def plot_reconstructions(
    model,
    x,
    n: int = 10,
    save_path: figures.PathLike | None = "reconstructions.png",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **display,
) -> Figure:
    """Originals (top row) and their deterministic reconstructions (below).

    Reconstructions decode `z_mean`, so they are the same on every call.

    Args:
        model: a `BetaVAE`.
        x: examples `(N, *model.feature_shape)`, N >= 1.
        n: how many of the first examples of `x` to show (at most N).
            Defaults to 10.
        save_path: PNG to write (folders are created), or `None`.
            Defaults to `"reconstructions.png"`.
        batch_size: examples per model call. Defaults to 256.
        **display: `image_shape`, `postprocess`, `vmin`, `vmax`; see
            `DisplayOptions`.

    Returns:
        The `matplotlib.figure.Figure` (2 rows × min(n, N) columns).
    """
    options = DisplayOptions.from_keywords("plot_reconstructions", display)
    n = check_int("n", n)
    batch_size = check_int("batch_size", batch_size)
    x = check_examples(model, x, "x")[:n]
    reconstructions = decode(model, encode_means(model, x, batch_size), batch_size)
    k = len(x)
    figure = grid_figure(
        options.show(np.concatenate([x, reconstructions])),
        np.arange(2 * k).reshape(2, k),
        title="Originals and their reconstructions (decoded latent means)",
        row_labels=["original", "reconstruction"],
    )
    figures.save_figure(figure, save_path)
    return figure


def plot_samples(
    model,
    n: int = 64,
    seed: int | None = 0,
    save_path: figures.PathLike | None = "samples.png",
    individual_dir: figures.PathLike | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **display,
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
        batch_size: latents per decoder call. Defaults to 256.
        **display: `image_shape`, `postprocess`, `vmin`, `vmax`; see
            `DisplayOptions`.

    Returns:
        The `matplotlib.figure.Figure` (a ⌈n/⌈√n⌉⌉ × ⌈√n⌉ grid).
    """
    options = DisplayOptions.from_keywords("plot_samples", display)
    n = check_int("n", n)
    batch_size = check_int("batch_size", batch_size)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    shown = options.show(prior_samples(model, n, seed, batch_size))
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    layout = np.full(rows * cols, -1)
    layout[:n] = np.arange(n)
    figure = grid_figure(
        shown, layout.reshape(rows, cols), title=f"{n} samples from the prior N(0, I)"
    )
    figures.save_figure(figure, save_path)
    if individual_dir is not None:
        individual_dir = os.fspath(individual_dir)
        os.makedirs(individual_dir, exist_ok=True)
        digits = max(4, len(str(n - 1)))
        for i, rgba in enumerate(shown.rgba):
            pixels = to_uint8(rgba, shown.grayscale)
            write_atomically(os.path.join(individual_dir, f"sample_{i:0{digits}d}.png"),
                             lambda path, pixels=pixels: Image.fromarray(pixels).save(path, format="PNG"))
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
    save_path: figures.PathLike | None = "interpolation.png",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **display,
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
        batch_size: latents per model call. Defaults to 256.
        **display: `image_shape`, `postprocess`, `vmin`, `vmax`; see
            `DisplayOptions`.

    Returns:
        The `matplotlib.figure.Figure` (1 row × steps + 2 columns).
    """
    options = DisplayOptions.from_keywords("plot_interpolation", display)
    steps = check_int("steps", steps, minimum=2)
    batch_size = check_int("batch_size", batch_size)
    x_start = check_one_example(model, x_start, "x_start")
    x_end = check_one_example(model, x_end, "x_end")
    z_mean = encode_means(model, np.concatenate([x_start, x_end]), batch_size)
    decoded = decode(model, interpolate_latents(z_mean[0], z_mean[1], steps), batch_size)
    labels = ["start\n(original)"] + [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
    figure = grid_figure(
        options.show(np.concatenate([x_start, decoded, x_end])),
        np.arange(steps + 2)[None],
        title="Interpolation between the latent means of two examples",
        col_labels=labels + ["end\n(original)"],
    )
    figures.save_figure(figure, save_path)
    return figure


__all__ = ["interpolate_latents", "plot_interpolation", "plot_reconstructions", "plot_samples"]
