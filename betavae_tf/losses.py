"""The loss math of the β-VAE, in one place.

Every function returns *per-example* values of shape `(batch,)` (or
`(batch, latent_dim)` for the per-dimension KL); the model averages them over
the batch. Reconstruction terms are negative log-likelihoods summed over every
feature / pixel of an example. Terms that only exist for a whole batch (free
bits, the DIP-VAE covariance penalty, FactorVAE's discriminator estimates)
return scalars.

A reconstruction likelihood is chosen by name (see `LIKELIHOODS`); each knows
its negative log-likelihood and how to turn the decoder's raw output into the
mean reconstruction shown to users.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import keras
from keras import ops

from betavae_tf.validation import check_choice

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

    `-0.5 * Σ_j (1 + log σ_j² − μ_j² − σ_j²)`, the original Keras β-VAE's formula.

    Args:
        z_mean: float tensor of shape `(batch, latent_dim)`.
        z_log_var: float tensor of shape `(batch, latent_dim)`.

    Returns:
        Float tensor of shape `(batch,)`.
    """
    return ops.sum(kl_divergence_per_dimension(z_mean, z_log_var), axis=-1)


def free_bits_kl(z_mean, z_log_var, free_bits: float):
    """The KL term of a batch with "free bits" (Kingma et al., 2016).

    Each latent dimension's KL is averaged over the batch, then floored at
    `free_bits` nats, and the floored values are summed:
    `Σ_j max(λ, mean_i KL_ij)`. A dimension whose average KL is below λ
    costs a constant λ (and gets no gradient from the KL term), so the
    encoder may use up to λ nats per dimension for free, which keeps
    dimensions from collapsing to the prior early in training. This is the
    batch-averaged formulation of Kingma et al.'s IAF paper (eq. 15, with one
    group per latent dimension); with `free_bits = 0` it equals the batch
    mean of `kl_divergence` (up to rounding).

    Args:
        z_mean: float tensor of shape `(batch, latent_dim)`.
        z_log_var: float tensor of shape `(batch, latent_dim)`.
        free_bits: λ, nats per latent dimension, >= 0.

    Returns:
        A scalar tensor (a batch quantity, not per example).
    """
    per_dimension = ops.mean(kl_divergence_per_dimension(z_mean, z_log_var), axis=0)
    return ops.sum(ops.maximum(per_dimension, free_bits))


def capacity_at_step(step, capacity_max: float, capacity_steps: int):
    """The capacity C of Burgess et al. (2018) after `step` optimizer steps.

    `C = min(C_max, C_max · step / capacity_steps)`: a linear ramp from 0 to
    `capacity_max` nats over `capacity_steps` steps, then constant. With
    `capacity_steps = 0` C is `capacity_max` from the start.

    Args:
        step: the number of optimizer steps taken, a number or a scalar tensor
            (e.g. a step-counter variable, so a compiled step follows it).
        capacity_max: C_max in nats, >= 0.
        capacity_steps: length of the ramp in steps, >= 0.

    Returns:
        A float32 scalar tensor.
    """
    if capacity_steps == 0:
        return ops.full((), capacity_max, dtype="float32")
    step = ops.cast(step, "float32")
    return ops.minimum(capacity_max, capacity_max * step / float(capacity_steps))


def gaussian_log_density(z, mean, log_var):
    """Element-wise log N(z | mean, exp(log_var)), broadcasting the arguments.

    `-0.5 * (log 2π + log σ² + (z − μ)² / σ²)`.

    Args:
        z: float tensor.
        mean: float tensor broadcastable against `z`.
        log_var: float tensor broadcastable against `z`, log σ².

    Returns:
        Float tensor of the broadcast shape (not summed over anything).
    """
    return -0.5 * (LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var))


TCVAE_ESTIMATORS = ("mws", "mss")


def _log_stratified_weights(batch, dataset_size: int):
    """log of the `(M, M)` minibatch-stratified-sampling weight matrix.

    Row i weighs example i's own posterior 1/N, one other example's
    (i + 1 mod M) (N − M')/(N·M') and the remaining M' − 1 examples 1/M',
    with M' = M − 1; every row sums to 1. A batch of one gets weight 1.
    """
    eye = ops.eye(batch)
    neighbour = ops.roll(eye, 1, axis=1)
    others = ops.maximum(ops.cast(batch, "float32") - 1.0, 1.0)
    n = float(dataset_size)
    rest = ops.maximum(1.0 - eye - neighbour, 0.0)
    weights = eye / n + neighbour * ops.maximum(n - others, 0.0) / (n * others) + rest / others
    return ops.log(weights)


def tcvae_decomposition(z, z_mean, z_log_var, dataset_size: int, estimator: str = "mws"):
    """The β-TCVAE split of the KL term (Chen et al., 2018), per example.

    With `z_i ~ q(z | x_i)` one sample per example of a minibatch of size
    `M` drawn from a data set of `N = dataset_size` examples:

    * index-code mutual information `MI_i = log q(z_i | x_i) − log q(z_i)`,
    * total correlation `TC_i = log q(z_i) − Σ_j log q(z_ij)`,
    * dimension-wise KL `DW_i = Σ_j log q(z_ij) − log p(z_i)`,

    where the aggregate posterior and its marginals are estimated from the
    `(M, M, latent_dim)` matrix `L[i, m, j] = log N(z_ij | μ_mj, σ²_mj)` by
    minibatch-weighted sampling (MWS), as in Chen et al.'s reference code:
    `log q(z_i) ≈ logsumexp_m Σ_j L[i, m, j] − log(N·M)` and
    `log q(z_ij) ≈ logsumexp_m L[i, m, j] − log(N·M)`.

    The three terms telescope: `MI_i + TC_i + DW_i = log q(z_i | x_i) −
    log p(z_i)`, a one-sample estimate of the KL whose expectation is the
    analytic `kl_divergence`. MWS is biased: its `log(N·M)` correction
    shifts the estimates by constants (for posteriors that all equal the
    prior it gives `MI = log N`, `TC = (latent_dim − 1)·log N` and
    `DW = −latent_dim·log N` instead of zeros). Constants do not change the
    gradients; they do mean the logged values are offsets, not nats that
    can be read on their own.

    `estimator="mss"` uses minibatch-stratified sampling instead (Chen et
    al., appendix): `log q(z_i) ≈ logsumexp_m (log W[i, m] + Σ_j L[i, m, j])`
    with weights that sum to 1 over each row (1/N on the example's own
    posterior, `(N − M')/(N·M')` on one other, `1/M'` on the rest, `M' =
    M − 1`). It has no constant offsets: posteriors that all equal the prior
    give three zeros, and factorised aggregate posteriors a TC near 0.

    Args:
        z: float tensor of shape `(M, latent_dim)`, one sample per example.
        z_mean: float tensor of shape `(M, latent_dim)`.
        z_log_var: float tensor of shape `(M, latent_dim)`.
        dataset_size: N, the number of training examples, >= 1.
        estimator: `"mws"` (minibatch-weighted sampling, the default) or
            `"mss"` (minibatch-stratified sampling).

    Returns:
        `(mutual_information, total_correlation, dimension_wise_kl)`, three
        float tensors of shape `(M,)`. Each example's values depend on the
        whole minibatch.

    Raises:
        ValueError: for an unknown `estimator`.
    """
    check_choice("tcvae estimator", estimator, TCVAE_ESTIMATORS)
    log_q_z_given_x = ops.sum(gaussian_log_density(z, z_mean, z_log_var), axis=1)
    log_p_z = ops.sum(gaussian_log_density(z, 0.0, 0.0), axis=1)
    # matrix[i, m, j] = log q(z_ij | x_m)
    matrix = gaussian_log_density(
        ops.expand_dims(z, 1), ops.expand_dims(z_mean, 0), ops.expand_dims(z_log_var, 0)
    )
    if estimator == "mws":
        log_nm = ops.log(ops.cast(ops.shape(z)[0], "float32")) + math.log(dataset_size)
        log_q_z = ops.logsumexp(ops.sum(matrix, axis=2), axis=1) - log_nm
        log_q_z_product = ops.sum(ops.logsumexp(matrix, axis=1) - log_nm, axis=1)
    else:
        log_weights = _log_stratified_weights(ops.shape(z)[0], dataset_size)
        log_q_z = ops.logsumexp(log_weights + ops.sum(matrix, axis=2), axis=1)
        log_q_z_product = ops.sum(
            ops.logsumexp(ops.expand_dims(log_weights, -1) + matrix, axis=1), axis=1
        )
    return (
        log_q_z_given_x - log_q_z,
        log_q_z - log_q_z_product,
        log_q_z_product - log_p_z,
    )


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
    return check_choice("likelihood", name, LIKELIHOODS)


# ----------------------------------------------------------------- DIP-VAE
DIP_KINDS = ("i", "ii")


def dip_covariance(z_mean, z_log_var, kind: str = "i"):
    """The covariance DIP-VAE pushes towards the identity (Kumar et al., 2018).

    `"i"` (eq. 6): the covariance of the encoder means over the batch,
    `Cov[μ] = mean_b (μ_b − μ̄)(μ_b − μ̄)ᵀ` (the population covariance,
    divided by the batch size, as disentanglement_lib computes it).
    `"ii"` (eq. 7): the covariance of the aggregate posterior q(z),
    `Cov[μ] + mean_b diag(σ²_b)`.

    Args:
        z_mean: float tensor of shape `(batch, latent_dim)`.
        z_log_var: float tensor of shape `(batch, latent_dim)` (used by `"ii"`).
        kind: `"i"` or `"ii"`.

    Returns:
        Float tensor of shape `(latent_dim, latent_dim)`.
    """
    check_choice("dip kind", kind, DIP_KINDS)
    centred = z_mean - ops.mean(z_mean, axis=0, keepdims=True)
    covariance = ops.matmul(ops.transpose(centred), centred) / ops.cast(ops.shape(z_mean)[0], z_mean.dtype)
    if kind == "ii":
        covariance = covariance + ops.diag(ops.mean(ops.exp(z_log_var), axis=0))
    return covariance


def dip_vae_penalty(z_mean, z_log_var, lambda_od, lambda_d, kind: str = "i"):
    """DIP-VAE's penalty on a batch: how far its covariance is from the identity.

    With `C = dip_covariance(z_mean, z_log_var, kind)`:
    `penalty = λ_od · Σ_{i≠j} C_ij² + λ_d · Σ_i (C_ii − 1)²`
    (disentanglement_lib's `regularize_diag_off_diag_dip`).

    Args:
        z_mean: float tensor of shape `(batch, latent_dim)`.
        z_log_var: float tensor of shape `(batch, latent_dim)`.
        lambda_od: weight λ_od of the off-diagonal entries (a number or a
            scalar variable).
        lambda_d: weight λ_d of the diagonal entries.
        kind: `"i"` or `"ii"` (see `dip_covariance`).

    Returns:
        `(penalty, off_diagonal, diagonal)`, three scalars: the weighted
        penalty and its two unweighted sums `Σ_{i≠j} C_ij²` and
        `Σ_i (C_ii − 1)²`.
    """
    covariance = dip_covariance(z_mean, z_log_var, kind)
    diagonal_entries = ops.diagonal(covariance)
    off_diagonal = ops.sum(ops.square(covariance * (1.0 - ops.eye(ops.shape(covariance)[0]))))
    diagonal = ops.sum(ops.square(diagonal_entries - 1.0))
    return lambda_od * off_diagonal + lambda_d * diagonal, off_diagonal, diagonal


# --------------------------------------------------------------- FactorVAE
def permute_dimensions(z, seed=None):
    """Shuffles each latent dimension independently across the batch.

    Row `b` of the result takes dimension `j` from row `π_j(b)`, a random
    permutation `π_j` per dimension: every column keeps its values (so the
    marginals q(z_j) are kept) while the dependence between columns is
    broken. A batch of such codes samples the product of the marginals
    `Π_j q(z_j)` (Kim & Mnih, 2018, Algorithm 1; disentanglement_lib's
    `shuffle_codes`).

    Args:
        z: float tensor of shape `(batch, latent_dim)`.
        seed: a `keras.random.SeedGenerator`, an integer or `None`.

    Returns:
        Float tensor of the shape of `z`.
    """
    order = ops.argsort(keras.random.uniform(ops.shape(z), seed=seed), axis=0)
    return ops.take_along_axis(z, order, axis=0)


def factor_vae_total_correlation(logits):
    """FactorVAE's estimate of the total correlation from discriminator logits.

    `TC ≈ mean_b (logits_b0 − logits_b1) = mean_b log(D(z_b) / (1 − D(z_b)))`,
    D the softmax probability of class 0 ("a code from q(z)" rather than
    from the product of its marginals): the density-ratio trick (Kim &
    Mnih, 2018, eq. 3). 0 when the discriminator cannot tell them apart.

    Args:
        logits: float tensor of shape `(batch, 2)`, the discriminator's
            output on the codes `z`.

    Returns:
        A scalar.
    """
    return ops.mean(logits[:, 0] - logits[:, 1])


DISCRIMINATOR_PROBABILITY_CLIP = 1e-6


def factor_vae_discriminator_loss(logits_codes, logits_permuted):
    """The cross-entropy FactorVAE's discriminator minimises.

    `−(0.5 · mean log D(z) + 0.5 · mean log(1 − D(z̃)))`, z the codes, z̃
    their `permute_dimensions`, D the softmax probability of class 0; the
    probabilities are clipped to [1e-6, 1 − 1e-6] first, as in
    disentanglement_lib. log 2 ≈ 0.693 for a discriminator at chance.

    Args:
        logits_codes: float tensor `(batch, 2)`, the discriminator on `z`.
        logits_permuted: float tensor `(batch, 2)`, the discriminator on `z̃`.

    Returns:
        A scalar.
    """
    clip = DISCRIMINATOR_PROBABILITY_CLIP
    codes = ops.clip(ops.softmax(logits_codes, axis=-1), clip, 1.0 - clip)
    permuted = ops.clip(ops.softmax(logits_permuted, axis=-1), clip, 1.0 - clip)
    return -(0.5 * ops.mean(ops.log(codes[:, 0])) + 0.5 * ops.mean(ops.log(permuted[:, 1])))
