"""The one-page evaluation report: KL per latent, metric scores, traversals."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from betavae_tf.metrics.diagnostics import active_units
from betavae_tf.metrics.scores import flat_scores
from betavae_tf.plots import figures
from betavae_tf.plots.display import DisplayOptions
from betavae_tf.plots.predictions import DEFAULT_BATCH_SIZE, check_examples
from betavae_tf.plots.traversals import DEFAULT_TRAVERSAL_VALUES, traversal_grid

UNUSED_KL_NATS = 0.05  # a latent below this mean KL is drawn grey: unused
_PANELS_HEIGHT = 3.8  # inches of the KL and metric panels


def plot_evaluation_report(
    model,
    x,
    results: dict | None = None,
    save_path: figures.PathLike | None = "evaluation_report.png",
    n_dims: int | str | None = None,
    *,
    values=DEFAULT_TRAVERSAL_VALUES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **display,
) -> Figure:
    """One page: KL per latent dimension, metric bars, traversals of the most
    informative dimensions.

    The KL panel greys the latents whose mean KL is below `UNUSED_KL_NATS`
    and hatches those whose mean barely varies over `x` (variance ≤ 0.01,
    the active-units rule) although they pay KL; its legend says so. The
    metric panel appears only when there are `results`. The traversals are
    those of `plot_latent_traversals`, with the same defaults.

    Args:
        model: a `BetaVAE`.
        x: examples `(n, *feature_shape)`; KL is averaged over them and the
            traversals start from `x[0]`.
        results: output of `evaluate_disentanglement`, or `None` (no metric
            panel).
        save_path: PNG to write, or `None`.
        n_dims: traversal rows: `None` (default) for the 10 most informative
            latents, `"all"`, or an int.
        values: traversal columns. Defaults to 9 points from −3 to 3.
        batch_size: examples per model call. Defaults to 256.
        **display: `image_shape`, `postprocess`, `vmin`, `vmax`; see
            `DisplayOptions`.

    Returns:
        The figure: `axes[0]` the KL bars, `axes[1]` the metric bars (when
        there are results), then the traversal grid.
    """

    options = DisplayOptions.from_keywords("plot_evaluation_report", display)
    x = check_examples(model, x, "x")
    traversals = traversal_grid(
        model, x, n_dims, values, batch_size=batch_size, options=options,
        max_height=figures.MAX_HEIGHT - _PANELS_HEIGHT,
    )
    kl, grid = traversals.kl, traversals.grid
    scores = flat_scores(results or {}, labels=True)

    title = (f"Evaluation of a β-VAE (β = {float(model.beta):g}, {len(kl)} latent dimensions, "
             f"{len(x)} examples)")
    width = max(grid.width, 11.0)
    top = _PANELS_HEIGHT + figures.title_height(title)
    figure = figures.make_figure(width, top + grid.height, title=title)
    figure.get_layout_engine().set(rect=(0, grid.height / (top + grid.height), 1,
                                         top / (top + grid.height)), h_pad=0.08)
    panels = figure.add_gridspec(1, 2 if scores else 1, width_ratios=(1.3, 1) if scores else None)
    _kl_panel(figure.add_subplot(panels[0, 0]), model, x, kl, batch_size)
    if scores:
        _score_panel(figure.add_subplot(panels[0, 1]), scores)
    grid.draw(figure, left=(width - grid.width) / 2)
    figures.save_figure(figure, save_path)
    return figure


def _kl_panel(axes, model, x, kl: np.ndarray, batch_size: int) -> None:
    """Bars of the mean KL per latent, grey when unused, hatched when the mean
    does not follow x."""
    used = kl >= UNUSED_KL_NATS
    constant = np.zeros(len(kl), dtype=bool)
    if len(x) > 1:
        constant = ~np.asarray(active_units(model, x, batch_size=batch_size)["active_mask"])
    bars = axes.bar(range(len(kl)), kl, color=np.where(used, "C0", "0.7"))
    handles = [Patch(color="C0", label=f"used (KL ≥ {UNUSED_KL_NATS} nats)")]
    if (~used).any():
        handles.append(Patch(color="0.7", label=f"unused (KL < {UNUSED_KL_NATS} nats)"))
    if (constant & used).any():
        for bar, hatched in zip(bars, constant & used):
            if hatched:
                bar.set_hatch("//")
                bar.set_edgecolor("white")
        handles.append(Patch(facecolor="C0", hatch="//", edgecolor="white",
                             label="mean constant over x (variance ≤ 0.01):\npays KL, carries no "
                             "information"))
    axes.set(title=f"KL per latent dimension (total {kl.sum():.2f} nats)",
             xlabel="latent dimension", ylabel="mean KL (nats)")
    if len(kl) <= 32:
        axes.set_xticks(range(len(kl)))
    axes.margins(x=0.01)
    figures.legend_below(axes, handles, ncols=len(handles), fontsize=8)


def _score_panel(axes, scores: dict) -> None:
    names, values = list(scores), list(scores.values())
    axes.barh(names, values, color="C2")
    axes.set_xlim(0, 1)
    axes.invert_yaxis()
    for y, value in enumerate(values):
        inside = value > 0.85  # no room right of the bar: write on it
        axes.text(value - 0.01 if inside else value + 0.01, y, f"{value:.3f}", va="center",
                  ha="right" if inside else "left", color="white" if inside else "black")
    axes.set(title="Disentanglement metrics", xlabel="score (1 = best)")


__all__ = ["UNUSED_KL_NATS", "plot_evaluation_report"]
