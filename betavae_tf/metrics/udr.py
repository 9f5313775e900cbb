"""Unsupervised Disentanglement Ranking (UDR).

Reference: Duan, Matthey, Saraiva, Watters, Burgess, Lerchner and Higgins,
"Unsupervised Model Selection for Variational Disentangled Representation
Learning", ICLR 2020 (arXiv:1905.12614); implementation as
disentanglement_lib's `evaluation/udr/metrics/udr.py` (`compute_udr_sklearn`).

UDR needs no ground-truth factors. Its premise: a model that disentangles
finds the same axes on every run (up to permutation and sign), whereas
entangled models each find a different rotation. So UDR trains several models,
compares each pair latent by latent, and scores a model by how similar it is
to the others. It ranks models *of one study* against each other (the scores
of a model depend on which other models it is compared with); it is not a
property of one model alone.

Definitions (K models on the same N inputs, model k with D_k latents):

1. Representations `Z_k` `(N, D_k)`: the encoder means, each column
   standardised to mean 0 and variance 1 (`sklearn.preprocessing
   .StandardScaler`, population variance; a constant column is only centred).
   A latent is *active* when its mean KL to the prior, `KL_k[d]`, is
   `> kl_threshold`; inactive columns are set to 0.
2. Similarity `R` `(D_i, D_j)` of models i and j, rows model i's latents:
   * `"spearman"`: `R[a, b] = |Spearman rank correlation(Z_i[:, a], Z_j[:, b])|`
     (symmetric: `R_ji = R_ijᵀ`, up to rounding);
   * `"lasso"`: fit `sklearn.linear_model.Lasso(alpha=lasso_alpha)` (default
     0.1, all other settings sklearn's defaults) regressing `Z_j` on `Z_i`;
     `R[a, b] = |coef_[b, a]|`, the weight of model i's latent a in predicting
     model j's latent b (not symmetric; entries can exceed 1 when a model's
     latents are correlated with each other, and so can the pair score).
3. With `filter_low_kl` (the default) the rows and columns of inactive latents
   are dropped from `R`.
4. Pair score (`udr_pair_score`, disentanglement_lib's
   `relative_strength_disentanglement`), with `R` of shape `(m, n)`:
   `UDR_ij = ½ [ (1/n) Σ_b max_a R[a,b]² / Σ_a R[a,b]
               + (1/m) Σ_a max_b R[a,b]² / Σ_b R[a,b] ]`,
   a ratio with a zero denominator counting as 0. It is 1 for a permutation
   matrix, `c` for `c` times one, and `c / n` for an `n × n` matrix of `c`'s.
5. Model score: `UDR_j = median_{i ≠ j} UDR_ij` — the median over the pairs
   in which model j is the second model (the regression target for Lasso),
   i.e. over column j of the pairwise matrix.

The paper's form of step 4 (as we read it) weights each term by the binary
informativeness `I_KL(a) = [KL(a) > 0.01]` and normalises by
`1 / (d_i + d_j)`, the numbers of active latents, instead of averaging the
two means: `(1/(d_i+d_j)) [Σ_b I_KL(b) r_b² / Σ_a R[a,b] + Σ_a I_KL(a) r_a² /
Σ_b R[a,b]]`. Both agree when `d_i = d_j`; this module follows
disentanglement_lib's code, as above.

On the same representations and KLs, the similarity matrices, pair scores
and model scores equal disentanglement_lib's bit for bit (checked against its
`compute_udr_sklearn` with NumPy 2.4, SciPy 1.17, scikit-learn 1.9, Spearman
and Lasso, with and without the KL filter), outside the cases below.

Deviations from disentanglement_lib (none changes a score on inputs it
accepts, except where stated):

* The default similarity here is `"spearman"` (the paper's UDR_S);
  `compute_udr_sklearn`'s own default is `"lasso"` (UDR_L). Both shipped
  disentanglement_lib configurations (`config/tests/methods/udr/udr.gin` and
  `udr_spearman.gin`) set it explicitly. Pass `correlation="lasso"` for its
  default.
* A constant column (an inactive latent zeroed in step 1, or an active one
  whose mean never changes over the sample) has Spearman correlation 0 with
  everything here; `scipy.stats.spearmanr` returns NaN, and in
  disentanglement_lib a NaN in `R` turns every row and column that holds it
  into a 0 term of the pair score. This changes scores only with
  `filter_low_kl=False` and inactive latents, or when an active latent is
  constant over the sample.
* disentanglement_lib zeroes latents with KL <= 0.01 (hard-coded) but drops
  those with KL <= `kl_filter_threshold`; here both use `kl_threshold`, so
  results differ only when `kl_threshold != 0.01`.
* A pair in which either model has no active latent scores 0 here;
  disentanglement_lib raises (`max` of an empty array).
* The models may have different numbers of latents (disentanglement_lib
  asserts equal shapes).
* The diagonal of the pairwise matrix is NaN (disentanglement_lib: 0); the
  model scores never use it.
* `udr` takes models and an array `x` and samples `num_data_points` of its
  rows without replacement; disentanglement_lib draws observations from a
  ground-truth dataset (`sample_observations`, batch by batch). KL values a
  hair below 0 from float32 rounding are set to 0 before the check.
* The Lasso gets no `random_state`: with sklearn's default
  `selection="cyclic"` it has no randomness (disentanglement_lib passes one,
  unused).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np
import scipy.stats
from sklearn import linear_model, preprocessing

from betavae_tf.losses import kl_divergence_per_dimension
from betavae_tf.metrics import utils
from betavae_tf.validation import check_choice, check_float, check_int, validate_features

CORRELATIONS = ("spearman", "lasso")
"""The similarity measures between two models' latents."""


@dataclasses.dataclass(frozen=True)
class UDRResult:
    """What `compute_udr` and `udr` return.

    Attributes:
        model_scores: float64 `(num_models,)`, `UDR_j = median_{i≠j} pairwise[i, j]`.
        pairwise: float64 `(num_models, num_models)`, `pairwise[i, j] = UDR_ij`
            with model i's latents as rows of `R` (the Lasso's inputs) and
            model j's as columns (its targets); NaN on the diagonal.
        similarity: `similarity[i][j]` is `R` of models i and j, float64
            `(D_i, D_j)`, before inactive latents are dropped (
            disentanglement_lib's `raw_correlations`); `None` on the diagonal.
        active: `active[k]` is bool `(D_k,)`, `KL_k > kl_threshold`.
        settings: `{"correlation", "filter_low_kl", "kl_threshold",
            "lasso_alpha", "num_points"}` used.
    """

    model_scores: np.ndarray
    pairwise: np.ndarray
    similarity: list
    active: list
    settings: dict

    def to_dict(self, include_similarity: bool = False) -> dict:
        """Plain Python numbers, JSON-serialisable.

        Returns:
            `{"model_scores": [float] * K, "pairwise": [[float | None] * K] * K`
            (None on the diagonal)`, "num_active_latents": [int] * K,
            "active": [[bool] * D_k] * K, "settings": dict}`, plus
            `"similarity": [[None | [[float] * D_j] * D_i] * K] * K` if
            `include_similarity`.
        """
        pairwise = [[None if i == j else float(v) for j, v in enumerate(row)]
                    for i, row in enumerate(self.pairwise)]
        result = {
            "model_scores": [float(v) for v in self.model_scores],
            "pairwise": pairwise,
            "num_active_latents": [int(mask.sum()) for mask in self.active],
            "active": [[bool(v) for v in mask] for mask in self.active],
            "settings": dict(self.settings),
        }
        if include_similarity:
            result["similarity"] = [[None if r is None else r.tolist() for r in row]
                                    for row in self.similarity]
        return result


def udr_pair_score(similarity) -> float:
    """UDR of one pair of models from their similarity matrix `R` `(m, n)`.

    `½ [mean_b (max_a R[a,b])² / Σ_a R[a,b] + mean_a (max_b R[a,b])² / Σ_b R[a,b]]`
    on `|R|`, a ratio whose denominator is 0 counting as 0
    (disentanglement_lib's `relative_strength_disentanglement`). Each ratio is
    the largest entry of its column (row) times its share of the column's
    total, so it rewards one strong match per latent.

    Args:
        similarity: array `(m, n)`, model i's latents by model j's.

    Returns:
        A float in [0, max |R|]; 0 for an empty matrix (deviation:
        disentanglement_lib raises).

    Example:
        >>> udr_pair_score(np.eye(2)), udr_pair_score(np.full((2, 2), 0.5))
        (1.0, 0.25)
    """
    matrix = np.abs(np.asarray(similarity, dtype=np.float64))
    if matrix.ndim != 2:
        raise ValueError(
            f"similarity must be a 2-D matrix (latents of model i, latents of model j); "
            f"received shape {matrix.shape}."
        )
    if matrix.size == 0:
        return 0.0
    return float((_relative_strength(matrix, 0) + _relative_strength(matrix, 1)) / 2)


def _relative_strength(matrix: np.ndarray, axis: int) -> float:
    strongest = np.power(np.max(matrix, axis=axis), 2)
    total = np.sum(matrix, axis=axis)
    ratios = np.divide(strongest, total, out=np.zeros_like(total), where=total > 0)
    return np.mean(ratios)


def spearman_matrix(codes_a, codes_b) -> np.ndarray:
    """`|Spearman rank correlation|` of every pair of columns.

    Computed as `scipy.stats.spearmanr` computes it for two columns (average
    ranks, then `np.corrcoef` of the two), so the numbers agree with
    disentanglement_lib's `spearman_correlation_conv` to the last bit.

    Args:
        codes_a: array `(num_points, D_a)`.
        codes_b: array `(num_points, D_b)`.

    Returns:
        float64 `(D_a, D_b)`; 0 where a column is constant (deviation:
        `scipy.stats.spearmanr` returns NaN).
    """
    return _spearman_pair(_Ranks(codes_a), _Ranks(codes_b))[0]


class _Ranks:
    """Average ranks of each column, and which columns are constant."""

    def __init__(self, codes):
        self.ranks = scipy.stats.rankdata(np.asarray(codes, dtype=np.float64), axis=0)
        self.constant = np.ptp(self.ranks, axis=0) == 0


def _spearman_pair(first: _Ranks, second: _Ranks) -> tuple[np.ndarray, np.ndarray]:
    """`(R, R_reverse)`: `R[a, b] = |spearmanr(first[:, a], second[:, b])|` and
    `R_reverse[b, a] = |spearmanr(second[:, b], first[:, a])|`, from one
    `np.corrcoef` per pair of columns (scipy's `spearmanr` returns its `[1, 0]`
    entry; the reverse order's is this one's `[0, 1]`)."""
    size_a, size_b = first.ranks.shape[1], second.ranks.shape[1]
    forward, reverse = np.zeros((size_a, size_b)), np.zeros((size_b, size_a))
    for a in np.flatnonzero(~first.constant):
        for b in np.flatnonzero(~second.constant):
            pair = np.column_stack((first.ranks[:, a], second.ranks[:, b]))
            correlation = np.corrcoef(pair, rowvar=False)
            forward[a, b] = abs(correlation[1, 0])
            reverse[b, a] = abs(correlation[0, 1])
    return forward, reverse


def lasso_matrix(codes_a, codes_b, alpha: float = 0.1) -> np.ndarray:
    """`|Lasso weights|` of a regression of `codes_b` on `codes_a`.

    One `sklearn.linear_model.Lasso(alpha=alpha)` (sklearn's other defaults:
    intercept, 1000 iterations, tolerance 1e-4, cyclic coordinate descent)
    fits every column of `codes_b` on all columns of `codes_a`.

    Args:
        codes_a: array `(num_points, D_a)`, the inputs.
        codes_b: array `(num_points, D_b)`, the targets.
        alpha: the L1 penalty. Defaults to 0.1 (disentanglement_lib's).

    Returns:
        float64 `(D_a, D_b)`: `[a, b]` is `|weight of a in predicting b|`.
    """
    codes_a = np.asarray(codes_a, dtype=np.float64)
    codes_b = np.asarray(codes_b, dtype=np.float64)
    model = linear_model.Lasso(alpha=alpha).fit(codes_a, codes_b)
    weights = np.reshape(model.coef_, (codes_b.shape[1], codes_a.shape[1]))
    return np.abs(weights).T


def compute_udr(
    representations: Sequence,
    kl_divergences: Sequence,
    correlation: str = "spearman",
    filter_low_kl: bool = True,
    kl_threshold: float = 0.01,
    lasso_alpha: float = 0.1,
) -> UDRResult:
    """UDR scores of K models from their representations of the same inputs.

    See the module docstring for the definitions and the deviations from
    disentanglement_lib.

    Args:
        representations: K >= 2 arrays `(num_points, D_k)`, the encoder means
            `z_mean` of model k on the same `num_points >= 2` inputs, in the
            same order.
        kl_divergences: K arrays `(D_k,)`, each latent's KL to the prior
            averaged over the inputs (nats, >= 0), e.g. `kl_per_dimension`.
        correlation: `"spearman"` (default; the paper's UDR_S) or `"lasso"`
            (UDR_L, disentanglement_lib's default).
        filter_low_kl: drop inactive latents (KL <= `kl_threshold`) from the
            similarity matrices before scoring. Defaults to True. Inactive
            latents are zeroed either way; unfiltered, they add 0 terms.
        kl_threshold: a latent is active if its KL is `> kl_threshold`.
            Defaults to 0.01.
        lasso_alpha: L1 penalty of the `"lasso"` similarity. Defaults to 0.1.

    Returns:
        A `UDRResult` (`model_scores` `(K,)`, `pairwise` `(K, K)`,
        `similarity`, `active`, `settings`; `.to_dict()` for JSON).

    Raises:
        ValueError: fewer than 2 models, arrays of the wrong shape, different
            numbers of points, NaN/Inf, a negative KL, or a bad setting.

    Example:
        >>> rng = np.random.RandomState(0)
        >>> z = rng.normal(size=(500, 3))
        >>> flipped = -z[:, [2, 0, 1]]  # the same latents, permuted and negated
        >>> noise = rng.normal(size=(500, 3))
        >>> result = compute_udr([z, flipped, noise], [np.ones(3)] * 3)
        >>> round(float(result.pairwise[0, 1]), 2), round(float(result.pairwise[0, 2]), 2)
        (0.95, 0.03)
        >>> np.round(result.model_scores, 2).tolist()  # the median of 2 pairs is their mean
        [0.49, 0.49, 0.03]

        The copy scores 0.95, not 1: the chance correlations (about 1/√N) of
        its unrelated latents add to the sums. The Lasso's penalty sets them to
        0 and shrinks each match to `1 - lasso_alpha`:

        >>> lasso = compute_udr([z, flipped, noise], [np.ones(3)] * 3, correlation="lasso")
        >>> np.round(lasso.pairwise[0, 1:], 2).tolist()
        [0.9, 0.0]
    """
    correlation = check_choice("correlation", correlation, CORRELATIONS)
    if not isinstance(filter_low_kl, (bool, np.bool_)):
        raise ValueError(
            f"filter_low_kl must be True or False. Received: filter_low_kl={filter_low_kl!r}"
        )
    kl_threshold = check_float("kl_threshold", kl_threshold)
    lasso_alpha = check_float("lasso_alpha", lasso_alpha, exclusive_minimum=True)
    codes, kls = _check_inputs(representations, kl_divergences)
    num_models, num_points = len(codes), codes[0].shape[0]

    active = [kl > kl_threshold for kl in kls]
    scaled = [preprocessing.StandardScaler().fit_transform(c) * mask
              for c, mask in zip(codes, active)]

    similarity = [[None] * num_models for _ in range(num_models)]
    if correlation == "spearman":
        ranks = [_Ranks(c) for c in scaled]
        for i in range(num_models):
            for j in range(i + 1, num_models):
                similarity[i][j], similarity[j][i] = _spearman_pair(ranks[i], ranks[j])
    else:
        for i in range(num_models):
            for j in range(num_models):
                if i != j:
                    similarity[i][j] = lasso_matrix(scaled[i], scaled[j], lasso_alpha)

    pairwise = np.full((num_models, num_models), np.nan)
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            matrix = similarity[i][j]
            if filter_low_kl:
                matrix = matrix[active[i]][:, active[j]]
            pairwise[i, j] = udr_pair_score(matrix)

    model_scores = np.array([
        np.median(np.delete(pairwise[:, j], j)) for j in range(num_models)
    ])
    settings = {
        "correlation": correlation,
        "filter_low_kl": bool(filter_low_kl),
        "kl_threshold": kl_threshold,
        "lasso_alpha": lasso_alpha,
        "num_points": int(num_points),
    }
    return UDRResult(model_scores, pairwise, similarity, active, settings)


def _check_inputs(representations, kl_divergences):
    if isinstance(representations, np.ndarray) and representations.ndim == 3:
        representations = list(representations)
    if not isinstance(representations, Sequence):
        raise ValueError(
            "representations must be a list of arrays (num_points, num_latents), one per "
            f"model. Received: {type(representations).__name__}"
        )
    if len(representations) < 2:
        raise ValueError(
            "UDR compares models with each other and needs at least 2; received "
            f"{len(representations)} representation(s)."
        )
    if isinstance(kl_divergences, np.ndarray) and kl_divergences.ndim == 2:
        kl_divergences = list(kl_divergences)
    if not isinstance(kl_divergences, Sequence) or len(kl_divergences) != len(representations):
        count = len(kl_divergences) if isinstance(kl_divergences, Sequence) else None
        raise ValueError(
            f"kl_divergences must hold one array (num_latents,) per model: "
            f"{len(representations)} for {len(representations)} representations. "
            f"Received: {count if count is not None else type(kl_divergences).__name__}"
        )
    codes, kls = [], []
    for k, (rep, kl) in enumerate(zip(representations, kl_divergences)):
        rep = _float_array(rep, f"representations[{k}]")
        if rep.ndim != 2 or rep.shape[0] < 2 or rep.shape[1] < 1:
            raise ValueError(
                f"representations[{k}] must have shape (num_points, num_latents) with "
                f"num_points >= 2 and num_latents >= 1; received shape {rep.shape}."
            )
        if codes and rep.shape[0] != codes[0].shape[0]:
            raise ValueError(
                f"Every representation must be of the same inputs: representations[{k}] "
                f"has {rep.shape[0]} points, representations[0] has {codes[0].shape[0]}."
            )
        kl = _float_array(kl, f"kl_divergences[{k}]")
        if kl.shape != (rep.shape[1],):
            raise ValueError(
                f"kl_divergences[{k}] must have shape ({rep.shape[1]},), one value per "
                f"latent of representations[{k}]; received shape {kl.shape}."
            )
        if (kl < 0).any():
            index = int(np.argmax(kl < 0))
            raise ValueError(
                f"kl_divergences[{k}] must be >= 0 (a KL divergence); received "
                f"{float(kl[index])!r} at index {index}."
            )
        codes.append(rep)
        kls.append(kl)
    return codes, kls


def _float_array(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
    except (TypeError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise ValueError(f"{name} could not be read as a float array ({reason}).") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or Inf; check the model (did training diverge?).")
    return array


def udr(
    models: Sequence,
    x,
    random_state,
    num_data_points: int | None = 1000,
    batch_size: int = 256,
    correlation: str = "spearman",
    filter_low_kl: bool = True,
    kl_threshold: float = 0.01,
    lasso_alpha: float = 0.1,
) -> UDRResult:
    """UDR scores of trained models (e.g. `BetaVAE`s) on inputs `x`.

    Draws `num_data_points` rows of `x` without replacement (all of `x` if it
    has exactly that many, or if `num_data_points` is None), encodes them with
    every model (`model.encode(x, training=False)`, `batch_size` rows per
    call), and passes the means `z_mean` `(num_data_points, D_k)` and the mean
    KL per latent `(D_k,)` (`kl_per_dimension` of the same rows; values a hair
    below 0 from float32 rounding set to 0) to `compute_udr`.

    Args:
        models: K >= 2 models with `encode(x) -> (z_mean, z_log_var)`, all
            taking examples of `x`'s shape (their latent sizes may differ).
        x: array `(n, *feature_shape)`, the inputs, e.g. held-out data.
        random_state: `np.random.RandomState`, `np.random.Generator` or an
            integer seed; used only to choose the rows.
        num_data_points: rows to use. Defaults to 1000 (disentanglement_lib's
            `udr_sklearn.num_data_points` in its shipped configurations);
            None uses all of `x`.
        batch_size: rows per encoder call; it does not change the scores.
            Defaults to 256 (disentanglement_lib's configurations encode 10 at
            a time).
        correlation, filter_low_kl, kl_threshold, lasso_alpha: as in
            `compute_udr`.

    Returns:
        A `UDRResult` (its `settings["num_points"]` is the number of rows used).

    Raises:
        ValueError: fewer than 2 models, something without `encode`, `x` of
            the wrong shape or with fewer rows than `num_data_points`, or a
            bad setting.

    Example:
        >>> from betavae_tf import BetaVAE
        >>> models = [BetaVAE(input_dim=8, encoding_dim=3) for _ in range(2)]
        >>> x = np.random.RandomState(0).normal(size=(200, 8)).astype("float32")
        >>> result = udr(models, x, random_state=0, num_data_points=100)
        >>> result.model_scores.shape, result.pairwise.shape
        ((2,), (2, 2))
    """
    if isinstance(models, np.ndarray) or not isinstance(models, Sequence):
        raise ValueError(
            f"models must be a list of BetaVAE models. Received: {type(models).__name__}"
        )
    if len(models) < 2:
        raise ValueError(
            f"UDR compares models with each other and needs at least 2; received "
            f"{len(models)} model(s)."
        )
    for k, model in enumerate(models):
        if isinstance(model, (str, bytes)) or not callable(getattr(model, "encode", None)):
            raise ValueError(
                f"models[{k}] must be a BetaVAE (anything with encode(x) -> (z_mean, "
                f"z_log_var)). Received: {type(model).__name__}"
            )
    batch_size = check_int("batch_size", batch_size)
    if num_data_points is not None:
        num_data_points = check_int("num_data_points", num_data_points, minimum=2)
    # Validate the settings before encoding anything.
    check_choice("correlation", correlation, CORRELATIONS)
    random_state = utils.check_random_state(random_state)

    x = _choose_rows(x, num_data_points, random_state)
    representations, kls = [], []
    for model in models:
        features = validate_features(x, name="x", min_examples=2,
                                     feature_shape=getattr(model, "feature_shape", None))
        z_mean, z_log_var = utils.encode_in_batches(model, features, batch_size)
        kl = keras.ops.convert_to_numpy(kl_divergence_per_dimension(z_mean, z_log_var))
        representations.append(np.asarray(z_mean, dtype=np.float64))
        kls.append(np.maximum(np.asarray(kl, dtype=np.float64).mean(axis=0), 0.0))
    return compute_udr(representations, kls, correlation=correlation,
                       filter_low_kl=filter_low_kl, kl_threshold=kl_threshold,
                       lasso_alpha=lasso_alpha)


def _choose_rows(x, num_data_points, random_state):
    if not hasattr(x, "shape") or not hasattr(x, "__getitem__"):
        x = np.asarray(x)
    if len(x.shape) < 2:
        raise ValueError(
            f"x must have shape (examples, features...), but it has shape {tuple(x.shape)}."
        )
    num_rows = int(x.shape[0])
    if num_data_points is None or num_rows == num_data_points:
        return x
    if num_rows < num_data_points:
        raise ValueError(
            f"x has {num_rows} rows, fewer than num_data_points={num_data_points}; pass "
            f"num_data_points={num_rows} (or None) to use them all."
        )
    rows = random_state.choice(num_rows, num_data_points, replace=False)
    return x[np.sort(rows)]
