"""Known answers of the posterior-collapse diagnostics on models with hand-set weights."""

import json
import warnings

import keras
import numpy as np
import pytest

from betavae_tf import BetaVAE
from betavae_tf.metrics import (
    PosteriorCollapseWarning,
    active_units,
    kl_per_dimension,
    posterior_collapse_warning,
)

INPUT_DIM = 4
X = np.random.RandomState(0).normal(size=(300, INPUT_DIM)).astype("float32")


def linear_vae(mean_kernel, mean_bias, log_var_bias):
    """A BetaVAE whose encoder is `z_mean = x @ mean_kernel + mean_bias`,
    `z_log_var = log_var_bias` (zero kernel)."""
    latent = len(mean_bias)
    inputs = keras.Input((INPUT_DIM,))
    encoder = keras.Model(inputs, [keras.layers.Dense(latent, name="z_mean")(inputs),
                                   keras.layers.Dense(latent, name="z_log_var")(inputs)])
    z = keras.Input((latent,))
    decoder = keras.Model(z, keras.layers.Dense(INPUT_DIM)(z))
    model = BetaVAE(encoder=encoder, decoder=decoder)
    encoder.get_layer("z_mean").set_weights(
        [np.asarray(mean_kernel, "float32"), np.asarray(mean_bias, "float32")])
    encoder.get_layer("z_log_var").set_weights(
        [np.zeros((INPUT_DIM, latent), "float32"), np.asarray(log_var_bias, "float32")])
    return model


def closed_form_kl(mean, log_var):
    return -0.5 * (1 + log_var - mean**2 - np.exp(log_var))


def two_active_kernel():
    """Latent 0 copies x0 (variance ≈ 1), latent 1 is 0.5·x1 (≈ 0.25), latent 2 is
    0.05·x2 (≈ 0.0025, below the 0.01 threshold), latent 3 ignores x."""
    kernel = np.zeros((INPUT_DIM, 4))
    kernel[0, 0], kernel[1, 1], kernel[2, 2] = 1.0, 0.5, 0.05
    return kernel


def test_kl_per_dimension_of_constant_posteriors():
    mean, log_var = np.array([0.0, 1.0, -2.0]), np.array([0.0, -1.0, 0.5])
    model = linear_vae(np.zeros((INPUT_DIM, 3)), mean, log_var)
    kl = kl_per_dimension(model, X, batch_size=64)
    assert kl.shape == (3,) and kl.dtype == np.float64
    np.testing.assert_allclose(kl, closed_form_kl(mean, log_var), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(kl, [0.0, 0.5 * (1 + np.exp(-1)), 0.5 * (4 + np.exp(0.5) - 1.5)],
                               rtol=1e-5, atol=1e-7)


def test_kl_per_dimension_averages_over_inputs():
    log_var = np.array([-1.0, 0.0, 0.3, 0.0])
    model = linear_vae(two_active_kernel(), np.zeros(4), log_var)
    expected = closed_form_kl(X.astype(np.float64) @ two_active_kernel(), log_var).mean(axis=0)
    np.testing.assert_allclose(kl_per_dimension(model, X, batch_size=7), expected, rtol=1e-4)


def test_exactly_two_active_units():
    model = linear_vae(two_active_kernel(), [0.3, -1.0, 2.0, 5.0], np.zeros(4))
    report = active_units(model, X)
    assert report["num_active_units"] == 2
    assert report["active_mask"] == [True, True, False, False]
    expected = np.var(X[:, :3].astype(np.float64) * [1.0, 0.5, 0.05], axis=0)
    np.testing.assert_allclose(report["variances"][:3], expected, rtol=1e-4)
    assert report["variances"][3] == pytest.approx(0.0, abs=1e-12)
    assert report["threshold"] == 0.01
    assert active_units(model, X, threshold=0.001)["num_active_units"] == 3
    assert json.loads(json.dumps(report)) == report


def test_collapse_warning_fires_for_a_collapsed_model():
    model = linear_vae(np.zeros((INPUT_DIM, 3)), np.zeros(3), np.zeros(3))  # q(z|x) = prior
    with pytest.warns(PosteriorCollapseWarning, match=r"Posterior collapse: 0 of 3 latents active"):
        report = posterior_collapse_warning(model, X)
    assert report["collapsed"] is True
    assert report["num_active_units"] == 0 and report["total_kl"] == pytest.approx(0.0, abs=1e-6)
    assert json.loads(json.dumps(report)) == report


def test_collapse_warning_is_silent_for_an_active_model():
    model = linear_vae(two_active_kernel(), np.zeros(4), np.full(4, -2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PosteriorCollapseWarning)
        report = posterior_collapse_warning(model, X)
    assert report["collapsed"] is False
    assert report["num_active_units"] == 2 and report["total_kl"] > 1.0
    np.testing.assert_allclose(report["kl_per_dimension"], kl_per_dimension(model, X))


def test_either_rule_triggers_the_warning():
    # Informative means but tiny KL: 0.2·x0 has variance 0.04 > 0.01, KL ≈ 0.02 nats.
    kernel = np.zeros((INPUT_DIM, 2))
    kernel[0, 0] = 0.2
    quiet = linear_vae(kernel, np.zeros(2), np.zeros(2))
    with pytest.warns(PosteriorCollapseWarning, match="total KL") as record:
        report = posterior_collapse_warning(quiet, X)
    assert "latents active" not in str(record[0].message)
    assert report["num_active_units"] == 1 and report["total_kl"] < 0.1
    # Large KL from a constant shifted mean, but nothing depends on x.
    shifted = linear_vae(np.zeros((INPUT_DIM, 2)), [2.0, 2.0], np.zeros(2))
    with pytest.warns(PosteriorCollapseWarning, match="0 of 2 latents active") as record:
        report = posterior_collapse_warning(shifted, X)
    assert "total KL" not in str(record[0].message) and report["total_kl"] == pytest.approx(4.0)
    # The thresholds are parameters.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PosteriorCollapseWarning)
        assert not posterior_collapse_warning(quiet, X, min_total_kl=0.01)["collapsed"]
        assert not posterior_collapse_warning(shifted, X, min_active_units=0)["collapsed"]


def test_bad_arguments_give_one_line_errors():
    model = linear_vae(np.zeros((INPUT_DIM, 2)), np.zeros(2), np.zeros(2))
    cases = [
        (lambda: kl_per_dimension(model, X[:, :3]), "expects"),
        (lambda: kl_per_dimension(object(), X), "model must be a BetaVAE"),
        (lambda: kl_per_dimension(model, X, batch_size=0), "batch_size must be"),
        (lambda: active_units(model, X[:1]), "at least 2"),
        (lambda: active_units(model, X, threshold=-1), "threshold must be"),
        (lambda: posterior_collapse_warning(model, X, min_total_kl=float("nan")), "min_total_kl"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            call()
        assert "\n" not in str(info.value)
