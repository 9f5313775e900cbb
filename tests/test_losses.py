import numpy as np
import pytest
from keras import ops

from betavae_tf.losses import (
    LIKELIHOODS,
    bernoulli_negative_log_likelihood,
    capacity_at_step,
    free_bits_kl,
    gaussian_log_density,
    gaussian_negative_log_likelihood,
    get_likelihood,
    kl_divergence,
    kl_divergence_per_dimension,
    sum_squared_error,
    tcvae_decomposition,
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


# ------------------------------------------------------------ objective math
def test_gaussian_log_density_matches_numpy_and_broadcasts():
    rng = np.random.default_rng(5)
    z, mean = rng.normal(size=(2, 4, 3)).astype("float32")
    log_var = rng.normal(size=(3,)).astype("float32")
    expected = -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var))
    np.testing.assert_allclose(ops.convert_to_numpy(gaussian_log_density(z, mean, log_var)), expected, rtol=1e-5)
    assert float(gaussian_log_density(0.0, 0.0, 0.0)) == pytest.approx(-0.5 * np.log(2 * np.pi))


@pytest.mark.parametrize(
    "step, expected", [(0, 0.0), (25, 5.0), (50, 10.0), (100, 20.0), (101, 20.0), (10**6, 20.0)]
)
def test_capacity_ramp_start_middle_end_and_past_end(step, expected):
    assert float(capacity_at_step(step, 20.0, 100)) == pytest.approx(expected)


def test_capacity_with_no_ramp_is_the_maximum_from_the_start():
    assert float(capacity_at_step(0, 7.0, 0)) == 7.0


def test_free_bits_floor_the_batch_mean_kl_of_each_dimension():
    # Per-dimension KL of N(mu, 1): mu²/2. Dimension 0 has KL 0 and 2 in the
    # two examples (mean 1), dimension 1 KL 0.5 in both, dimension 2 KL 0.
    mu = np.array([[0.0, 1.0, 0.0], [2.0, 1.0, 0.0]], "float32")
    log_var = np.zeros_like(mu)
    assert float(free_bits_kl(mu, log_var, 0.0)) == pytest.approx(1.5)
    assert float(free_bits_kl(mu, log_var, 0.0)) == pytest.approx(float(ops.mean(kl_divergence(mu, log_var))))
    # λ = 1.5 floors every dimension's batch mean: 1.5 + 1.5 + 1.5. Flooring
    # per example instead would give dimension 0 a mean of (1.5 + 2) / 2.
    assert float(free_bits_kl(mu, log_var, 1.5)) == pytest.approx(4.5)
    assert float(free_bits_kl(mu, log_var, 0.75)) == pytest.approx(1.0 + 0.75 + 0.75)


def numpy_tcvae_mws(z, mu, log_var, n):
    """Chen et al.'s minibatch-weighted sampling, written out in NumPy."""
    def log_normal(v, m, lv):
        return -0.5 * (np.log(2 * np.pi) + lv + (v - m) ** 2 / np.exp(lv))

    def logsumexp(a, axis):
        top = a.max(axis=axis, keepdims=True)
        return np.squeeze(top, axis) + np.log(np.exp(a - top).sum(axis=axis))

    z, mu, log_var = (np.asarray(a, "float64") for a in (z, mu, log_var))
    m = len(z)
    matrix = log_normal(z[:, None, :], mu[None], log_var[None])
    log_qz = logsumexp(matrix.sum(2), 1) - np.log(n * m)
    log_qz_product = (logsumexp(matrix, 1) - np.log(n * m)).sum(1)
    log_qz_x = log_normal(z, mu, log_var).sum(1)
    log_pz = log_normal(z, 0.0, 0.0).sum(1)
    return log_qz_x - log_qz, log_qz - log_qz_product, log_qz_product - log_pz


def tcvae_terms(z, mu, log_var, n, estimator="mws"):
    return [ops.convert_to_numpy(t).astype("float64")
            for t in tcvae_decomposition(z, mu, log_var, n, estimator)]


def test_tcvae_mws_matches_numpy():
    rng = np.random.default_rng(6)
    mu, log_var, eps = rng.normal(size=(3, 32, 5)).astype("float32")
    z = mu + np.exp(0.5 * log_var) * eps
    for got, want in zip(tcvae_terms(z, mu, log_var, 1000), numpy_tcvae_mws(z, mu, log_var, 1000)):
        assert got.shape == (32,)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_tcvae_known_answer_when_every_posterior_is_the_prior():
    # q(z|x) = N(0, I) for all x: the true MI, TC and dimension-wise KL are 0.
    # MWS's log(N·M) correction makes them log N, (D − 1)·log N, −D·log N;
    # MSS's weights sum to one and give the zeros.
    rng = np.random.default_rng(7)
    m, d, n = 16, 4, 500
    z = rng.normal(size=(m, d)).astype("float32")
    zeros = np.zeros((m, d), "float32")
    mi, tc, dw = tcvae_terms(z, zeros, zeros, n, "mws")
    np.testing.assert_allclose(mi, np.log(n), rtol=1e-5)
    np.testing.assert_allclose(tc, (d - 1) * np.log(n), rtol=1e-5)
    np.testing.assert_allclose(dw, -d * np.log(n), rtol=1e-5)
    for term in tcvae_terms(z, zeros, zeros, n, "mss"):
        np.testing.assert_allclose(term, 0.0, atol=1e-4)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tcvae_of_a_single_example_data_set_is_all_dimension_wise_kl(estimator):
    # N = M = 1: q(z) = q(z|x), which factorises: MI = TC = 0, DW = log q(z|x) − log p(z).
    mu, log_var = np.array([[0.5, -1.0, 2.0]], "float32"), np.array([[0.3, -0.5, 0.0]], "float32")
    z = np.array([[0.1, -0.7, 1.5]], "float32")
    mi, tc, dw = tcvae_terms(z, mu, log_var, 1, estimator)
    np.testing.assert_allclose([mi[0], tc[0]], 0.0, atol=1e-5)
    expected = ops.convert_to_numpy(
        ops.sum(gaussian_log_density(z, mu, log_var) - gaussian_log_density(z, 0.0, 0.0)))
    assert dw[0] == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tcvae_terms_sum_to_a_one_sample_kl_whose_mean_is_the_analytic_kl(estimator):
    rng = np.random.default_rng(8)
    m, d = 256, 3
    mu = rng.normal(size=(m, d)).astype("float32")
    log_var = rng.normal(-1.0, 0.5, size=(m, d)).astype("float32")
    totals = []
    for _ in range(40):  # 40 draws of z per example: the mean is an expectation
        z = (mu + np.exp(0.5 * log_var) * rng.normal(size=(m, d))).astype("float32")
        total = np.sum(tcvae_terms(z, mu, log_var, 10_000, estimator), axis=0)
        single_sample_kl = ops.convert_to_numpy(ops.sum(
            gaussian_log_density(z, mu, log_var) - gaussian_log_density(z, 0.0, 0.0), axis=1))
        np.testing.assert_allclose(total, single_sample_kl, rtol=1e-4, atol=1e-3)
        totals.append(total)
    analytic = ops.convert_to_numpy(kl_divergence(mu, log_var))
    assert np.mean(totals) == pytest.approx(analytic.mean(), rel=0.03)


def independent_and_correlated_posteriors(m=512, d=4, sd=0.5, seed=9):
    rng = np.random.default_rng(seed)
    log_var = np.full((m, d), 2 * np.log(sd), "float32")
    independent = rng.normal(size=(m, d)).astype("float32")  # factorised aggregate posterior
    correlated = np.repeat(rng.normal(size=(m, 1)), d, axis=1).astype("float32")  # z_1 = ... = z_d
    for mu in (independent, correlated):
        yield mu, log_var, (mu + sd * rng.normal(size=(m, d))).astype("float32")


def test_total_correlation_is_near_zero_for_independent_latents_and_large_for_correlated_ones():
    n, d = 10_000, 4
    (mu_i, lv_i, z_i), (mu_c, lv_c, z_c) = independent_and_correlated_posteriors(d=d)
    # MSS: no offset.
    assert abs(tcvae_terms(z_i, mu_i, lv_i, n, "mss")[1].mean()) < 0.25
    assert tcvae_terms(z_c, mu_c, lv_c, n, "mss")[1].mean() > 1.0
    # MWS: the same, above its constant (D − 1)·log N.
    offset = (d - 1) * np.log(n)
    assert abs(tcvae_terms(z_i, mu_i, lv_i, n, "mws")[1].mean() - offset) < 0.25
    assert tcvae_terms(z_c, mu_c, lv_c, n, "mws")[1].mean() - offset > 1.0


def test_unknown_tcvae_estimator_lists_the_valid_names():
    zeros = np.zeros((2, 2), "float32")
    with pytest.raises(ValueError, match=r"Unknown tcvae estimator 'exact'.*mss.*mws"):
        tcvae_decomposition(zeros, zeros, zeros, 10, "exact")
