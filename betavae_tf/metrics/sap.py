"""SAP: the Separated Attribute Predictability score.

Reference: Kumar, Sattigeri and Balakrishnan, "Variational Inference of
Disentangled Latent Concepts from Unlabeled Observations", ICLR 2018;
implementation as disentanglement_lib's `evaluation/metrics/sap_score.py`
(Locatello et al., 2019).
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from betavae_tf.metrics import utils
from betavae_tf.validation import check_int


def sap(
    representation_fn,
    dataset,
    random_state,
    num_train: int = 10000,
    num_test: int = 5000,
    batch_size: int = 16,
    continuous_factors: bool = False,
) -> dict:
    """Mean gap in predictability between the two most predictive latents.

    1. Draw `num_train` and then `num_test` points with
       `generate_batch_factor_code` (codes `[num_points, num_latents]`).
    2. Score matrix `S` `[num_latents, num_factors]`: for discrete factors,
       the test accuracy of `sklearn.svm.LinearSVC(C=0.01,
       class_weight="balanced")` trained on the single latent `i` to predict
       factor `j`; for `continuous_factors=True`, the squared correlation
       `Cov(z_i, y_j)² / (Var z_i · Var y_j)` on the train points (0 where
       `Var z_i <= 1e-12`).
    3. SAP is the mean over factors of the difference between the two largest
       scores of the factor's column.

    Deviations from disentanglement_lib: the key is `"sap_score"` (theirs is
    `"SAP_score"`); a factor constant in the train sample is predicted as that
    constant instead of raising. The SVM runs scikit-learn's current
    `LinearSVC` defaults otherwise (`dual="auto"`, so the primal problem for
    these one-feature fits).

    Args:
        representation_fn: observations `[batch, *observation_shape]` ->
            codes `[batch, num_latents]` (NumPy), e.g. `mean_representation(model)`.
            Needs `num_latents >= 2`.
        dataset: a `GroundTruthData`, e.g. `DSprites()`.
        random_state: `np.random.RandomState` or integer seed.
        num_train: points to fit on. Defaults to 10000.
        num_test: points to test on (unused, but drawn, when
            `continuous_factors=True`, as in disentanglement_lib). Defaults to 5000.
        batch_size: points per `dataset.sample` call. Defaults to 16.
        continuous_factors: treat factors as continuous (correlation) instead of
            classes (SVM accuracy). Defaults to `False`.

    Returns:
        `{"sap_score": float}`.

    Example:
        >>> from betavae_tf.datasets import SyntheticFactors
        >>> data = SyntheticFactors(observation_dim=None)  # observations = factors
        >>> scores = sap(lambda x: x, data, 0, num_train=500, num_test=300)
        >>> scores["sap_score"] > 0.2
        True

    Reference: Kumar et al., 2018 (arXiv:1711.00848); disentanglement_lib
    `sap_score.py`.
    """
    num_train = check_int("num_train", num_train)
    num_test = check_int("num_test", num_test)
    batch_size = check_int("batch_size", batch_size)
    if not isinstance(continuous_factors, (bool, np.bool_)):
        raise ValueError(
            f"continuous_factors must be True or False. Received: "
            f"continuous_factors={continuous_factors!r}"
        )
    random_state = utils.check_random_state(random_state)
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, num_train, random_state, batch_size
    )
    codes_test, factors_test = utils.generate_batch_factor_code(
        dataset, representation_fn, num_test, random_state, batch_size
    )
    if codes.shape[1] < 2:
        raise ValueError(
            f"SAP needs at least 2 latent dimensions (it is the gap between the two most "
            f"predictive ones); the representation has {codes.shape[1]}."
        )
    scores = score_matrix(codes, factors, codes_test, factors_test, bool(continuous_factors))
    top_two = np.sort(scores, axis=0)[::-1][:2]
    return {"sap_score": float(np.mean(top_two[0] - top_two[1]))}


def score_matrix(codes, factors, codes_test, factors_test, continuous_factors: bool):
    """Predictability of each factor from each single latent: `[num_latents, num_factors]`."""
    num_latents, num_factors = codes.shape[1], factors.shape[1]
    scores = np.zeros((num_latents, num_factors))
    for i in range(num_latents):
        for j in range(num_factors):
            z, y = codes[:, i], factors[:, j]
            if continuous_factors:
                covariance = np.cov(z, y, ddof=1)
                if covariance[0, 0] > 1e-12 and covariance[1, 1] > 0:
                    scores[i, j] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
                continue
            classes = np.unique(y)
            if len(classes) == 1:
                prediction = np.full(len(factors_test), classes[0])
            else:
                classifier = LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(z[:, np.newaxis], y)
                prediction = classifier.predict(codes_test[:, i, np.newaxis])
            scores[i, j] = np.mean(prediction == factors_test[:, j])
    return scores
