"""The latent space at a glance: a 2-D PCA of the latent means.

Axes are robust to outliers: when a few points lie far from the rest (beyond
the quartiles ∓ 3 interquartile ranges), the axes stop there and the points
beyond are drawn as × on the border, their number written under the plot.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from betavae_tf.plots import figures
from betavae_tf.plots.display import as_numpy
from betavae_tf.plots.predictions import DEFAULT_BATCH_SIZE, check_examples, encode_means
from betavae_tf.validation import check_int

ROBUST_PERCENTILES = (0.5, 99.5)  # the view when the quartiles coincide
_FENCE = 3.0  # interquartile ranges beyond the quartiles: Tukey's "far out"
_PAD = 0.05  # of the axis range, around the points
_WORTH_IT = 0.25  # a side is clipped when its outliers would add this much to the view


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


def robust_limits(values: np.ndarray) -> tuple[float, float] | None:
    """Axis limits that leave out far outliers, or `None` when every value fits.

    Values fit between Tukey's "far out" fences, the quartiles ∓ 3
    interquartile ranges (±4.7σ for normal data; the 0.5–99.5 percentile
    range when the quartiles coincide). A side whose values beyond its fence would lengthen the
    axis by over a quarter stops at the fence (plus 5 % padding).

    Args:
        values: float array `(n,)`.

    Returns:
        `(low, high)` or `None` (let matplotlib scale the axis to all values).
    """
    q1, q3 = np.percentile(values, (25, 75))
    spread = q3 - q1
    if spread <= 0:
        low_q, high_q = np.percentile(values, ROBUST_PERCENTILES)
        q1, q3, spread = low_q, high_q, (high_q - low_q) / (2 * _FENCE)
    if spread <= 0:
        return None
    low_fence, high_fence = q1 - _FENCE * spread, q3 + _FENCE * spread
    full_low, full_high = values.min(), values.max()
    low, high = max(full_low, low_fence), min(full_high, high_fence)
    # a side stops at its fence only when that saves a quarter of the view
    low = low if low - full_low > _WORTH_IT * (high - low) else full_low
    high = high if full_high - high > _WORTH_IT * (high - low) else full_high
    if (low, high) == (full_low, full_high):
        return None
    pad = _PAD * (high - low)
    return float(low - pad), float(high + pad)


def _clip_to_view(coords: np.ndarray, limits) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates with points outside the limits moved onto the border, and
    the mask of those points."""
    coords = coords.copy()
    outside = np.zeros(len(coords), dtype=bool)
    for axis, axis_limits in enumerate(limits):
        if axis_limits is None:
            continue
        low, high = axis_limits
        inset = 0.01 * (high - low)
        outside |= (coords[:, axis] < low) | (coords[:, axis] > high)
        coords[:, axis] = np.clip(coords[:, axis], low + inset, high - inset)
    return coords, outside


def plot_latent_pca(
    model,
    x,
    labels=None,
    save_path: figures.PathLike | None = "latent_pca.png",
    label_name: str = "label",
    categorical: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Figure:
    """Scatter of the latent means projected on their first two principal axes.

    With a 1-D latent the single coordinate is plotted against the example
    index instead (nothing to project). Far outliers do not squeeze the plot:
    see `robust_limits`.

    Args:
        model: a `BetaVAE`.
        x: examples `(N, *model.feature_shape)`, N >= 1 (arrays or tensors).
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
    x = check_examples(model, x, "x")
    if labels is not None:
        labels = as_numpy(labels)
        if labels.ndim != 1 or len(labels) != len(x):
            raise ValueError(
                f"labels has shape {labels.shape} but x has {len(x)} examples; pass one "
                "label per example, shape (n,)."
            )
    z = encode_means(model, x, batch_size).astype(np.float64)

    if z.shape[1] == 1:
        coords = np.stack([np.arange(len(z)), z[:, 0]], axis=1).astype(np.float64)
        title = "Latent means (1-D latent)"
        xlabel, ylabel = "example index", "z0 (mean)"
    else:
        centred = z - z.mean(axis=0)
        if len(z) >= 2 and np.any(centred.var(axis=0) > 0):
            from sklearn.decomposition import PCA

            pca = PCA(n_components=2).fit(z)
            coords = pca.transform(z)
            ratios = pca.explained_variance_ratio_
        else:  # one example or identical codes: no direction to project on
            coords, ratios = np.zeros((len(z), 2)), np.zeros(2)
        title = f"PCA of the {z.shape[1]}-D latent means"
        xlabel = f"PC1 ({100 * ratios[0]:.1f}% of variance)"
        ylabel = f"PC2 ({100 * ratios[1]:.1f}% of variance)"

    limits = [None if z.shape[1] == 1 and axis == 0 else robust_limits(coords[:, axis])
              for axis in (0, 1)]
    shown, outside = _clip_to_view(coords, limits)
    if outside.any():
        count = int(outside.sum())
        xlabel += (f"\n{count} of {len(coords)} points {'lies' if count == 1 else 'lie'} beyond "
                   f"the axes, drawn as × on the border")

    figure = figures.make_figure(6.5, 5.0, title=title)
    axes = figure.add_subplot()
    axes.set(xlabel=xlabel, ylabel=ylabel)

    def scatter(chosen, **style):
        """Draws the chosen points: dots inside the view, × on its border."""
        inside_style = {k: (v[chosen & ~outside] if k == "c" else v) for k, v in style.items()}
        points = axes.scatter(shown[chosen & ~outside, 0], shown[chosen & ~outside, 1],
                              s=12, alpha=0.8, **inside_style)
        if (chosen & outside).any():
            outside_style = {k: (v[chosen & outside] if k == "c" else v)
                             for k, v in style.items() if k != "label"}
            axes.scatter(shown[chosen & outside, 0], shown[chosen & outside, 1], s=40,
                         marker="x", linewidths=1.5, **outside_style)
        return points

    everything = np.ones(len(coords), dtype=bool)
    if labels is None:
        scatter(everything, color="C0")
    elif categorical if categorical is not None else _is_categorical(labels):
        classes = np.unique(labels)
        palette = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, value in enumerate(classes):
            scatter(labels == value, color=palette(i % palette.N), label=str(value))
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
        low, high = np.nanmin(values), np.nanmax(values)
        points = scatter(everything, c=values, cmap="viridis", vmin=low, vmax=high)
        figure.colorbar(points, ax=axes, label=label_name)
    for axis_limits, set_limits in zip(limits, (axes.set_xlim, axes.set_ylim)):
        if axis_limits is not None:
            set_limits(*axis_limits)
    figures.save_figure(figure, save_path)
    return figure


__all__ = ["plot_latent_pca", "robust_limits"]
