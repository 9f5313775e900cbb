"""The pictures of a study: metrics per setting, their rank correlations,
reconstruction against MIG, and the traversals of the model UDR picks."""

from __future__ import annotations

import math
import os
import textwrap

import numpy as np

from betavae_tf.plots import figures

FIGURES = {
    "metrics": "metrics_by_setting.png",
    "correlations": "metric_correlations.png",
    "reconstruction": "reconstruction_vs_mig.png",
    "traversals": "best_model_traversals.png",
}
METRIC_KEYS = ("mig", "sap", "dci_disentanglement", "beta_vae_score", "factor_vae_score",
               "udr_spearman", "udr_lasso")


def _settings(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["setting"] for r in records))


def metrics_by_setting(records: list[dict], labels: list[str], save_path: str):
    """One panel per metric, the settings down the side: a dot per run and a
    violin per setting with ≥ 3 seeds (as in Locatello et al., 2019)."""
    finished = [r for r in records if r["status"] == "finished"]
    settings = _settings(finished)
    names = [textwrap.fill(setting, 26) for setting in settings]
    lines = sum(name.count("\n") + 1 for name in names)
    label_width = 0.075 * max(len(line) for name in names for line in name.split("\n"))
    figure = figures.make_figure(label_width + 2.0 * len(METRIC_KEYS), 1.3 + 0.26 * lines
                                 + 0.25 * len(settings), "Metrics per setting (one dot per seed)")
    panels = figure.subplots(1, len(METRIC_KEYS), sharey=True)
    for axes, key, label in zip(panels, METRIC_KEYS, labels):
        for position, setting in enumerate(settings):
            values = np.array([r.get(key, math.nan) for r in finished if r["setting"] == setting], float)
            values = values[np.isfinite(values)]
            if len(values) >= 3 and np.ptp(values) > 0:
                parts = axes.violinplot(values, [position], widths=0.7, showextrema=False, vert=False)
                for body in parts["bodies"]:
                    body.set_alpha(0.3)
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(len(values))
            axes.plot(values, position + jitter, "o", color=f"C{position % 10}", markersize=4)
        axes.set_title(label, fontsize=9)
        axes.tick_params(labelsize=8)
        axes.grid(axis="x", alpha=0.3)
        axes.margins(x=0.15)
    panels[0].set_yticks(range(len(settings)), names, fontsize=8)
    panels[0].set_ylim(len(settings) - 0.5, -0.5)  # the first setting on top
    figures.save_figure(figure, save_path)
    return figure


def correlation_heatmap(correlations: np.ndarray, labels: list[str], save_path: str):
    """The rank correlations between the metrics, each cell annotated."""
    size = 1.0 + 0.75 * len(labels)
    figure = figures.make_figure(size + 1.5, size, "Spearman rank correlation between the metrics")
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(np.nan_to_num(correlations, nan=0.0), vmin=-1, vmax=1, cmap="RdBu_r")
    for i in range(len(labels)):
        for j in range(len(labels)):
            value = correlations[i, j]
            text = "–" if not np.isfinite(value) else f"{value:.2f}"
            axes.text(j, i, text, ha="center", va="center", fontsize=8,
                      color="white" if np.isfinite(value) and abs(value) > 0.6 else "black")
    axes.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    figure.colorbar(image, ax=axes, shrink=0.8, label="ρ (– : too few runs)")
    figures.save_figure(figure, save_path)
    return figure


def reconstruction_vs_mig(records: list[dict], save_path: str):
    """Reconstruction (nats, lower is better) against MIG, a colour per setting."""
    finished = [r for r in records if r["status"] == "finished"]
    figure = figures.make_figure(7.5, 5.5, "Reconstruction against disentanglement (MIG)")
    axes = figure.add_subplot(1, 1, 1)
    for index, setting in enumerate(_settings(finished)):
        group = [r for r in finished if r["setting"] == setting]
        axes.plot([r.get("mig", math.nan) for r in group], [r["reconstruction"] for r in group], "o",
                  color=f"C{index % 10}", label=setting)
    axes.set(xlabel="MIG (higher: more disentangled)", ylabel="reconstruction loss (nats per example)")
    axes.grid(alpha=0.3)
    figures.legend_below(axes, ncols=2, fontsize=8)
    figures.save_figure(figure, save_path)
    return figure


def best_traversals(output_dir: str, records: list[dict], save_path: str, dataset_name: str):
    """Traversals of the finished run UDR ranks first (MIG if no UDR); `None` if none."""
    from betavae_tf.datasets.sources import ground_truth_dataset
    from betavae_tf.plots.display import DisplayOptions
    from betavae_tf.plots.traversals import traversal_grid
    from betavae_tf.saving import load_vae

    finished = [r for r in records if r["status"] == "finished"]
    if not finished:
        return None
    key = "udr_spearman" if any(np.isfinite(r.get("udr_spearman", math.nan)) for r in finished) else "mig"
    best = max(finished, key=lambda r: r.get(key) if np.isfinite(r.get(key, math.nan)) else -math.inf)
    model = load_vae(os.path.join(output_dir, "runs", best["name"], best["model"]), compile=False)
    dataset = ground_truth_dataset(dataset_name)
    _, x = dataset.sample(64, np.random.RandomState(0))
    if len(model.feature_shape) == 1 and x.ndim > 2:
        x = x.reshape(len(x), -1)
    display = {}
    if len(model.feature_shape) == 1 and len(dataset.observation_shape) == 3:
        display["image_shape"] = tuple(dataset.observation_shape)
    if len(model.feature_shape) == 1 and len(dataset.observation_shape) == 1:
        return None  # vectors: nothing to look at
    ranked_by = "UDR" if key == "udr_spearman" else "MIG (no UDR: fewer than two seeds)"
    title = (f"{best['setting']}, seed {best['seed']}: ranked first by {ranked_by} "
             f"({key} {best.get(key, math.nan):.3f}, MIG {best.get('mig', math.nan):.3f})")
    options = DisplayOptions.from_keywords("best_traversals", display)
    grid = traversal_grid(model, x, options=options, title=title).grid
    figure = figures.make_figure(grid.width, grid.height, constrained=False)
    grid.draw(figure)
    figures.save_figure(figure, save_path)
    return figure


def draw_all(output_dir: str, records: list[dict], correlations: np.ndarray, labels: list[str],
             dataset_name: str) -> dict:
    """Draws every figure into `output_dir`; returns `{name: path}` of those drawn."""
    paths = {name: os.path.join(output_dir, file) for name, file in FIGURES.items()}
    drawn = {}
    if any(r["status"] == "finished" for r in records):
        metrics_by_setting(records, labels, paths["metrics"])
        correlation_heatmap(correlations, labels, paths["correlations"])
        reconstruction_vs_mig(records, paths["reconstruction"])
        drawn.update({k: paths[k] for k in ("metrics", "correlations", "reconstruction")})
        if best_traversals(output_dir, records, paths["traversals"], dataset_name) is not None:
            drawn["traversals"] = paths["traversals"]
    return drawn
