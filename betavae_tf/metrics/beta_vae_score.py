"""The β-VAE disentanglement score.

Reference: Higgins et al., "β-VAE: Learning Basic Visual Concepts with a
Constrained Variational Framework", ICLR 2017; implementation as
disentanglement_lib's `evaluation/metrics/beta_vae.py` (Locatello et al., 2019).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from betavae_tf.metrics import utils
from betavae_tf.validation import check_int


def beta_vae_score(
    representation_fn,
    dataset,
    random_state,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
    max_iter: int = 5000,
) -> dict:
    """Accuracy of a linear classifier that tells which factor a batch shares.

    Each point: draw a factor index `k`, factors `f1, f2` `[batch_size,
    num_factors]` with `f2[:, k] = f1[:, k]`, their observations and codes
    `r1, r2` `[batch_size, num_latents]`; the point's feature is
    `mean(|r1 − r2|, axis=0)` `[num_latents]` and its label is `k`. A
    `sklearn.linear_model.LogisticRegression` is fitted on `num_train` points
    and scored on `num_eval` fresh ones. Chance level is `1 / num_factors`.

    Deviations from disentanglement_lib: it uses `LogisticRegression` with
    default parameters; scikit-learn's defaults changed since (now L-BFGS,
    multinomial, `max_iter=100`, which often stops before converging on
    unscaled codes), so here `max_iter` defaults to 5000 and is a parameter.
    Observations of many points go through `representation_fn` in one call
    (same random draws, faster; see `utils.OBSERVATIONS_PER_CALL`).

    Args:
        representation_fn: observations `[batch, *observation_shape]` ->
            codes `[batch, num_latents]` (NumPy), e.g. `mean_representation(model)`.
        dataset: a `GroundTruthData`, e.g. `DSprites()`.
        random_state: `np.random.RandomState` or integer seed.
        batch_size: pairs of observations averaged into one point. Defaults to 64.
        num_train: training points. Defaults to 10000.
        num_eval: evaluation points. Defaults to 5000.
        max_iter: L-BFGS iterations of the classifier. Defaults to 5000.

    Returns:
        `{"train_accuracy": float, "eval_accuracy": float}`.

    Example:
        >>> from betavae_tf.datasets import SyntheticFactors
        >>> data = SyntheticFactors(observation_dim=None)  # observations = factors
        >>> scores = beta_vae_score(lambda x: x, data, 0, batch_size=16,
        ...                         num_train=200, num_eval=100)
        >>> scores["eval_accuracy"] > 0.9
        True

    Reference: Higgins et al., 2017 (openreview.net/forum?id=Sy2fzU9gl);
    disentanglement_lib `beta_vae.py`.
    """
    utils.check_dataset(dataset)
    utils.check_representation_fn(representation_fn)
    batch_size = check_int("batch_size", batch_size)
    num_train = check_int("num_train", num_train)
    num_eval = check_int("num_eval", num_eval)
    max_iter = check_int("max_iter", max_iter)
    random_state = utils.check_random_state(random_state)

    train_points, train_labels = _generate_training_batch(
        dataset, representation_fn, batch_size, num_train, random_state
    )
    classifier = _fit(train_points, train_labels, max_iter)
    train_accuracy = np.mean(classifier(train_points) == train_labels)
    eval_points, eval_labels = _generate_training_batch(
        dataset, representation_fn, batch_size, num_eval, random_state,
        num_latents=train_points.shape[1],
    )
    eval_accuracy = np.mean(classifier(eval_points) == eval_labels)
    return {"train_accuracy": float(train_accuracy), "eval_accuracy": float(eval_accuracy)}


def _fit(points: np.ndarray, labels: np.ndarray, max_iter: int):
    """A predict function from `[n, num_latents]` features to factor indices."""
    classes = np.unique(labels)
    if len(classes) == 1:  # LogisticRegression needs two classes
        return lambda x: np.full(len(x), classes[0])
    model = LogisticRegression(max_iter=max_iter)
    model.fit(points, labels)
    return model.predict


def _generate_training_batch(dataset, representation_fn, batch_size, num_points,
                             random_state, num_latents=None):
    """`(points, labels)`: float64 `[num_points, num_latents]`, int64 `[num_points]`.

    Random draws per point in disentanglement_lib's order: index, factors1,
    factors2, observations1, observations2.
    """
    labels = np.zeros(num_points, dtype=np.int64)
    points = []
    chunk = max(1, utils.OBSERVATIONS_PER_CALL // (2 * batch_size))
    for start in range(0, num_points, chunk):
        groups = []
        for i in range(start, min(start + chunk, num_points)):
            index = utils.random_index(random_state, dataset.num_factors)
            factors1 = dataset.sample_factors(batch_size, random_state)
            factors2 = dataset.sample_factors(batch_size, random_state)
            factors2[:, index] = factors1[:, index]
            labels[i] = index
            groups.append(dataset.sample_observations_from_factors(factors1, random_state))
            groups.append(dataset.sample_observations_from_factors(factors2, random_state))
        codes = utils.represent_groups(representation_fn, groups, num_latents)
        num_latents = codes[0].shape[1]
        points.extend(np.mean(np.abs(r1 - r2), axis=0) for r1, r2 in zip(codes[::2], codes[1::2]))
    return np.stack(points), labels
