"""Pictures of a β sweep: loss terms against β, traversals side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from betavae_tf.plots import figures
from betavae_tf.plots.display import DisplayOptions
from betavae_tf.plots.traversals import (
    DEFAULT_TRAVERSAL_VALUES,
    traversal_grid,
    traversal_note,
)


def plot_sweep(rows: list[dict], save_path: figures.PathLike | None) -> Figure:
    """Reconstruction and KL (per example) against β, train and test.

    The β axis is logarithmic when every β is positive and has a tick,
    labelled with its value, at each β of the sweep.

    Args:
        rows: one dict per β with `beta`, `train_reconstruction`,
            `test_reconstruction`, `train_kl` and `test_kl` (the rows of
            `beta_sweep`).
        save_path: PNG to write, or `None`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    betas = [row["beta"] for row in rows]
    log_scale = all(beta > 0 for beta in betas) and len(set(betas)) > 1
    figure = figures.make_figure(10, 4.6, title="β sweep: loss terms per example")
    for axes, term, title in zip(
        figure.subplots(1, 2), ("reconstruction", "kl"), ("Reconstruction (NLL)", "KL (nats)")
    ):
        for split, style in (("train", "o-"), ("test", "s--")):
            axes.plot(betas, [row[f"{split}_{term}"] for row in rows], style, label=split)
        if log_scale:
            axes.set_xscale("log")
        axes.set_xticks(betas, [f"{beta:g}" for beta in betas])
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set(title=f"{title} vs β", xlabel="β (log scale)" if log_scale else "β")
        figures.legend_below(axes)
    figures.save_figure(figure, save_path)
    return figure


def plot_sweep_traversals(
    models: Sequence,
    betas: Sequence[float],
    x,
    save_path: figures.PathLike | None,
    values=DEFAULT_TRAVERSAL_VALUES,
    n_dims: int | str | None = None,
    **display,
) -> np.ndarray:
    """The latent traversals of every β side by side, as one PNG.

    Each panel is the grid of `plot_latent_traversals` for one model (rows:
    its most informative latents by KL on `x`, base code: `x[0]`), titled
    with its β; the panels' tops are aligned.

    Args:
        models: the trained `BetaVAE`s.
        betas: their β, one per model.
        x: examples `(n, *feature_shape)`.
        save_path: PNG to write, or `None`.
        values: traversal columns. Defaults to 9 points from −3 to 3.
        n_dims: rows per panel: `None` (default) for the 10 most
            informative latents, `"all"`, or an int.
        **display: `image_shape`, `postprocess`, `vmin`, `vmax`; see
            `DisplayOptions`.

    Returns:
        The RGBA image written, uint8 of shape `(height, width, 4)`.
    """
    options = DisplayOptions.from_keywords("plot_sweep_traversals", display)
    title = "Latent traversals per β (rows: each model's latents with the highest KL)"
    note = traversal_note()
    grids = [
        traversal_grid(model, x, _at_most(n_dims, model.encoding_dim), np.asarray(values),
                       options=options, title=f"β = {beta:g}", with_note=False).grid
        for model, beta in zip(models, betas)
    ]
    heading = max(figures.widest([title], figures.TITLE_SIZE), figures.widest([note], 9))
    width = max(sum(grid.width for grid in grids), heading + 0.4)
    top = figures.title_height(title) + figures.text_size(note, 9)[1] + figures.TITLE_GAP
    height = top + max(grid.height for grid in grids)
    figure = figures.make_figure(width, height, title=title, constrained=False)
    figures.add_title(figure, note, centre=width / 2, top=height - figures.title_height(title)
                      + figures.TITLE_GAP, fontsize=9, color="0.3")
    left = (width - sum(grid.width for grid in grids)) / 2
    for grid in grids:
        grid.draw(figure, left=left, bottom=height - top - grid.height)
        left += grid.width
    rgba = figures.figure_to_rgba(figure)
    figures.save_rgba(rgba, save_path)
    return rgba


def _at_most(n_dims, encoding_dim: int):
    """An int `n_dims` capped at the model's latents (`None`, `"all"` as they are)."""
    return min(n_dims, encoding_dim) if isinstance(n_dims, (int, np.integer)) else n_dims


__all__ = ["plot_sweep", "plot_sweep_traversals"]
