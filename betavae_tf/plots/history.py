"""The loss curves of a β-VAE training run."""

from __future__ import annotations

from collections.abc import Mapping

import keras
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from betavae_tf.plots import figures


def _history_dict(history) -> dict:
    if isinstance(history, keras.callbacks.History):
        history = history.history
    if not isinstance(history, Mapping):
        raise ValueError(
            "history must be a keras History or a dict of lists; got "
            f"{type(history).__name__}."
        )
    if not history.get("loss"):
        raise ValueError(
            "history has no 'loss' values; pass the History returned by fit/train_vae."
        )
    return dict(history)


def plot_vae_history(
    history, save_path: figures.PathLike | None = "vae_loss_plot.png"
) -> Figure:
    """Plots the losses of a β-VAE training run.

    Left panel: total loss, train and validation (and β on a second axis when
    it changed during training). Right panel: reconstruction and KL losses,
    train and validation. Legends sit under the panels, never over a curve;
    a panel whose values are all positive has a log scale.

    Args:
        history: the `keras.callbacks.History` from `fit`/`train_vae`, or its
            `.history` dict of per-epoch lists (`loss`, `val_loss`,
            `reconstruction_loss`, `kl_loss`, their `val_` twins, `beta`).
        save_path: PNG file to write, or `None` to only return the figure.
            Defaults to `"vae_loss_plot.png"`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    logs = _history_dict(history)
    epochs = range(1, len(logs["loss"]) + 1)
    figure = figures.make_figure(12, 5.0)
    total_axes, terms_axes = figure.subplots(1, 2)

    for key, label, style in (("loss", "train", "-"), ("val_loss", "validation", "--")):
        if logs.get(key):
            total_axes.plot(epochs, logs[key], style, color="C0", label=label)
    total_axes.set(title="Total loss (reconstruction + β·KL)", xlabel="epoch", ylabel="loss")
    handles = total_axes.get_legend_handles_labels()[0]
    betas = logs.get("beta") or []
    if len(set(betas)) > 1:
        beta_axes = total_axes.twinx()
        handles += beta_axes.plot(epochs, betas, ":", color="C3", label="β (right axis)")
        beta_axes.set_ylabel("β", color="C3")
    figures.legend_below(total_axes, handles)

    for key, label, color in (
        ("reconstruction_loss", "reconstruction", "C1"),
        ("kl_loss", "KL", "C2"),
    ):
        for prefix, suffix, style in (("", "train", "-"), ("val_", "validation", "--")):
            if logs.get(prefix + key):
                terms_axes.plot(
                    epochs, logs[prefix + key], style, color=color, label=f"{label} ({suffix})"
                )
    terms_axes.set(title="Loss terms", xlabel="epoch", ylabel="per-example value")
    figures.legend_below(terms_axes)
    for axes in (total_axes, terms_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if all(v > 0 for line in axes.get_lines() for v in line.get_ydata()):
            axes.set_yscale("log")  # early epochs are often orders of magnitude higher
            # plain numbers (200, not 2 × 10²), minor ones only on short axes
            axes.yaxis.set_major_formatter(LogFormatter())
            axes.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(1, 0.4)))
    figures.save_figure(figure, save_path)
    return figure


__all__ = ["plot_vae_history"]
