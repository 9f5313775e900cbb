"""Figures of a β-VAE's training, written to files; nothing here blocks.

Figures are built with `matplotlib.figure.Figure` directly rather than
`pyplot`, so no GUI backend is touched and no global figure is left open;
Jupyter still displays a returned figure.
"""

from __future__ import annotations

import os
from typing import Mapping

import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def figure_to_rgba(figure: Figure) -> np.ndarray:
    """Renders a figure to an RGBA array `(height, width, 4)` of uint8."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


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


def plot_vae_history(history, save_path: str | os.PathLike | None = "vae_loss_plot.png") -> Figure:
    """Plots the losses of a β-VAE training run.

    Left panel: total loss, train and validation (and β on a second axis when
    it changed during training). Right panel: reconstruction and KL losses,
    train and validation.

    Args:
        history: the `keras.callbacks.History` from `fit`/`train_vae`, or its
            `.history` dict.
        save_path: PNG file to write, or `None` to only return the figure.
            Defaults to `"vae_loss_plot.png"`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    logs = _history_dict(history)
    epochs = range(1, len(logs["loss"]) + 1)
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    total_axes, terms_axes = figure.subplots(1, 2)

    for key, label, style in (("loss", "train", "-"), ("val_loss", "validation", "--")):
        if logs.get(key):
            total_axes.plot(epochs, logs[key], style, color="C0", label=label)
    total_axes.set(title="Total loss (reconstruction + β·KL)", xlabel="epoch", ylabel="loss")
    handles = total_axes.get_legend_handles_labels()[0]
    betas = logs.get("beta") or []
    if len(set(betas)) > 1:
        beta_axes = total_axes.twinx()
        handles += beta_axes.plot(epochs, betas, ":", color="C3", label="β")
        beta_axes.set_ylabel("β", color="C3")
    total_axes.legend(handles=handles, loc="upper right")

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
    if terms_axes.get_lines():
        terms_axes.legend(loc="upper right")
    for axes in (total_axes, terms_axes):
        if all(v > 0 for line in axes.get_lines() for v in line.get_ydata()):
            axes.set_yscale("log")  # early epochs are often orders of magnitude higher

    if save_path is not None:
        save_path = os.fspath(save_path)
        folder = os.path.dirname(os.path.abspath(save_path))
        os.makedirs(folder, exist_ok=True)
        figure.savefig(save_path, dpi=100)
    return figure
