"""Property-based tests (hypothesis) of the data checks and the loss math.

Each property runs on a few dozen generated examples (`PROPERTY`; set
BETAVAE_HYPOTHESIS_EXAMPLES for more); the file takes well under 30 s. Failing examples are printed by hypothesis and can be
replayed with `@example(...)`.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

from betavae_tf.losses import (
    LOG_2PI,
    bernoulli_negative_log_likelihood,
    free_bits_kl,
    gaussian_negative_log_likelihood,
    kl_divergence,
    kl_divergence_per_dimension,
    sum_squared_error,
)
from betavae_tf.validation import (
    check_float,
    check_inside,
    check_int,
    validate_features,
)

PROPERTY = settings(
    # BETAVAE_HYPOTHESIS_EXAMPLES=1000 for a longer search.
    max_examples=int(os.environ.get("BETAVAE_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    database=None,  # no .hypothesis/ folder in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def numpy(tensor) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(tensor))


def shapes(min_dims=2, max_dims=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=5)


def float_arrays(shape, low=-1e3, high=1e3):
    return hnp.arrays(np.float32, shape, elements=st.floats(low, high, width=32))


def latent_pairs(low=-30.0, high=30.0, log_var_low=-20.0, log_var_high=20.0):
    """(μ, log σ²) of the same shape (batch, latent)."""
    return hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6).flatmap(
        lambda shape: st.tuples(
            float_arrays(shape, low, high), float_arrays(shape, log_var_low, log_var_high)
        )
    )


# ------------------------------------------------------------------ validation
FINITE_ARRAYS = (
    hnp.arrays(np.float32, shapes(max_dims=3), elements=st.floats(allow_nan=False, allow_infinity=False, width=32))
    | hnp.arrays(np.float64, shapes(max_dims=3), elements=st.floats(-3e38, 3e38))
    | hnp.arrays(hnp.integer_dtypes(sizes=(8, 16, 32, 64)) | hnp.unsigned_integer_dtypes(), shapes(max_dims=3))
    | hnp.arrays(np.bool_, shapes(max_dims=3))
)


@PROPERTY
@given(FINITE_ARRAYS)
def test_finite_arrays_are_accepted_unchanged_as_float32(x):
    result = validate_features(x)
    assert result.dtype == np.float32 and result.shape == x.shape
    np.testing.assert_array_equal(result, x.astype(np.float32))


@PROPERTY
@given(shapes(max_dims=3), st.floats(3.5e38, 1e308), st.data())
def test_finite_values_too_large_for_float32_are_refused_as_such(shape, big, data):
    x = np.zeros(shape, np.float64)
    x.reshape(-1)[data.draw(st.integers(0, x.size - 1))] = data.draw(st.sampled_from([big, -big]))
    with pytest.raises(ValueError, match=r"has values beyond float32's range .* in 1 example\(s\)") as error:
        validate_features(x)
    assert "\n" not in str(error.value)


@PROPERTY
@given(
    shapes(),
    st.sampled_from([np.nan, np.inf, -np.inf]),
    st.data(),
)
def test_any_nan_or_inf_is_refused_naming_the_first_bad_example(shape, bad, data):
    x = data.draw(float_arrays(shape))
    flat_positions = data.draw(
        st.lists(st.integers(0, x.size - 1), min_size=1, max_size=4, unique=True)
    )
    x.reshape(-1)[flat_positions] = bad
    bad_rows = sorted({np.unravel_index(p, shape)[0] for p in flat_positions})
    with pytest.raises(ValueError) as error:
        validate_features(x, name="x_data")
    message = str(error.value)
    assert "\n" not in message
    assert f"x_data contains NaN or Inf in {len(bad_rows)} example(s) (first at index {bad_rows[0]})" in message
    assert "drop or impute them" in message


@PROPERTY
@given(shapes(), shapes(min_dims=1, max_dims=3))
def test_examples_of_another_shape_are_refused(shape, expected):
    assume(tuple(shape[1:]) != tuple(expected))
    with pytest.raises(ValueError, match=r"has examples of shape .* but the model expects") as error:
        validate_features(np.zeros(shape, np.float32), feature_shape=expected)
    assert "\n" not in str(error.value)


@PROPERTY
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=1, min_side=0, max_side=5)))
def test_scalars_and_1d_arrays_are_refused_with_a_reshape_hint(x):
    with pytest.raises(ValueError, match=r"must have shape \(examples, features...\).*reshape") as error:
        validate_features(x)
    assert "\n" not in str(error.value)


@PROPERTY
@given(st.integers(0, 5), st.integers(1, 6))
def test_too_few_examples_are_refused(n, minimum):
    x = np.zeros((n, 3), np.float32)
    if n >= minimum:
        assert validate_features(x, min_examples=minimum).shape == (n, 3)
    else:
        with pytest.raises(ValueError, match=f"has {n} examples but at least {minimum} are needed"):
            validate_features(x, min_examples=minimum)


@PROPERTY
@given(hnp.arrays(np.int32, hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=4),
                  elements=st.integers(-1000, 70000)))
def test_integer_images_must_be_8_bit(x):
    if x.min() >= 0 and x.max() <= 255:
        assert validate_features(x).max() == x.max()
    else:
        with pytest.raises(ValueError, match=r"integer images with values in .* outside the 8-bit range"):
            validate_features(x)


@PROPERTY
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6))
def test_check_float_accepts_exactly_the_finite_non_negative_numbers(value):
    ok = math.isfinite(value) and value >= 0
    if ok:
        assert check_float("beta", value) == float(value)
    else:
        with pytest.raises(ValueError, match=r"beta must be a finite number >= 0") as error:
            check_float("beta", value)
        assert "\n" not in str(error.value)


@PROPERTY
@given(st.integers(-10**6, 10**6) | st.floats() | st.booleans() | st.text(max_size=3))
def test_check_int_accepts_exactly_the_integers_from_the_minimum(value):
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if ok:
        assert check_int("encoding_dim", value) == value
    else:
        with pytest.raises(ValueError, match=r"encoding_dim must be an integer >= 1"):
            check_int("encoding_dim", value)


@PROPERTY
@given(st.lists(st.sampled_from(["a", "b", "..", ".", "c d", "x.png"]), min_size=1, max_size=5),
       st.booleans())
def test_check_inside_never_returns_a_path_outside_the_folder(tmp_path, parts, absolute):
    root = tmp_path / "out"
    name = os.path.join(*parts)
    if absolute:
        name = os.path.join(str(tmp_path), name)
    inside = os.path.commonpath([str(root), os.path.normpath(os.path.join(str(root), name))]) == str(root)
    if inside:
        path = check_inside(root, name)
        real = os.path.realpath(path)
        assert real == os.path.realpath(str(root)) or real.startswith(os.path.realpath(str(root)) + os.sep)
    else:
        with pytest.raises(ValueError, match="would write outside the output folder"):
            check_inside(root, name)


# ------------------------------------------------------------------------- KL
@PROPERTY
@given(latent_pairs())
def test_kl_is_finite_and_non_negative(pair):
    mu, log_var = pair
    per_dim = numpy(kl_divergence_per_dimension(mu, log_var))
    kl = numpy(kl_divergence(mu, log_var))
    assert np.isfinite(kl).all() and kl.shape == (mu.shape[0],)
    # Exactly >= 0 in real numbers; float32 rounding of 1 + v − e^v may leave
    # a tiny negative value relative to the terms' size.
    scale = 1.0 + np.abs(log_var) + mu.astype(np.float64) ** 2 + np.exp(log_var.astype(np.float64))
    assert (per_dim >= -1e-6 * scale).all()
    np.testing.assert_allclose(per_dim.sum(axis=1), kl, rtol=1e-5, atol=1e-4)


@PROPERTY
@given(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8))
def test_kl_is_zero_at_the_prior(shape):
    zeros = np.zeros(shape, np.float32)
    assert (numpy(kl_divergence(zeros, zeros)) == 0.0).all()
    assert (numpy(kl_divergence_per_dimension(zeros, zeros)) == 0.0).all()


@PROPERTY
@given(latent_pairs(low=-10.0, high=10.0, log_var_low=-10.0, log_var_high=10.0))
def test_kl_is_positive_wherever_the_posterior_differs_from_the_prior(pair):
    mu, log_var = pair
    # KL_j = (μ² + e^v − 1 − v) / 2 >= μ²/2 + v²/4 · min(1, e^v) > 0 beyond
    # float32 tolerance when |μ| or |v| exceeds 1e-2.
    differs = (np.abs(mu) > 1e-2) | (np.abs(log_var) > 1e-2)
    per_dim = numpy(kl_divergence_per_dimension(mu, log_var))
    assert (per_dim[differs] > 0).all()
    kl = numpy(kl_divergence(mu, log_var))
    assert (kl[differs.any(axis=1)] > 0).all()


@PROPERTY
@given(latent_pairs(), st.floats(0.0, 5.0, width=32))
def test_free_bits_never_lower_the_batch_mean_kl(pair, free_bits):
    mu, log_var = pair
    mean_kl = numpy(kl_divergence(mu, log_var)).mean()
    floored = float(numpy(free_bits_kl(mu, log_var, free_bits)))
    assert math.isfinite(floored)
    assert floored >= mean_kl - 1e-4 * max(1.0, abs(mean_kl))
    assert floored >= free_bits * mu.shape[1] * (1 - 1e-6) - 1e-30  # float32 may flush subnormals


# ---------------------------------------------------------- reconstruction NLL
def same_shape_pair(low_a, high_a, low_b, high_b):
    return shapes().flatmap(
        lambda shape: st.tuples(float_arrays(shape, low_a, high_a), float_arrays(shape, low_b, high_b))
    )


@PROPERTY
@given(same_shape_pair(0.0, 1.0, -1e4, 1e4))
def test_bernoulli_nll_is_finite_and_non_negative_for_data_in_0_1(pair):
    x, logits = pair
    nll = numpy(bernoulli_negative_log_likelihood(x, logits))
    assert nll.shape == (x.shape[0],) and np.isfinite(nll).all() and (nll >= 0).all()


@PROPERTY
@given(same_shape_pair(0.0, 1.0, -30.0, 30.0))
def test_bernoulli_nll_matches_float64_cross_entropy(pair):
    x, logits = pair
    l64, x64 = logits.astype(np.float64), x.astype(np.float64)
    reference = (np.logaddexp(0, -l64) * x64 + np.logaddexp(0, l64) * (1 - x64))
    reference = reference.reshape(len(x), -1).sum(axis=1)
    np.testing.assert_allclose(numpy(bernoulli_negative_log_likelihood(x, logits)), reference,
                               rtol=1e-4, atol=1e-3)


@PROPERTY
@given(same_shape_pair(-1e3, 1e3, -1e3, 1e3))
def test_squared_error_is_non_negative_and_zero_only_for_a_perfect_reconstruction(pair):
    x, reconstruction = pair
    sse = numpy(sum_squared_error(x, reconstruction))
    assert np.isfinite(sse).all() and (sse >= 0).all()
    assert (numpy(sum_squared_error(x, x)) == 0).all()
    different = (x != reconstruction).reshape(len(x), -1).any(axis=1)
    gap = np.abs(x.astype(np.float64) - reconstruction).reshape(len(x), -1).max(axis=1)
    assert (sse[different & (gap > 1e-18)] > 0).all()


@PROPERTY
@given(
    shapes().flatmap(lambda shape: st.tuples(
        float_arrays(shape, -1e3, 1e3), float_arrays(shape, -1e3, 1e3),
        float_arrays(shape[1:], -20.0, 20.0),
    ))
)
def test_gaussian_nll_is_finite_for_sane_inputs(triple):
    x, mean, log_variance = triple
    nll = numpy(gaussian_negative_log_likelihood(x, mean, log_variance))
    assert nll.shape == (x.shape[0],) and np.isfinite(nll).all()


@PROPERTY
@given(same_shape_pair(-100.0, 100.0, -100.0, 100.0))
def test_gaussian_nll_with_unit_variance_is_half_the_squared_error_plus_a_constant(pair):
    x, mean = pair
    features = int(np.prod(x.shape[1:]))
    gaussian = numpy(gaussian_negative_log_likelihood(x, mean, np.zeros(x.shape[1:], np.float32)))
    sse = numpy(sum_squared_error(x, mean))
    np.testing.assert_allclose(gaussian, 0.5 * sse + 0.5 * features * LOG_2PI, rtol=1e-5, atol=1e-3)


@PROPERTY
@given(same_shape_pair(-10.0, 10.0, -10.0, 10.0), st.floats(-3.0, 3.0))
def test_gaussian_nll_is_smallest_at_the_mean_residual_variance(pair, shift):
    x, mean = pair
    residual = float(np.mean((x.astype(np.float64) - mean) ** 2))
    assume(residual > 1e-3)

    def nll(log_variance):
        return float(numpy(gaussian_negative_log_likelihood(
            x, mean, np.full(x.shape[1:], log_variance, np.float32))).sum())

    best = math.log(residual)
    assert nll(best) <= nll(best + shift) + 1e-3 * (1 + abs(nll(best)))
