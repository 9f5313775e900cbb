"""Posterior-collapse diagnostics: KL per latent and active units.

Unlike the disentanglement metrics, these need no ground-truth factors but do
need the posterior variances, so they take a model (`encode(x) ->
(z_mean, z_log_var)`, e.g. a `BetaVAE`) and data `x` instead of a
representation function and a dataset.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from betavae_tf.losses import kl_divergence_per_dimension
from betavae_tf.metrics import utils
from betavae_tf.validation import check_float, check_int, validate_features


class PosteriorCollapseWarning(UserWarning):
    """The encoder's posterior carries (almost) no information about `x`."""


def _encode(model, x, batch_size, min_examples=1):
    if not callable(getattr(model, "encode", None)):
        raise ValueError(
            "model must be a BetaVAE (anything with encode(x) -> (z_mean, z_log_var)). "
            f"Received: {type(model).__name__}"
        )
    batch_size = check_int("batch_size", batch_size)
    feature_shape = getattr(model, "feature_shape", None)
    x = validate_features(x, name="x", feature_shape=feature_shape, min_examples=min_examples)
    return utils.encode_in_batches(model, x, batch_size)


def kl_per_dimension(model, x, batch_size: int = 256) -> np.ndarray:
    """Mean over `x` of each latent's KL(q(z_d|x) || N(0, 1)), in nats.

    `KL_d = mean_x −½ (1 + log σ²_d(x) − μ_d(x)² − σ²_d(x))`
    (`betavae_tf.losses.kl_divergence_per_dimension`). Their sum is the
    model's KL term; a latent near 0 is collapsed to the prior.

    Args:
        model: a `BetaVAE`.
        x: float array `[n, *feature_shape]`, n >= 1.
        batch_size: examples per encoder call. Defaults to 256.

    Returns:
        float64 array `[num_latents]`.

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014
    (closed-form Gaussian KL).
    """
    z_mean, z_log_var = _encode(model, x, batch_size)
    kl = keras.ops.convert_to_numpy(kl_divergence_per_dimension(z_mean, z_log_var))
    return np.asarray(kl, dtype=np.float64).mean(axis=0)


def active_units(model, x, threshold: float = 0.01, batch_size: int = 256) -> dict:
    """Latents whose posterior mean varies with the input.

    Unit `u` is active if `A_u = Var_x(E_q(z|x)[z_u]) > threshold`, the
    variance over `x` (population variance, `ddof=0`) of `z_mean[:, u]`.

    Args:
        model: a `BetaVAE`.
        x: float array `[n, *feature_shape]`, n >= 2.
        threshold: activity threshold. Defaults to 0.01 (Burda et al.).
        batch_size: examples per encoder call. Defaults to 256.

    Returns:
        `{"num_active_units": int, "active_mask": [bool] * num_latents,
        "variances": [float] * num_latents, "threshold": float}`.

    Reference: Burda, Grosse and Salakhutdinov, "Importance Weighted
    Autoencoders", ICLR 2016, section 5.2.
    """
    threshold = check_float("threshold", threshold)
    z_mean, _ = _encode(model, x, batch_size, min_examples=2)
    return _active_units_report(z_mean, threshold)


def _active_units_report(z_mean: np.ndarray, threshold: float) -> dict:
    variances = np.var(z_mean.astype(np.float64), axis=0)
    mask = variances > threshold
    return {
        "num_active_units": int(mask.sum()),
        "active_mask": [bool(m) for m in mask],
        "variances": [float(v) for v in variances],
        "threshold": float(threshold),
    }


def posterior_collapse_warning(
    model,
    x,
    threshold: float = 0.01,
    min_active_units: int = 1,
    min_total_kl: float = 0.1,
    batch_size: int = 256,
) -> dict:
    """Checks a model for posterior collapse and warns if it has collapsed.

    Rule: the model has collapsed when fewer than `min_active_units` latents
    are active (`active_units` with `threshold`) or when the total mean KL
    `Σ_d kl_per_dimension(model, x)[d]` is below `min_total_kl` nats. Either
    way the encoder's posterior barely depends on `x`, so the decoder ignores
    `z`. Then a `PosteriorCollapseWarning` names the numbers; the report is
    returned in both cases.

    Args:
        model: a `BetaVAE`.
        x: float array `[n, *feature_shape]`, n >= 2.
        threshold: activity threshold of `active_units`. Defaults to 0.01.
        min_active_units: fewest active latents of a healthy model. Defaults to 1.
        min_total_kl: smallest total KL (nats) of a healthy model. Defaults to 0.1.
        batch_size: examples per encoder call. Defaults to 256.

    Returns:
        `{"collapsed": bool, "total_kl": float, "kl_per_dimension": [float] *
        num_latents, "num_active_units": int, "active_mask": [bool] *
        num_latents, "variances": [float] * num_latents, "threshold": float}`.

    Reference: Burda et al., 2016 (active units); Bowman et al., "Generating
    Sentences from a Continuous Space", CoNLL 2016 (KL collapse).
    """
    threshold = check_float("threshold", threshold)
    min_active_units = check_int("min_active_units", min_active_units, minimum=0)
    min_total_kl = check_float("min_total_kl", min_total_kl)
    z_mean, z_log_var = _encode(model, x, batch_size, min_examples=2)
    kl = np.asarray(
        keras.ops.convert_to_numpy(kl_divergence_per_dimension(z_mean, z_log_var)),
        dtype=np.float64,
    ).mean(axis=0)
    report = {"collapsed": False, "total_kl": float(kl.sum()),
              "kl_per_dimension": [float(v) for v in kl]}
    report.update(_active_units_report(z_mean, threshold))
    reasons = []
    if report["num_active_units"] < min_active_units:
        reasons.append(
            f"{report['num_active_units']} of {len(kl)} latents active (need "
            f">= {min_active_units}; variance of z_mean over x > {threshold})"
        )
    if report["total_kl"] < min_total_kl:
        reasons.append(f"total KL {report['total_kl']:.4g} nats < {min_total_kl}")
    if reasons:
        report["collapsed"] = True
        warnings.warn(
            "Posterior collapse: " + "; ".join(reasons) + ". The decoder ignores z; "
            "lower beta, anneal it (KLAnnealing) or train longer.",
            PosteriorCollapseWarning,
            stacklevel=2,
        )
    return report
