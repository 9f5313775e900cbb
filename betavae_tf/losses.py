"""The loss math of the β-VAE, in one place.

Every function returns *per-example* values of shape `(batch,)` (or
`(batch, latent_dim)` for the per-dimension KL); the model averages them over
the batch. Reconstruction terms are negative log-likelihoods summed over every
feature / pixel of an example.

A reconstruction likelihood is chosen by name (see `LIKELIHOODS`); each knows
its negative log-likelihood and how to turn the decoder's raw output into the
mean reconstruction shown to users.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


def _sum_over_features(values):
    """Sums a `(batch, ...)` tensor over every axis but the first."""
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def kl_divergence_per_dimension(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) for each latent dimension.

    Args:
        z_mean: float tensor of shape `(batch, latent_dim)`.
        z_log_var: float tensor of shape `(batch, latent_dim)`, log σ².

    Returns:
        Float tensor of shape `(batch, latent_dim)`:
        `-0.5 * (1 + log σ² − μ² − σ²)`.
    """
    return -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


def kl_divergence(z_mean, z_log_var):
    """KL divergence to the standard-normal prior, summed over the latent.

    `-0.5 * Σ_j (1 + log σ_j² − μ_j² − σ_j²)`, the seed document's formula.

    Args:
        z_mean: float tensor of shape `(batch, latent_dim)`.
        z_log_var: float tensor of shape `(batch, latent_dim)`.

    Returns:
        Float tensor of shape `(batch,)`.
    """
    return ops.sum(kl_divergence_per_dimension(z_mean, z_log_var), axis=-1)


def sum_squared_error(x, x_decoded):
    """Per-example sum of squared errors (Gaussian likelihood, fixed variance).

    Args:
        x: float tensor of shape `(batch, ...)`, the data.
        x_decoded: float tensor of the same shape, the reconstruction.

    Returns:
        Float tensor of shape `(batch,)`.
    """
    return _sum_over_features(ops.square(x - x_decoded))


def bernoulli_negative_log_likelihood(x, logits):
    """Per-example binary cross-entropy computed from logits, stably.

    Uses `max(l, 0) − l·x + log(1 + exp(−|l|))`, which is finite for any finite
    logit (no `log(sigmoid(l))` underflow).

    Args:
        x: float tensor of shape `(batch, ...)` with values in [0, 1].
        logits: float tensor of the same shape, the decoder's raw output.

    Returns:
        Float tensor of shape `(batch,)`.
    """
    per_feature = (
        ops.maximum(logits, 0.0)
        - logits * x
        + ops.log1p(ops.exp(-ops.abs(logits)))
    )
    return _sum_over_features(per_feature)


def gaussian_negative_log_likelihood(x, mean, log_variance):
    """Per-example Gaussian negative log-likelihood with a given log-variance.

    `0.5 * Σ ((x − μ)² / σ² + log σ² + log 2π)`, summed over every feature.

    Args:
        x: float tensor of shape `(batch, ...)`, the data.
        mean: float tensor of the same shape, μ (the decoder's output).
        log_variance: log σ², a float tensor that broadcasts against `x`:
            one value per feature (shape `x.shape[1:]`, as `BetaVAE` learns
            it), per example and feature, or a scalar.

    Returns:
        Float tensor of shape `(batch,)`.
    """
    per_feature = 0.5 * (
        ops.square(x - mean) * ops.exp(-log_variance) + log_variance + LOG_2PI
    )
    return _sum_over_features(per_feature)


def _identity(decoded):
    return decoded


class Likelihood(NamedTuple):
    """A reconstruction likelihood p(x | z) that the decoder parameterises.

    Attributes:
        name: the registry key.
        negative_log_likelihood: `f(x, decoder_output) -> (batch,)`, or
            `f(x, decoder_output, log_variance) -> (batch,)` when
            `learns_log_variance`.
        mean: `f(decoder_output) -> reconstruction`, what `decode` returns.
        learns_log_variance: whether the model owns a trainable per-feature
            log-variance (initialised to 0) that it passes as the third
            argument of `negative_log_likelihood`. Defaults to `False`.
    """

    name: str
    negative_log_likelihood: Callable
    mean: Callable
    learns_log_variance: bool = False


LIKELIHOODS: dict[str, Likelihood] = {
    "mse": Likelihood("mse", sum_squared_error, _identity),
    "bernoulli": Likelihood(
        "bernoulli", bernoulli_negative_log_likelihood, ops.sigmoid
    ),
    "gaussian": Likelihood(
        "gaussian",
        gaussian_negative_log_likelihood,
        _identity,
        learns_log_variance=True,
    ),
}


def get_likelihood(name: str) -> Likelihood:
    """Returns the registered likelihood called `name`.

    Raises:
        ValueError: if `name` is not registered; the message lists the names.
    """
    try:
        return LIKELIHOODS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}."
        ) from None
