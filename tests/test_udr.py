"""Known answers of UDR (Duan et al., 2020), as disentanglement_lib computes it.

Hand-computable cases use the columns of the 8 × 8 Hadamard matrix: each is ±1,
has mean 0 and variance 1, and any two are exactly uncorrelated (as ranks too).
So a model and its copy have `R = I` under Spearman (pair score 1) and
`R = (1 − α) I` under the Lasso (each weight soft-thresholded by α).
"""

import doctest
import importlib
import json

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from sklearn.linear_model import Lasso

from betavae_tf import BetaVAE
from betavae_tf.metrics import (
    UDRResult,
    compute_udr,
    kl_per_dimension,
    mean_representation,
    udr,
    udr_pair_score,
)
from betavae_tf.metrics.udr import lasso_matrix, spearman_matrix

udr_module = importlib.import_module("betavae_tf.metrics.udr")


def hadamard_codes(num_latents=3):
    """`(8, num_latents)` Hadamard columns (without the constant one)."""
    return scipy.linalg.hadamard(8).astype(np.float64)[:, 1 : 1 + num_latents]


def permuted_and_flipped(codes):
    """The same latents in another order, two of them negated."""
    order = np.roll(np.arange(codes.shape[1]), 1)
    signs = np.where(np.arange(codes.shape[1]) % 2 == 0, -1.0, 1.0)
    return codes[:, order] * signs


def ones(num_models, num_latents):
    return [np.ones(num_latents)] * num_models


# ------------------------------------------------------------------ pair score
def test_pair_score_of_hand_computable_matrices():
    assert udr_pair_score(np.eye(2)) == 1.0
    assert udr_pair_score(np.eye(3)[[2, 0, 1]]) == 1.0  # a permutation
    assert udr_pair_score(0.7 * np.eye(3)) == pytest.approx(0.7)  # c² / c = c
    # Uniform n × n of c's: every column gives c² / (n c) = c / n.
    assert udr_pair_score(np.full((2, 2), 0.5)) == 0.25
    assert udr_pair_score(np.ones((3, 3))) == pytest.approx(1 / 3)
    # Two latents merged: columns 1/2, 1/2, 1, rows the same -> 2/3.
    merged = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert udr_pair_score(merged) == pytest.approx(2 / 3)
    # 0.8² / (0.8 + 0.2) in every row and column.
    assert udr_pair_score([[0.8, 0.2], [0.2, 0.8]]) == pytest.approx(0.64)
    # A zero column counts 0 (0/0): columns (1 + 0 + 0) / 3, the row 1 -> (1/3 + 1) / 2.
    assert udr_pair_score([[1.0, 0.0, 0.0]]) == pytest.approx(2 / 3)
    assert udr_pair_score(-np.eye(2)) == 1.0  # signs are dropped
    assert udr_pair_score(np.zeros((3, 3))) == 0.0
    assert udr_pair_score(np.zeros((0, 3))) == 0.0  # no active latent


def test_spearman_matrix_is_scipys_spearmanr():
    rng = np.random.RandomState(0)
    a = rng.normal(size=(300, 3))
    b = np.column_stack([np.exp(a[:, 1]), rng.normal(size=300), -a[:, 0] + 0.5 * a[:, 2]])
    b[:50, 1] = 0.0  # ties
    expected = np.array([[abs(scipy.stats.spearmanr(a[:, i], b[:, j])[0]) for j in range(3)]
                         for i in range(3)])
    np.testing.assert_array_equal(spearman_matrix(a, b), expected)
    assert spearman_matrix(a, b)[1, 0] == 1.0  # monotone
    # A constant column correlates 0 with everything (scipy: NaN).
    np.testing.assert_array_equal(spearman_matrix(a, np.zeros((300, 2))), np.zeros((3, 2)))


def test_lasso_matrix_is_the_transposed_absolute_weights():
    rng = np.random.RandomState(1)
    a = rng.normal(size=(200, 3))
    b = np.column_stack([2 * a[:, 0] - a[:, 2], rng.normal(size=200)])
    weights = Lasso(alpha=0.1).fit(a, b).coef_  # (targets, inputs)
    np.testing.assert_array_equal(lasso_matrix(a, b), np.abs(weights).T)
    assert lasso_matrix(a, b[:, :1]).shape == (3, 1)  # one target: sklearn squeezes
    # Standardised, exactly uncorrelated latents: each weight is 1 − α.
    codes = hadamard_codes()
    np.testing.assert_allclose(lasso_matrix(codes, codes), 0.9 * np.eye(3), atol=1e-12)
    np.testing.assert_allclose(lasso_matrix(codes, codes, alpha=0.3), 0.7 * np.eye(3),
                               atol=1e-12)


# ------------------------------------------------------------------ model scores
@pytest.mark.parametrize("correlation, expected", [("spearman", 1.0), ("lasso", 0.9)])
def test_a_permuted_sign_flipped_copy_scores_as_identical(correlation, expected):
    codes = hadamard_codes()
    result = compute_udr([codes, permuted_and_flipped(codes)], ones(2, 3),
                         correlation=correlation)
    np.testing.assert_allclose(result.pairwise[[0, 1], [1, 0]], expected, atol=1e-12)
    np.testing.assert_allclose(result.model_scores, expected, atol=1e-12)
    # On generic data too: the copy scores exactly like the model itself.
    z = np.random.RandomState(2).normal(size=(500, 4))
    same = compute_udr([z, z], ones(2, 4), correlation=correlation).model_scores
    flipped = compute_udr([z, permuted_and_flipped(z)], ones(2, 4),
                          correlation=correlation).model_scores
    np.testing.assert_allclose(flipped, same, rtol=1e-6)


@pytest.mark.parametrize("correlation", ["spearman", "lasso"])
def test_identical_representations_score_higher_than_unrelated_ones(correlation):
    rng = np.random.RandomState(3)
    z = rng.normal(size=(1000, 4))
    unrelated = rng.normal(size=(1000, 4))
    result = compute_udr([z, permuted_and_flipped(z), unrelated], ones(3, 4),
                         correlation=correlation)
    assert result.pairwise[0, 1] > 0.85 and result.pairwise[1, 0] > 0.85
    assert max(result.pairwise[2, 0], result.pairwise[0, 2]) < 0.1
    # Each model's score is the median (here the mean) of its two pairs.
    assert result.model_scores[0] == pytest.approx(
        (result.pairwise[1, 0] + result.pairwise[2, 0]) / 2)
    assert result.model_scores[2] < 0.1 < 0.4 < result.model_scores[0]


def test_model_score_is_the_median_of_its_column():
    rng = np.random.RandomState(4)
    z = rng.normal(size=(400, 4))
    half = np.column_stack([z[:, :2], rng.normal(size=(400, 2))])
    models = [z, permuted_and_flipped(z), half, rng.normal(size=(400, 4))]
    for correlation in ("spearman", "lasso"):
        result = compute_udr(models, ones(4, 4), correlation=correlation)
        # Model 0's pairs: the copy (high), half its latents (middle), noise (low).
        assert result.pairwise[1, 0] > result.pairwise[2, 0] > result.pairwise[3, 0]
        assert result.model_scores[0] == result.pairwise[2, 0]
        for j in range(4):
            column = np.delete(result.pairwise[:, j], j)
            assert result.model_scores[j] == np.median(column)
        assert np.isnan(np.diag(result.pairwise)).all()
    # Spearman pairs are symmetric; the Lasso regresses column model on row model.
    spearman = compute_udr(models, ones(4, 4))
    np.testing.assert_allclose(spearman.pairwise, spearman.pairwise.T, rtol=1e-14)
    mixed = np.column_stack([z[:, 0], z[:, 0] + z[:, 1], z[:, 2], z[:, 3]])
    lasso = compute_udr([z, mixed], ones(2, 4), correlation="lasso")
    assert abs(lasso.pairwise[0, 1] - lasso.pairwise[1, 0]) > 0.05
    assert lasso.model_scores.tolist() == [lasso.pairwise[1, 0], lasso.pairwise[0, 1]]


@pytest.mark.parametrize("correlation", ["spearman", "lasso"])
def test_inactive_latents_do_not_change_the_score(correlation):
    rng = np.random.RandomState(5)
    codes = hadamard_codes()
    # Two extra latents per model that carry noise but have KL below 0.01.
    padded_a = np.column_stack([codes, rng.normal(size=(8, 2))])
    padded_b = np.column_stack([rng.normal(size=(8, 2)), permuted_and_flipped(codes)])
    kl_a, kl_b = [1.0, 2.0, 0.5, 0.001, 0.01], [0.0, 0.009, 3.0, 0.02, 1.0]
    plain = compute_udr([codes, codes], ones(2, 3), correlation=correlation)
    padded = compute_udr([padded_a, padded_b], [kl_a, kl_b], correlation=correlation)
    np.testing.assert_allclose(padded.pairwise, plain.pairwise, atol=1e-12)
    np.testing.assert_allclose(padded.model_scores, plain.model_scores, atol=1e-12)
    assert [m.tolist() for m in padded.active] == [[True] * 3 + [False] * 2,
                                                  [False] * 2 + [True] * 3]
    # Unfiltered, they are zeroed and add 0 terms: 3 of 5 columns and rows score.
    unfiltered = compute_udr([padded_a, padded_b], [kl_a, kl_b], correlation=correlation,
                             filter_low_kl=False)
    np.testing.assert_allclose(unfiltered.pairwise[0, 1], 3 / 5 * plain.pairwise[0, 1],
                               atol=1e-12)


def test_a_model_without_active_latents_scores_zero():
    codes = hadamard_codes()
    result = compute_udr([codes, codes, codes], [np.ones(3), np.ones(3), np.zeros(3)])
    assert result.pairwise[0, 2] == result.pairwise[2, 0] == 0.0
    np.testing.assert_allclose(result.model_scores, [0.5, 0.5, 0.0], atol=1e-12)
    assert result.to_dict()["num_active_latents"] == [3, 3, 0]


def test_models_may_have_different_latent_sizes():
    codes = hadamard_codes(5)
    result = compute_udr([codes[:, :3], codes], ones(1, 3) + ones(1, 5))
    assert result.similarity[0][1].shape == (3, 5) and result.similarity[1][0].shape == (5, 3)
    # Columns: 3 of 5 match; rows: all 3 match -> (3/5 + 1) / 2.
    assert result.pairwise[0, 1] == pytest.approx(0.8)


def test_result_is_json_serialisable_and_reports_its_settings():
    codes = hadamard_codes()
    result = compute_udr(np.stack([codes, codes]), np.ones((2, 3)), correlation="lasso",
                         kl_threshold=0.05, lasso_alpha=0.2)
    assert isinstance(result, UDRResult)
    report = json.loads(json.dumps(result.to_dict(include_similarity=True)))
    assert report["settings"] == {"correlation": "lasso", "filter_low_kl": True,
                                  "kl_threshold": 0.05, "lasso_alpha": 0.2, "num_points": 8}
    assert report["pairwise"][0][0] is None and report["pairwise"][0][1] == pytest.approx(0.8)
    assert report["similarity"][1][1] is None and len(report["similarity"][0][1]) == 3
    assert "similarity" not in result.to_dict()


# ------------------------------------------------------------------ bad inputs
def one_line_error(callable_, *args, match, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        callable_(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_inputs_give_one_line_errors():
    z = np.random.RandomState(6).normal(size=(100, 3))
    one_line_error(compute_udr, [z], ones(1, 3), match=r"at least 2; received 1 representation")
    one_line_error(compute_udr, [z, z[:99]], ones(2, 3),
                   match=r"representations\[1\] has 99 points, representations\[0\] has 100")
    one_line_error(compute_udr, [z, z], [np.ones(3), [1.0, -0.5, 1.0]],
                   match=r"kl_divergences\[1\] must be >= 0.*received -0.5 at index 1")
    one_line_error(compute_udr, [z, z], [np.ones(3), np.ones(4)],
                   match=r"kl_divergences\[1\] must have shape \(3,\).*shape \(4,\)")
    one_line_error(compute_udr, [z, z], ones(3, 3), match="one array .* per model: 2 .* 3")
    one_line_error(compute_udr, [z, z[:, 0]], ones(2, 3),
                   match=r"representations\[1\] must have shape .*received shape \(100,\)")
    bad = z.copy()
    bad[3, 1] = np.nan
    one_line_error(compute_udr, [z, bad], ones(2, 3), match=r"representations\[1\] .*NaN")
    one_line_error(compute_udr, [z, z], ones(2, 3), correlation="pearson",
                   match="Unknown correlation 'pearson'; choose one of")
    one_line_error(compute_udr, [z, z], ones(2, 3), kl_threshold=-1,
                   match=r"kl_threshold must be .*Received: kl_threshold=-1")
    one_line_error(compute_udr, [z, z], ones(2, 3), lasso_alpha=0,
                   match=r"lasso_alpha must be .*> 0.*lasso_alpha=0")
    one_line_error(compute_udr, [z, z], ones(2, 3), filter_low_kl="yes",
                   match="filter_low_kl must be True or False.*'yes'")
    one_line_error(udr_pair_score, np.ones(3), match=r"2-D matrix.*shape \(3,\)")


def test_udr_bad_inputs_give_one_line_errors():
    model = BetaVAE(input_dim=8, encoding_dim=3)
    x = np.zeros((50, 8), "float32")
    one_line_error(udr, [model], x, 0, match=r"at least 2; received 1 model")
    one_line_error(udr, [model, "model"], x, 0, match=r"models\[1\] must be a BetaVAE.*str")
    one_line_error(udr, [model, model], x, 0,
                   match=r"x has 50 rows, fewer than num_data_points=1000")
    one_line_error(udr, [model, model], np.zeros((50, 5)), 0, num_data_points=20,
                   match=r"x has examples of shape \(5,\) but the model expects \(8,\)")
    one_line_error(udr, [model, model], x, None, num_data_points=20,
                   match="random_state must be")
    one_line_error(udr, [model, model], x, 0, num_data_points=1,
                   match="num_data_points must be an integer >= 2.*=1")
    one_line_error(udr, [model, model], x, 0, num_data_points=20, correlation="pearson",
                   match="Unknown correlation")


# ------------------------------------------------------------------ models
def test_udr_on_two_tiny_models_end_to_end():
    first, second = BetaVAE(input_dim=8, encoding_dim=3), BetaVAE(input_dim=8, encoding_dim=3)
    x = np.random.RandomState(7).normal(size=(300, 8)).astype("float32")

    result = udr([first, second], x, random_state=0, num_data_points=200)
    rows = np.sort(np.random.RandomState(0).choice(300, 200, replace=False))
    expected = compute_udr(
        [mean_representation(m)(x[rows]) for m in (first, second)],
        [kl_per_dimension(m, x[rows]) for m in (first, second)])
    np.testing.assert_allclose(result.pairwise, expected.pairwise, rtol=1e-6)
    np.testing.assert_allclose(result.model_scores, expected.model_scores, rtol=1e-6)
    assert result.settings["num_points"] == 200 and result.settings["correlation"] == "spearman"
    json.dumps(result.to_dict())

    # A model compared with itself agrees far more than two different random encoders.
    itself = udr([first, first], x, random_state=0, num_data_points=200)
    assert itself.model_scores[0] > result.model_scores[0] + 0.3

    # Seeded: the same rows again; all of x when num_data_points is None or len(x).
    again = udr([first, second], x, random_state=np.random.RandomState(0), num_data_points=200)
    np.testing.assert_array_equal(again.pairwise, result.pairwise)
    everything = udr([first, second], x, random_state=0, num_data_points=None,
                     correlation="lasso", batch_size=64)
    assert everything.settings["num_points"] == 300
    np.testing.assert_allclose(
        everything.pairwise,
        udr([first, second], x, random_state=1, num_data_points=300,
            correlation="lasso").pairwise, rtol=1e-6)


def test_docstring_examples_run():
    result = doctest.testmod(udr_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
