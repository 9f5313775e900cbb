import numpy as np
import pytest
from keras import ops

from betavae_tf.losses import (
    LIKELIHOODS,
    bernoulli_negative_log_likelihood,
    gaussian_negative_log_likelihood,
    get_likelihood,
    kl_divergence,
    kl_divergence_per_dimension,
    sum_squared_error,
)


def numpy_kl(mu, log_var):
    return -0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=-1)


def test_kl_of_the_prior_is_zero():
    zeros = np.zeros((3, 5), "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(kl_divergence(zeros, zeros)), 0.0)


def test_kl_known_answer_unit_mean():
    # KL(N(1, 1) || N(0, 1)) = 0.5 per dimension.
    kl = ops.convert_to_numpy(kl_divergence(np.ones((2, 6), "float32"), np.zeros((2, 6), "float32")))
    np.testing.assert_allclose(kl, 0.5 * 6)


def test_kl_matches_numpy_and_is_non_negative():
    rng = np.random.default_rng(0)
    mu, log_var = rng.normal(size=(2, 50, 8)).astype("float32") * 2
    kl = ops.convert_to_numpy(kl_divergence(mu, log_var))
    np.testing.assert_allclose(kl, numpy_kl(mu, log_var), rtol=1e-5)
    assert kl.shape == (50,) and (kl >= 0).all()
    per_dim = ops.convert_to_numpy(kl_divergence_per_dimension(mu, log_var))
    np.testing.assert_allclose(per_dim.sum(axis=1), kl, rtol=1e-5)


def test_sum_squared_error_sums_every_feature_axis():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 4, 5, 5, 2)).astype("float32")
    sse = ops.convert_to_numpy(sum_squared_error(x, y))
    np.testing.assert_allclose(sse, ((x - y) ** 2).reshape(4, -1).sum(axis=1), rtol=1e-5)


def test_bernoulli_matches_numpy_bce_and_survives_extreme_logits():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(3, 10)).astype("float32")
    logits = rng.normal(size=(3, 10)).astype("float32") * 3
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    np.testing.assert_allclose(
        ops.convert_to_numpy(bernoulli_negative_log_likelihood(x, logits)), bce, rtol=1e-5
    )
    extreme = np.array([[1000.0, -1000.0, 88.0, -88.0]], "float32")
    targets = np.array([[0.0, 1.0, 1.0, 0.0]], "float32")
    value = ops.convert_to_numpy(bernoulli_negative_log_likelihood(targets, extreme))
    np.testing.assert_allclose(value, [2000.0], rtol=1e-4)


def numpy_gaussian_nll(x, mean, log_var):
    x, mean, log_var = (np.asarray(a, "float64") for a in (x, mean, log_var))
    per_feature = 0.5 * ((x - mean) ** 2 / np.exp(log_var) + log_var + np.log(2 * np.pi))
    return per_feature.reshape(len(x), -1).sum(axis=1)


def test_gaussian_nll_matches_numpy_with_a_per_feature_log_variance():
    rng = np.random.default_rng(3)
    x, mean = rng.normal(size=(2, 4, 6, 5, 2)).astype("float32")
    log_var = rng.normal(0.0, 1.5, size=(6, 5, 2)).astype("float32")  # one per feature
    nll = ops.convert_to_numpy(gaussian_negative_log_likelihood(x, mean, log_var))
    assert nll.shape == (4,)
    np.testing.assert_allclose(nll, numpy_gaussian_nll(x, mean, log_var), rtol=1e-5)
    # Hand-checked values: a perfect mean at unit variance leaves 0.5·log 2π per
    # feature; a residual of 2 at σ² = e² costs 0.5·(4/e² + 2 + log 2π).
    zeros = np.zeros((1, 3), "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(gaussian_negative_log_likelihood(zeros, zeros, zeros)),
        [1.5 * np.log(2 * np.pi)], rtol=1e-6,
    )
    value = gaussian_negative_log_likelihood(
        np.array([[2.0]], "float32"), np.array([[0.0]], "float32"), np.array([2.0], "float32"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(value), [0.5 * (4 / np.e**2 + 2 + np.log(2 * np.pi))], rtol=1e-6)


def test_gaussian_nll_is_smallest_at_the_residual_variance():
    # d/d(log σ²) of the NLL is 0 where σ² equals the mean squared residual.
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 0.3, size=(1000, 1)).astype("float32")
    mean = np.zeros_like(x)
    grid = np.linspace(-5, 1, 601).astype("float32")
    totals = [float(ops.sum(gaussian_negative_log_likelihood(x, mean, np.full((1,), v, "float32"))))
              for v in grid]
    assert grid[int(np.argmin(totals))] == pytest.approx(np.log(np.mean(x.astype("float64") ** 2)), abs=0.01)


def test_likelihood_registry_means_and_variance_flags():
    assert sorted(LIKELIHOODS) == ["bernoulli", "gaussian", "mse"]
    decoded = np.array([[-2.0, 0.0, 3.0]], "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(get_likelihood("mse").mean(decoded)), decoded)
    np.testing.assert_array_equal(ops.convert_to_numpy(get_likelihood("gaussian").mean(decoded)), decoded)
    np.testing.assert_allclose(
        ops.convert_to_numpy(get_likelihood("bernoulli").mean(decoded)), 1 / (1 + np.exp(-decoded)), rtol=1e-6)
    assert [LIKELIHOODS[name].learns_log_variance for name in ("bernoulli", "gaussian", "mse")] == [
        False, True, False]
    assert get_likelihood("mse").negative_log_likelihood is sum_squared_error
    assert get_likelihood("bernoulli").negative_log_likelihood is bernoulli_negative_log_likelihood


def test_unknown_likelihood_lists_the_valid_names():
    assert get_likelihood("mse").name == "mse"
    with pytest.raises(ValueError, match=r"Unknown likelihood 'poisson'.*bernoulli.*gaussian.*mse"):
        get_likelihood("poisson")
