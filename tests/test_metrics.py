"""Known answers of the disentanglement metrics (modelled on disentanglement_lib's tests).

Representations: the true factors (observations of `SyntheticFactors(observation_dim=None)`
are the scaled factors), noise independent of the factors, a constant, a permuted and
rescaled copy of the factors, and the factors with a duplicated column.
"""

import doctest
import importlib
import json

import numpy as np
import pytest

from betavae_tf import BetaVAE
from betavae_tf.datasets import DSprites, GroundTruthData, SyntheticFactors
from betavae_tf.metrics import (
    beta_vae_score,
    dci,
    factor_vae_score,
    generate_batch_factor_code,
    mean_representation,
    mig,
    sap,
    utils,
)
from betavae_tf.metrics.dci import completeness, disentanglement
from betavae_tf.metrics.mig import compute_mig

# The modules whose names equal their functions' (the package exports the functions).
beta_vae_module = importlib.import_module("betavae_tf.metrics.beta_vae_score")
factor_vae_module = importlib.import_module("betavae_tf.metrics.factor_vae_score")

FACTOR_SIZES = (4, 5, 3)
NUM_FACTORS = len(FACTOR_SIZES)
CHANCE = 1 / NUM_FACTORS

# Small hyper-parameters: every metric call below takes well under a second.
SMALL = {
    mig: dict(num_train=1000),
    beta_vae_score: dict(batch_size=16, num_train=300, num_eval=300),
    factor_vae_score: dict(batch_size=16, num_train=300, num_eval=300, num_variance_estimate=500),
    dci: dict(num_train=300, num_test=200),
    sap: dict(num_train=500, num_test=300),
}
METRICS = list(SMALL)


@pytest.fixture(scope="module")
def data():
    """Observations are the factors scaled to [0, 1] (identity mixing)."""
    return SyntheticFactors(FACTOR_SIZES, observation_dim=None)


def run(metric, representation_fn, dataset, seed=0, **overrides):
    return metric(representation_fn, dataset, seed, **{**SMALL[metric], **overrides})


def identity(x):
    return np.asarray(x, dtype=np.float64)


def integer_factors(x):
    """The factor classes themselves (0 .. size - 1)."""
    return np.asarray(x, dtype=np.float64) * (np.asarray(FACTOR_SIZES) - 1)


def permuted_rescaled(x):
    return identity(x)[:, [2, 0, 1]] * np.array([3.0, 0.5, 10.0]) + np.array([7.0, -1.0, 0.25])


def duplicated_first(x):
    return np.concatenate([identity(x), identity(x)[:, :1]], axis=1)


def constant(x):
    return np.zeros((len(x), NUM_FACTORS))


def noise(num_latents=NUM_FACTORS, seed=123):
    rng = np.random.RandomState(seed)
    return lambda x: rng.normal(size=(len(x), num_latents))


# ------------------------------------------------------------------ true factors
def test_true_factors_score_high(data):
    scores = run(mig, identity, data)
    assert scores["discrete_mig"] >= 0.95
    assert len(scores["mig_per_factor"]) == NUM_FACTORS
    assert min(scores["mig_per_factor"]) >= 0.95

    scores = run(beta_vae_score, identity, data)
    assert scores["train_accuracy"] >= 0.9 and scores["eval_accuracy"] >= 0.9

    scores = run(factor_vae_score, identity, data)
    assert scores == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_dims": 3}

    scores = run(dci, identity, data)
    assert scores["disentanglement"] >= 0.9 and scores["completeness"] >= 0.9
    assert scores["informativeness_train"] == 1.0 and scores["informativeness_test"] == 1.0


def test_true_factors_through_a_random_mixing():
    """Observations are a random linear mixing of the factors; `unmix` undoes it."""
    mixed = SyntheticFactors(FACTOR_SIZES)
    assert mixed.observation_shape == (8,)
    assert run(beta_vae_score, mixed.unmix, mixed)["eval_accuracy"] >= 0.9
    assert run(factor_vae_score, mixed.unmix, mixed)["eval_accuracy"] == 1.0
    assert run(dci, mixed.unmix, mixed)["disentanglement"] >= 0.9
    # The observations themselves are entangled (every coordinate mixes all factors):
    # MIG sees it, while FactorVAE's majority vote and DCI's trees are lenient.
    assert run(mig, identity, mixed)["discrete_mig"] < 0.3
    assert run(mig, mixed.unmix, mixed)["discrete_mig"] >= 0.85


def test_sap_separates_true_factors_from_noise(data):
    true = run(sap, integer_factors, data)["sap_score"]
    random = run(sap, noise(), data)["sap_score"]
    assert true >= 0.3 and true > random + 0.25
    assert random < 0.08
    assert run(sap, constant, data) == {"sap_score": 0.0}


# --------------------------------------------------------- random and constant
def test_random_representation_scores_at_chance(data):
    assert run(mig, noise(), data)["discrete_mig"] < 0.1
    assert run(beta_vae_score, noise(), data)["eval_accuracy"] < CHANCE + 0.1
    scores = run(factor_vae_score, noise(), data)
    assert scores["num_active_dims"] == 3 and scores["eval_accuracy"] < CHANCE + 0.1
    scores = run(dci, noise(), data)
    assert scores["disentanglement"] < 0.2 and scores["completeness"] < 0.2
    assert scores["informativeness_test"] < 0.4  # chance is mean(1/4, 1/5, 1/3) = 0.26


def test_constant_representation(data):
    assert run(mig, constant, data) == {"discrete_mig": 0.0, "mig_per_factor": [0.0] * 3}
    assert run(factor_vae_score, constant, data) == {
        "train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    assert run(beta_vae_score, constant, data)["eval_accuracy"] < CHANCE + 0.1
    assert run(dci, constant, data)["disentanglement"] < 1e-6


def test_factor_vae_prunes_low_variance_latents(data):
    """A latent with std below 0.05 never votes; one above does."""
    def with_small_latent(scale):
        return lambda x: np.concatenate([identity(x), scale * noise(1)(x)], axis=1)

    assert run(factor_vae_score, with_small_latent(0.01), data)["num_active_dims"] == 3
    assert run(factor_vae_score, with_small_latent(1.0), data)["num_active_dims"] == 4
    # Everything below the threshold: no active latents at all.
    assert run(factor_vae_score, lambda x: 0.01 * identity(x), data)["num_active_dims"] == 0


# ------------------------------------------------------------------- invariances
def test_permuted_and_rescaled_factors_score_like_the_factors(data):
    for metric, keys in ((mig, ["discrete_mig"]),
                         (factor_vae_score, ["train_accuracy", "eval_accuracy"]),
                         (dci, ["disentanglement", "completeness"])):
        reference = run(metric, identity, data)
        changed = run(metric, permuted_rescaled, data)
        for key in keys:
            assert changed[key] == pytest.approx(reference[key], abs=0.01), (metric, key)


def test_duplicated_factor_has_no_gap(data):
    reference = run(mig, identity, data)
    scores = run(mig, duplicated_first, data)
    assert scores["mig_per_factor"][0] == pytest.approx(0.0, abs=1e-12)
    assert scores["mig_per_factor"][1:] == pytest.approx(reference["mig_per_factor"][1:])
    assert reference["discrete_mig"] - scores["discrete_mig"] == pytest.approx(1 / 3, abs=0.02)
    # disentanglement_lib's test: the whole code twice -> MIG 0.
    both = run(mig, lambda x: np.hstack([x, x]), data)
    assert both["discrete_mig"] == pytest.approx(0.0, abs=1e-12)


def test_duplicated_code_is_disentangled_but_incomplete(data):
    """Each factor spread evenly over 2 of 6 codes: C = 1 − log 2 / log 6 ≈ 0.61."""
    scores = run(dci, lambda x: np.hstack([x, x]), data)
    assert scores["disentanglement"] >= 0.9
    assert scores["completeness"] == pytest.approx(1 - np.log(2) / np.log(6), abs=0.05)


# ------------------------------------------------------------ formula known answers
def test_compute_mig_known_answers():
    factors = np.repeat(np.arange(4), 25)[:, None]
    informative = factors.astype(float)
    assert compute_mig(np.hstack([informative, np.zeros_like(informative)]), factors) == {
        "discrete_mig": 1.0, "mig_per_factor": [1.0]}
    assert compute_mig(np.hstack([informative, informative]), factors)["discrete_mig"] == 0.0
    # A code that merges classes {0, 1}: I = H − (1/2) log 2 nats against a useless code.
    merged = np.maximum(informative, 1.0)
    expected = 1 - 0.5 * np.log(2) / np.log(4)  # 0.75
    assert compute_mig(np.hstack([merged, np.zeros_like(merged)]), factors)[
        "discrete_mig"] == pytest.approx(expected)


def test_histogram_discretize_matches_disentanglement_lib():
    # Edges [0, 0.5, 1] (digitize against [0, 0.5]); a constant column gets the range
    # (4.5, 5.5), edges [4.5, 5, 5.5], so every value lands in bin 2.
    values = np.array([[0.0, 5.0], [0.5, 5.0], [1.0, 5.0], [0.26, 5.0]])
    np.testing.assert_array_equal(
        utils.histogram_discretize(values, 2), [[1, 2], [2, 2], [2, 2], [1, 2]])
    rng = np.random.RandomState(0)
    codes = rng.normal(size=(300, 3))
    result = utils.histogram_discretize(codes, 20)
    for i in range(3):
        edges = np.histogram(codes[:, i], 20)[1][:-1]
        np.testing.assert_array_equal(result[:, i], np.digitize(codes[:, i], edges))
    assert result.min() == 1 and result.max() == 20


def test_dci_known_importance_matrices():
    assert disentanglement(np.eye(3)) == pytest.approx(1.0)
    assert completeness(np.eye(3)) == pytest.approx(1.0)
    assert disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    assert completeness(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    # Codes 0 and 1 both describe factor 0, code 2 describes factor 1.
    importance = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert disentanglement(importance) == pytest.approx(1.0)
    expected = 2 / 3 * (1 - np.log(2) / np.log(3)) + 1 / 3
    assert completeness(importance) == pytest.approx(expected)
    # No importance at all (e.g. a constant code): 0, not NaN.
    assert disentanglement(np.zeros((3, 2))) == pytest.approx(0.0, abs=1e-9)


def test_sap_continuous_factors_is_squared_correlation(data):
    scores = run(sap, lambda x: 2 * identity(x) + 1, data, continuous_factors=True)
    assert scores["sap_score"] >= 0.95
    assert run(sap, noise(), data, continuous_factors=True)["sap_score"] < 0.02


# ---------------------------------------------------------------- reproducibility
def deterministic_representation(x):
    weights = np.random.RandomState(7).normal(size=(8, 4))
    return np.tanh(np.asarray(x, dtype=np.float64) @ weights)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_seeded_runs_are_reproducible_and_json_serialisable(metric):
    noisy = SyntheticFactors(FACTOR_SIZES, noise_std=0.3)
    first = run(metric, deterministic_representation, noisy, seed=11)
    assert run(metric, deterministic_representation, noisy, seed=11) == first
    assert run(metric, deterministic_representation, noisy,
               seed=np.random.RandomState(11)) == first
    assert json.loads(json.dumps(first)) == first
    for value in first.values():
        assert type(value) in (float, int, list)


def test_different_seeds_give_different_samples():
    noisy = SyntheticFactors(FACTOR_SIZES, noise_std=0.3)
    assert run(mig, deterministic_representation, noisy, seed=1) != run(
        mig, deterministic_representation, noisy, seed=2)


# ------------------------------------------------- same random draws as disentanglement_lib
def reference_generate_batch_factor_code(data, representation_fn, num_points, rs, batch_size):
    """disentanglement_lib's loop (transposed back to rows)."""
    codes, factors, i = [], [], 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        current_factors, observations = data.sample(n, rs)
        factors.append(current_factors)
        codes.append(representation_fn(observations))
        i += n
    return np.vstack(codes), np.vstack(factors)


def test_generate_batch_factor_code_draws_like_disentanglement_lib():
    noisy = SyntheticFactors(FACTOR_SIZES, noise_std=0.3)
    calls = []

    def counted(x):
        calls.append(len(x))
        return deterministic_representation(x)

    codes, factors = generate_batch_factor_code(noisy, counted, 3000, np.random.RandomState(5), 16)
    expected_codes, expected_factors = reference_generate_batch_factor_code(
        noisy, deterministic_representation, 3000, np.random.RandomState(5), 16)
    np.testing.assert_array_equal(factors, expected_factors)
    np.testing.assert_allclose(codes, expected_codes, rtol=1e-12)
    assert codes.shape == (3000, 4) and factors.shape == (3000, 3)
    assert calls == [2048, 952]  # observations of many draws encoded together


def test_beta_vae_points_are_drawn_like_disentanglement_lib():
    noisy = SyntheticFactors(FACTOR_SIZES, noise_std=0.3)
    points, labels = beta_vae_module._generate_training_batch(
        noisy, deterministic_representation, 8, 40, np.random.RandomState(3))
    rs = np.random.RandomState(3)
    for i in range(40):  # disentanglement_lib's _generate_training_sample
        index = rs.randint(noisy.num_factors)
        factors1 = noisy.sample_factors(8, rs)
        factors2 = noisy.sample_factors(8, rs)
        factors2[:, index] = factors1[:, index]
        r1 = deterministic_representation(noisy.sample_observations_from_factors(factors1, rs))
        r2 = deterministic_representation(noisy.sample_observations_from_factors(factors2, rs))
        assert labels[i] == index
        np.testing.assert_allclose(points[i], np.mean(np.abs(r1 - r2), axis=0), rtol=1e-12)


def test_factor_vae_votes_are_drawn_like_disentanglement_lib():
    noisy = SyntheticFactors(FACTOR_SIZES, noise_std=0.3)
    variances = np.array([1.0, 2.0, 0.5, 1e-6])
    active = np.sqrt(variances) >= 0.05
    votes = factor_vae_module._generate_votes(
        noisy, deterministic_representation, 8, 50, np.random.RandomState(4), variances, active)
    rs = np.random.RandomState(4)
    expected = np.zeros((3, 3), dtype=np.int64)
    for _ in range(50):
        index = rs.randint(noisy.num_factors)
        factors = noisy.sample_factors(8, rs)
        factors[:, index] = factors[0, index]
        codes = deterministic_representation(noisy.sample_observations_from_factors(factors, rs))
        local = np.var(codes, axis=0, ddof=1)
        expected[index, np.argmin(local[active] / variances[active])] += 1
    np.testing.assert_array_equal(votes, expected)


# ------------------------------------------------------------------ models
def test_mean_representation_is_z_mean():
    model = BetaVAE(input_dim=8, encoding_dim=3)
    x = np.random.RandomState(0).normal(size=(10, 8)).astype("float32")
    codes = mean_representation(model)(x)
    assert isinstance(codes, np.ndarray) and codes.shape == (10, 3)
    np.testing.assert_array_equal(codes, np.asarray(model.encode(x)[0]))
    batched = mean_representation(model, batch_size=3)(x)  # 4 encoder calls
    np.testing.assert_allclose(batched, codes, rtol=1e-6, atol=1e-6)


def test_metrics_run_on_a_model():
    mixed = SyntheticFactors(FACTOR_SIZES)
    model = BetaVAE(input_dim=8, encoding_dim=4)
    representation_fn = mean_representation(model)
    for metric in METRICS:
        scores = run(metric, representation_fn, mixed)
        assert scores and all(
            isinstance(v, (float, int, list)) and (not isinstance(v, float) or 0 <= v <= 1)
            for v in scores.values()), (metric, scores)


# ------------------------------------------------------------------- bad arguments
def one_line_error(callable_, *args, match, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        callable_(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_bad_arguments_give_one_line_errors(metric, data):
    train_key = "num_train"
    one_line_error(metric, identity, data, 0, match="num_train must be an integer >= 1",
                   **{**SMALL[metric], train_key: 0})
    one_line_error(metric, lambda x: identity(x)[:, 0], data, 0,
                   match=r"shape \(batch, num_latents\).*returned shape \(\d+,\)", **SMALL[metric])
    one_line_error(metric, lambda x: identity(x)[:-1], data, 0,
                   match=r"returned shape \(\d+, 3\)", **SMALL[metric])
    one_line_error(metric, lambda x: np.full((len(x), 2), np.nan), data, 0,
                   match="NaN or Inf", **SMALL[metric])
    one_line_error(metric, identity, data, "seed", match="random_state must be", **SMALL[metric])
    one_line_error(metric, identity, data, None, match="random_state must be", **SMALL[metric])
    one_line_error(metric, identity, object(), 0, match="GroundTruthData", **SMALL[metric])
    one_line_error(metric, "not callable", data, 0, match="representation_fn must be a callable",
                   **SMALL[metric])


def test_metric_specific_bad_arguments(data):
    one_line_error(mig, lambda x: identity(x)[:, :1], data, 0, num_train=100,
                   match="at least 2 latent dimensions")
    one_line_error(sap, lambda x: identity(x)[:, :1], data, 0, num_train=100, num_test=100,
                   match="at least 2 latent dimensions")
    one_line_error(factor_vae_score, identity, data, 0, batch_size=1,
                   match="batch_size must be an integer >= 2")
    one_line_error(sap, identity, data, 0, continuous_factors="yes",
                   match="continuous_factors must be True or False")
    one_line_error(mean_representation, object(), match="model must be a BetaVAE")
    one_line_error(SyntheticFactors, (4, 0), match="factor_sizes must be")
    one_line_error(SyntheticFactors, (4, 5, 3), observation_dim=2, match="observation_dim")


# ------------------------------------------------------------------ synthetic data
def test_synthetic_factors_are_deterministic_given_the_seed():
    first, same = SyntheticFactors(seed=1), SyntheticFactors(seed=1)
    other = SyntheticFactors(seed=2)
    assert isinstance(first, GroundTruthData) and first.factor_sizes == (4, 5, 3)
    np.testing.assert_array_equal(first.mixing_matrix, same.mixing_matrix)
    assert not np.array_equal(first.mixing_matrix, other.mixing_matrix)
    factors, x = first.sample(50, np.random.RandomState(0))
    np.testing.assert_allclose(first.unmix(x), first.scaled_factors(factors), atol=1e-5)
    identity_data = SyntheticFactors(observation_dim=None)
    np.testing.assert_array_equal(
        identity_data.sample_observations_from_factors(factors, None),
        (factors / [3, 4, 2]).astype("float32"))
    noisy = SyntheticFactors(noise_std=0.5, seed=1)
    a = noisy.sample_observations_from_factors(factors, np.random.RandomState(0))
    b = noisy.sample_observations_from_factors(factors, np.random.RandomState(0))
    np.testing.assert_array_equal(a, b)
    assert 0.3 < np.std(a - first.sample_observations_from_factors(factors, None)) < 0.7


@pytest.mark.parametrize("module", [
    "betavae_tf.metrics", "betavae_tf.metrics.mig", "betavae_tf.metrics.beta_vae_score",
    "betavae_tf.metrics.factor_vae_score", "betavae_tf.metrics.dci", "betavae_tf.metrics.sap",
    "betavae_tf.metrics.utils", "betavae_tf.datasets.synthetic"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------- dSprites
class RecordingDSprites(DSprites):
    """Generated dSprites that remembers the factors of the images it renders."""

    def __init__(self):
        super().__init__()
        self.rendered = []

    def sample_observations_from_factors(self, factors, rng=None):
        images = super().sample_observations_from_factors(factors, rng)
        self.rendered.append((images, self.check_factors(factors)))
        return images


@pytest.mark.slow
def test_mig_of_the_true_factors_on_dsprites():
    """Default hyper-parameters on rendered dSprites; the representation returns the
    factors of exactly the images it is given (checked pixel for pixel)."""
    data = RecordingDSprites()

    def true_factors(observations):
        images, factors = zip(*data.rendered)
        data.rendered.clear()
        np.testing.assert_array_equal(np.concatenate(images), observations)
        return np.concatenate(factors).astype(np.float64)

    scores = mig(true_factors, data, random_state=0)
    shape, scale, orientation, pos_x, pos_y = scores["mig_per_factor"]
    assert scores["discrete_mig"] >= 0.8
    assert min(shape, scale) >= 0.98  # 3 and 6 values: kept apart by 20 bins
    # 40 orientations in 20 bins: pairs merge, I = H − log 2 -> gap ≈ log 20 / log 40.
    assert orientation == pytest.approx(np.log(20) / np.log(40), abs=0.02)
    assert 0.8 < min(pos_x, pos_y) < 0.95  # 32 positions in 20 bins
