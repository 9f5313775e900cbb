"""Evaluating a trained β-VAE: every metric at once, a one-page report, and
`MetricsLogger`, which logs them during training."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import keras
import numpy as np

from betavae_tf import metrics
from betavae_tf.metrics.scores import SCORES, flat_scores
from betavae_tf.plots.report import plot_evaluation_report  # its old home
from betavae_tf.validation import check_float, check_int

__all__ = [
    "DISENTANGLEMENT_METRICS", "MetricsLogger", "SCORES", "evaluate_disentanglement",
    "flat_scores", "plot_evaluation_report", "scaled_hyper_parameters",
]

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
    feature_shape = tuple(getattr(model, "feature_shape", ()))
    if feature_shape and tuple(dataset.observation_shape) != feature_shape:
        if int(np.prod(dataset.observation_shape)) != int(np.prod(feature_shape)):
            raise ValueError(
                f"The model takes examples of shape {feature_shape} but the dataset's are "
                f"{tuple(dataset.observation_shape)}; evaluate it on the data it was trained on."
            )
        encode = representation  # a dense model of flattened images

        def representation(x):
            return encode(np.reshape(x, (len(x), *feature_shape)))

    return {
        name: DISENTANGLEMENT_METRICS[name](
            representation, dataset, np.random.RandomState(random_state),
            **scaled_hyper_parameters(DISENTANGLEMENT_METRICS[name], scale),
        )
        for name in metric_names
    }


class MetricsLogger(keras.callbacks.Callback):
    """Logs KL per latent dimension and disentanglement metrics every N epochs.

    At the end of every `every_n_epochs`-th epoch it adds `kl_dim_<j>` (mean
    KL of latent j over `x`, nats) and, when a ground-truth `dataset` is
    given, one number per chosen metric (`mig`, `beta_vae_score`,
    `factor_vae_score`, `dci_disentanglement`, `dci_completeness`,
    `dci_informativeness`, `sap`) to the logs, so they land in the History.
    Other epochs log NaN under the same keys, which keeps History's lists
    aligned with the epochs.

    Args:
        x: examples `(n, *feature_shape)` for the KL per dimension.
        dataset: optional `betavae_tf.datasets.GroundTruthData`.
        metrics: metric names (see `betavae_tf.evaluation.DISENTANGLEMENT_METRICS`).
            Defaults to `("mig",)`.
        every_n_epochs: period in epochs. Defaults to 5.
        scale: fraction of the metrics' default point counts. Defaults to 0.1.
        random_state: seed of the metrics. Defaults to 0.
    """

    def __init__(self, x, dataset=None, metrics=("mig",), every_n_epochs: int = 5,
                 scale: float = 0.1, random_state: int = 0):
        super().__init__()
        self.x = x
        self.dataset = dataset
        self.metrics = tuple(metrics) if dataset is not None else ()
        unknown = sorted(set(self.metrics) - set(DISENTANGLEMENT_METRICS))
        if unknown:
            raise ValueError(
                f"Unknown metric(s) {unknown}; choose from {sorted(DISENTANGLEMENT_METRICS)}."
            )
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs)
        self.scale = check_float("scale", scale, exclusive_minimum=True)
        self.random_state = random_state
        self.score_names = [log for metric, _, log, _ in SCORES if metric in self.metrics]

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        due = (epoch + 1) % self.every_n_epochs == 0
        kl = metrics.kl_per_dimension(self.model, self.x) if due else [math.nan] * self.model.encoding_dim
        logs.update({f"kl_dim_{j}": float(value) for j, value in enumerate(kl)})
        scores = dict.fromkeys(self.score_names, math.nan)
        if due and self.metrics:
            scores.update(flat_scores(evaluate_disentanglement(
                self.model, self.dataset, self.random_state, self.metrics, self.scale)))
        logs.update(scores)
