"""Importance-weighted log-likelihood estimates (Burda et al., 2016)."""

import keras
import numpy as np
import pytest

from betavae_tf import BetaVAE
from betavae_tf.marginal_likelihood import log_likelihood, log_likelihood_constant


def constant_networks(input_dim, latent, decoder_bias, encoder_mean=0.0, encoder_log_var=0.0):
    """Encoder: the same posterior N(mean, exp(log_var)) for every x; decoder: a constant."""
    x = keras.Input((input_dim,))
    mean = keras.layers.Dense(latent, kernel_initializer="zeros",
                              bias_initializer=keras.initializers.Constant(encoder_mean))(x)
    log_var = keras.layers.Dense(latent, kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(encoder_log_var))(x)
    z = keras.Input((latent,))
    out = keras.layers.Dense(input_dim, kernel_initializer="zeros",
                             bias_initializer=keras.initializers.Constant(decoder_bias))(z)
    return keras.Model(x, [mean, log_var]), keras.Model(z, out)


def numpy_log_normal(x, mean, var):
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


@pytest.mark.parametrize("likelihood", ["mse", "bernoulli", "gaussian"])
def test_constant_decoder_and_prior_posterior_give_the_likelihood_at_the_constant(likelihood):
    # p(x|z) does not depend on z and q(z|x) = p(z): every importance weight is p(x|b).
    rng = np.random.default_rng(0)
    bias = rng.normal(size=5).astype("float32")
    encoder, decoder = constant_networks(5, 2, bias)
    model = BetaVAE(encoder=encoder, decoder=decoder, likelihood=likelihood)
    x = rng.uniform(size=(6, 5)).astype("float64")
    if likelihood == "mse":  # the Gaussian with variance 1/2 whose NLL the SSE is
        expected = numpy_log_normal(x, bias, 0.5).sum(axis=1)
    elif likelihood == "bernoulli":
        p = 1 / (1 + np.exp(-bias.astype("float64")))
        expected = (x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    else:
        log_var = rng.normal(-1.0, 0.3, size=5)
        model.log_variance.assign(log_var)
        expected = numpy_log_normal(x, bias, np.exp(log_var)).sum(axis=1)
    for num_samples, batch_size in ((1, 4096), (50, 4096), (50, 7)):
        estimate = log_likelihood(model, x, num_samples=num_samples, batch_size=batch_size, seed=0)
        assert estimate.shape == (6,) and estimate.dtype == np.float64
        np.testing.assert_allclose(estimate, expected, rtol=1e-5, atol=1e-4)


def test_mse_constant_is_half_d_log_pi():
    model = BetaVAE(input_dim=10, encoding_dim=2)
    assert log_likelihood_constant(model) == pytest.approx(-5 * np.log(np.pi))
    assert log_likelihood_constant(BetaVAE(input_dim=10, encoding_dim=2, likelihood="bernoulli")) == 0.0


def linear_gaussian(shift=0.0, log_var_offset=0.0):
    """z ~ N(0, 1), x | z ~ N(w z + b, diag σ²) with the exact posterior as encoder
    (optionally shifted / widened). Returns `(model, log p(x) as a function)`."""
    w = np.array([1.5, -0.5, 0.8])
    b = np.array([0.2, -1.0, 0.5])
    var = np.array([0.3, 0.6, 0.2])
    post_var = 1.0 / (1.0 + np.sum(w**2 / var))
    x = keras.Input((3,))
    mean = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant((post_var * w / var)[:, None]),
                              bias_initializer=keras.initializers.Constant(-post_var * np.sum(w * b / var) + shift))(x)
    log_var = keras.layers.Dense(1, kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(np.log(post_var) + log_var_offset))(x)
    z = keras.Input((1,))
    out = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(w[None]),
                             bias_initializer=keras.initializers.Constant(b))(z)
    model = BetaVAE(encoder=keras.Model(x, [mean, log_var]), decoder=keras.Model(z, out), likelihood="gaussian")
    model.log_variance.assign(np.log(var))
    covariance = np.outer(w, w) + np.diag(var)

    def log_p(data):
        centred = data - b
        _, log_det = np.linalg.slogdet(covariance)
        quad = np.einsum("ni,ij,nj->n", centred, np.linalg.inv(covariance), centred)
        return -0.5 * (3 * np.log(2 * np.pi) + log_det + quad)

    return model, log_p


def test_linear_gaussian_with_the_exact_posterior_gives_log_p_x_for_any_k():
    model, log_p = linear_gaussian()
    x = np.random.default_rng(1).normal(size=(8, 3))
    for num_samples in (1, 10):
        np.testing.assert_allclose(log_likelihood(model, x, num_samples, seed=1), log_p(x), rtol=1e-4, atol=1e-4)


def test_linear_gaussian_bound_tightens_to_log_p_x_with_more_samples():
    # The posterior's mean is off by 0.7 posterior sd and its variance 1.65 times
    # too large: an ELBO gap KL(q || p(z|x)) = 0.5 · (0.49 + e^0.5 − 1.5) ≈ 0.32 nats.
    model, log_p = linear_gaussian(shift=0.2, log_var_offset=0.5)
    x = np.random.default_rng(2).normal(size=(16, 3))
    truth = log_p(x)
    many = log_likelihood(model, x, num_samples=4000, batch_size=1000, seed=2)
    elbo = np.mean([log_likelihood(model, x, num_samples=1, seed=s) for s in range(100)], axis=0)
    np.testing.assert_allclose(np.mean(truth - elbo), 0.32, atol=0.05)
    np.testing.assert_allclose(many, truth, atol=0.03)  # the gap is gone


def trained_model():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(256, 2)) @ rng.normal(size=(2, 8)) + 0.1 * rng.normal(size=(256, 8))).astype("float32")
    model = BetaVAE(input_dim=8, encoding_dim=2, dropout_rate=0.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=3, batch_size=32, verbose=0)
    return model, x[:16]


def test_one_sample_estimate_is_the_elbo_and_more_samples_tighten_it():
    model, x = trained_model()
    repeats = 200
    tiled = np.tile(x, (repeats, 1))
    one = log_likelihood(model, tiled, num_samples=1, seed=4).reshape(repeats, -1).mean(axis=0)
    model.beta = 1.0
    losses = model.compute_losses(tiled, training=False)  # reconstruction + 1 · KL
    negative_elbo = float(losses["total_loss"]) - log_likelihood_constant(model)
    # 3200 draws each: the two agree to Monte Carlo noise (about 0.03 nats here).
    assert np.mean(one) == pytest.approx(-negative_elbo, abs=0.15)
    hundred = log_likelihood(model, x, num_samples=100, seed=4)
    assert np.mean(hundred) > np.mean(one) + 0.5  # about 1.2 nats tighter here


def test_seeded_estimates_are_reproducible():
    model, x = trained_model()
    first = log_likelihood(model, x, num_samples=20, seed=5)
    np.testing.assert_array_equal(first, log_likelihood(model, x, num_samples=20, seed=5))
    assert not np.array_equal(first, log_likelihood(model, x, num_samples=20, seed=6))
    # Chunking changes which noise is drawn, not what is estimated.
    whole = log_likelihood(model, x, num_samples=1000, seed=5)
    chunked = log_likelihood(model, x, num_samples=1000, batch_size=300, seed=5)
    assert np.mean(chunked) == pytest.approx(np.mean(whole), abs=0.1 * np.std(whole))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_samples": 0}, r"num_samples must be an integer >= 1. Received: num_samples=0"),
        ({"batch_size": -1}, r"batch_size must be an integer >= 1. Received: batch_size=-1"),
        ({"x": np.zeros((3, 5), "float32")}, r"x has examples of shape \(5,\) but the model expects \(4,\)"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    model = BetaVAE(input_dim=4, encoding_dim=2)
    arguments = {"x": np.zeros((3, 4), "float32"), **kwargs}
    with pytest.raises(ValueError, match=message):
        log_likelihood(model, **arguments)
