"""Importance-weighted estimates of the marginal log-likelihood log p(x).

The estimate of Burda et al. (2016) ("Importance Weighted Autoencoders"):
with `z_k ~ q(z | x)`, `k = 1..K`,

    log p(x) ≈ logsumexp_k [log p(x | z_k) + log p(z_k) − log q(z_k | x)] − log K.

It is a lower bound in expectation that tightens as K grows (K = 1 is the
ELBO, i.e. minus the β = 1 loss) and converges to log p(x).

The likelihood is the model's own (`BetaVAE.negative_log_likelihood`), made a
proper density so that estimates are in nats and comparable between models:

* `"bernoulli"` and `"gaussian"` are already normalised.
* `"mse"` trains on the sum of squared errors `Σ (x − x̂)²`, which is exactly
  the negative log-likelihood of a Gaussian with variance ½ (not 1) up to
  the constant `½ · D · log π` (`D` = features per example):
  `−log N(x | x̂, ½ I) = Σ (x − x̂)² + ½ · D · log π`. The estimate uses that
  Gaussian, i.e. it subtracts `½ · D · log π` from minus the loss's
  reconstruction term. (A unit-variance Gaussian would halve the squared
  errors, which is a different model from the one trained.)
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from betavae_tf.losses import gaussian_log_density
from betavae_tf.validation import check_int, validate_features


def log_likelihood_constant(model) -> float:
    """What `log_likelihood` adds to `−model.negative_log_likelihood` to make
    it a normalised log-density: `−½ · D · log π` for `"mse"`, 0 otherwise."""
    if model.likelihood.name == "mse":
        return -0.5 * float(np.prod(model.feature_shape)) * math.log(math.pi)
    return 0.0


def _log_weights(model, x, z_mean, z_log_var, num_samples: int, generator):
    """`(num_samples, batch)` log importance weights of `x`'s examples."""
    batch, latent = z_mean.shape
    eps = keras.random.normal((num_samples, batch, latent), seed=generator)
    z = z_mean[None] + ops.exp(0.5 * z_log_var)[None] * eps
    flat_z = ops.reshape(z, (num_samples * batch, latent))
    decoded = model.decoder(flat_z, training=False)
    # Row s * batch + i of `decoded` is sample s of example i.
    repeated_x = ops.tile(x, (num_samples,) + (1,) * (len(x.shape) - 1))
    log_p_x_given_z = -ops.reshape(
        model.negative_log_likelihood(repeated_x, decoded), (num_samples, batch)
    )
    log_p_z = ops.sum(gaussian_log_density(z, 0.0, 0.0), axis=-1)
    log_q_z = ops.sum(gaussian_log_density(z, z_mean[None], z_log_var[None]), axis=-1)
    return ops.convert_to_numpy(log_p_x_given_z + log_p_z - log_q_z).astype(np.float64)


def _logsumexp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    peak = np.max(values, axis=axis)
    safe = np.where(np.isfinite(peak), peak, 0.0)
    return safe + np.log(np.sum(np.exp(values - np.expand_dims(safe, axis)), axis=axis))


def log_likelihood(
    model,
    x,
    num_samples: int = 1000,
    batch_size: int = 4096,
    seed: int | None = None,
) -> np.ndarray:
    """Importance-weighted estimate of log p(x) per example, in nats.

    Encodes and decodes in inference mode (no dropout; BatchNorm uses its
    moving statistics).

    Memory stays bounded by `batch_size`, the most decoder evaluations done
    at once: with `num_samples <= batch_size`, `batch_size // num_samples`
    examples are processed together with all their samples; otherwise one
    example at a time, its samples in chunks of `batch_size`, their
    log-sum-exp accumulated in float64 across chunks. The result does not
    depend on `batch_size` except through which noise each chunk draws.

    Args:
        model: a `BetaVAE`.
        x: array of shape `(n, *model.feature_shape)`.
        num_samples: K, importance samples per example, >= 1. Defaults to
            1000. K = 1 gives a one-sample ELBO.
        batch_size: the most `(example, sample)` pairs decoded at once,
            >= 1. Defaults to 4096.
        seed: optional integer; the same seed (and `batch_size`) gives the
            same estimates. Defaults to `None` (fresh noise).

    Returns:
        `np.ndarray` of float64 and shape `(n,)`.

    Raises:
        ValueError: for bad data or arguments.
    """
    x = validate_features(x, "x", model.feature_shape)
    num_samples = check_int("num_samples", num_samples)
    batch_size = check_int("batch_size", batch_size)
    generator = keras.random.SeedGenerator(seed)
    examples_per_chunk = max(1, batch_size // num_samples)
    samples_per_chunk = min(num_samples, batch_size)
    estimates = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), examples_per_chunk):
        x_chunk = ops.convert_to_tensor(x[start:start + examples_per_chunk])
        z_mean, z_log_var = model.encode(x_chunk)
        total = np.full(int(x_chunk.shape[0]), -np.inf)
        for first in range(0, num_samples, samples_per_chunk):
            count = min(samples_per_chunk, num_samples - first)
            log_w = _log_weights(model, x_chunk, z_mean, z_log_var, count, generator)
            total = np.logaddexp(total, _logsumexp(log_w, axis=0))
        estimates[start:start + len(total)] = total
    return estimates - math.log(num_samples) + log_likelihood_constant(model)
