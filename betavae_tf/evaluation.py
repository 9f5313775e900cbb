"""Evaluating a trained β-VAE: every metric at once, and a one-page report."""

from __future__ import annotations

import inspect
from typing import Sequence

import numpy as np

from betavae_tf import metrics
from betavae_tf.plots.report import plot_evaluation_report  # noqa: F401  (its old home)
from betavae_tf.validation import check_float

DISENTANGLEMENT_METRICS = {
    "mig": metrics.mig,
    "beta_vae_score": metrics.beta_vae_score,
    "factor_vae_score": metrics.factor_vae_score,
    "dci": metrics.dci,
    "sap": metrics.sap,
}
# Hyper-parameters that count points; `scale` multiplies them.
_POINT_COUNTS = ("num_train", "num_eval", "num_test", "num_variance_estimate")


def scaled_hyper_parameters(metric, scale: float) -> dict:
    """The metric's point counts (`num_train`, ...) times `scale`, at least 10."""
    defaults = inspect.signature(metric).parameters
    return {
        name: max(10, int(round(defaults[name].default * scale)))
        for name in _POINT_COUNTS
        if name in defaults
    }


def evaluate_disentanglement(
    model,
    dataset,
    random_state: int = 0,
    metric_names: Sequence[str] = tuple(DISENTANGLEMENT_METRICS),
    scale: float = 1.0,
    batch_size: int = 256,
) -> dict:
    """Runs the chosen disentanglement metrics on the model's mean representation.

    Args:
        model: a `BetaVAE` whose inputs are the dataset's observations.
        dataset: a `betavae_tf.datasets.GroundTruthData`, e.g. `DSprites()`.
        random_state: seed; each metric gets its own `RandomState(seed)`, so
            results do not depend on which other metrics run.
        metric_names: any of `DISENTANGLEMENT_METRICS`. Defaults to all.
        scale: multiplies every metric's point counts (1.0 = the
            disentanglement_lib defaults; 0.1 is ten times faster and noisier).
        batch_size: examples per encoder call.

    Returns:
        `{metric name: the metric's dict}`.
    """
    scale = check_float("scale", scale, exclusive_minimum=True)
    unknown = sorted(set(metric_names) - set(DISENTANGLEMENT_METRICS))
    if unknown:
        raise ValueError(
            f"Unknown metric(s) {unknown}; choose from {sorted(DISENTANGLEMENT_METRICS)}."
        )
    representation = metrics.mean_representation(model, batch_size)
    return {
        name: DISENTANGLEMENT_METRICS[name](
            representation, dataset, np.random.RandomState(random_state),
            **scaled_hyper_parameters(DISENTANGLEMENT_METRICS[name], scale),
        )
        for name in metric_names
    }


# (metric, key in its dict, log name, label) of the one number per score.
SCORES = (
    ("mig", "discrete_mig", "mig", "MIG"),
    ("beta_vae_score", "eval_accuracy", "beta_vae_score", "β-VAE score"),
    ("factor_vae_score", "eval_accuracy", "factor_vae_score", "FactorVAE score"),
    ("dci", "disentanglement", "dci_disentanglement", "DCI disentanglement"),
    ("dci", "completeness", "dci_completeness", "DCI completeness"),
    ("dci", "informativeness_test", "dci_informativeness", "DCI informativeness"),
    ("sap", "sap_score", "sap", "SAP"),
)


def flat_scores(results: dict, labels: bool = False) -> dict:
    """One number per score (MIG, eval accuracies, D/C/I, SAP) from
    `evaluate_disentanglement`'s output, keyed by log name (`"mig"`,
    `"dci_disentanglement"`, ...) or, with `labels=True`, by a display label."""
    return {
        (label if labels else log_name): float(results[metric][key])
        for metric, key, log_name, label in SCORES
        if metric in results
    }
