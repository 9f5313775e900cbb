"""The FactorVAE disentanglement score.

Reference: Kim and Mnih, "Disentangling by Factorising", ICML 2018;
implementation as disentanglement_lib's `evaluation/metrics/factor_vae.py`
(Locatello et al., 2019).
"""

from __future__ import annotations

import numpy as np

from betavae_tf.metrics import utils
from betavae_tf.validation import check_float, check_int


def factor_vae_score(
    representation_fn,
    dataset,
    random_state,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
    num_variance_estimate: int = 10000,
    prune_threshold: float = 0.05,
) -> dict:
    """Accuracy of a majority-vote classifier over least-variance latents.

    1. Global variances `[num_latents]` of the codes of
       `num_variance_estimate` random observations (`np.var(..., ddof=1)`);
       latents whose global standard deviation is below `prune_threshold` are
       pruned (disentanglement_lib's `_prune_dims` with the threshold 0.05
       of its metric configuration).
    2. Each vote: draw a factor index `k`, `batch_size` factor combinations
       all sharing the first one's factor `k`, and their codes
       `[batch_size, num_latents]`; each code divided by its global standard
       deviation, the active latent of least variance (`ddof=1`) votes for `k`.
    3. The classifier maps each latent to the factor it got most train votes
       for (`argmax` over the `[num_factors, num_active_dims]` vote matrix);
       accuracies are the share of train / eval votes it gets right.

    Chance level is about `1 / num_factors`. With no active latent all
    scores are 0.

    Deviations from disentanglement_lib: `num_active_dims` is the number of
    active latents (disentanglement_lib reports `len()` of the boolean mask,
    i.e. all latents); `batch_size >= 2` is required (a variance needs two
    codes). Observations of many votes go through `representation_fn` in one
    call (same random draws, faster).

    Args:
        representation_fn: observations `[batch, *observation_shape]` ->
            codes `[batch, num_latents]` (NumPy), e.g. `mean_representation(model)`.
        dataset: a `GroundTruthData`, e.g. `DSprites()`.
        random_state: `np.random.RandomState` or integer seed.
        batch_size: observations per vote, >= 2. Defaults to 64.
        num_train: train votes. Defaults to 10000.
        num_eval: eval votes. Defaults to 5000.
        num_variance_estimate: observations for the global variances, >= 2.
            Defaults to 10000.
        prune_threshold: latents with global std below it are inactive.
            Defaults to 0.05.

    Returns:
        `{"train_accuracy": float, "eval_accuracy": float, "num_active_dims": int}`.

    Example:
        >>> from betavae_tf.datasets import SyntheticFactors
        >>> data = SyntheticFactors(observation_dim=None)  # observations = factors
        >>> factor_vae_score(lambda x: x, data, 0, batch_size=16, num_train=100,
        ...                  num_eval=50, num_variance_estimate=200)
        {'train_accuracy': 1.0, 'eval_accuracy': 1.0, 'num_active_dims': 3}

    Reference: Kim and Mnih, 2018 (arXiv:1802.05983); disentanglement_lib
    `factor_vae.py`.
    """
    utils.check_dataset(dataset)
    utils.check_representation_fn(representation_fn)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    num_train = check_int("num_train", num_train)
    num_eval = check_int("num_eval", num_eval)
    num_variance_estimate = check_int("num_variance_estimate", num_variance_estimate, minimum=2)
    prune_threshold = check_float("prune_threshold", prune_threshold)
    random_state = utils.check_random_state(random_state)

    global_variances = _compute_variances(
        dataset, representation_fn, num_variance_estimate, random_state
    )
    active_dims = np.sqrt(global_variances) >= prune_threshold
    if not active_dims.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}

    def votes(num_points):
        return _generate_votes(dataset, representation_fn, batch_size, num_points,
                               random_state, global_variances, active_dims)

    train_votes = votes(num_train)
    classifier = np.argmax(train_votes, axis=0)  # [num_active_dims] -> factor
    columns = np.arange(train_votes.shape[1])
    train_accuracy = train_votes[classifier, columns].sum() / train_votes.sum()
    eval_votes = votes(num_eval)
    eval_accuracy = eval_votes[classifier, columns].sum() / eval_votes.sum()
    return {
        "train_accuracy": float(train_accuracy),
        "eval_accuracy": float(eval_accuracy),
        "num_active_dims": int(active_dims.sum()),
    }


def _compute_variances(dataset, representation_fn, num_points, random_state) -> np.ndarray:
    """Variances `[num_latents]` (`ddof=1`) of the codes of `num_points` observations.

    Like disentanglement_lib, all factors are drawn first, then the
    observations; here the observations are drawn and encoded in chunks.
    """
    factors = dataset.sample_factors(num_points, random_state)
    codes, num_latents = [], None
    for start in range(0, num_points, utils.OBSERVATIONS_PER_CALL):
        observations = dataset.sample_observations_from_factors(
            factors[start : start + utils.OBSERVATIONS_PER_CALL], random_state
        )
        codes.append(utils.represent(representation_fn, observations, num_latents))
        num_latents = codes[-1].shape[1]
    return np.var(np.concatenate(codes), axis=0, ddof=1)


def _generate_votes(dataset, representation_fn, batch_size, num_points, random_state,
                    global_variances, active_dims) -> np.ndarray:
    """Vote counts, int64 `[num_factors, num_active_dims]`.

    Random draws per vote in disentanglement_lib's order: index, factors,
    observations.
    """
    votes = np.zeros((dataset.num_factors, int(active_dims.sum())), dtype=np.int64)
    num_latents = len(global_variances)
    chunk = max(1, utils.OBSERVATIONS_PER_CALL // batch_size)
    for start in range(0, num_points, chunk):
        indices, groups = [], []
        for _ in range(start, min(start + chunk, num_points)):
            index = utils.random_index(random_state, dataset.num_factors)
            factors = dataset.sample_factors(batch_size, random_state)
            factors[:, index] = factors[0, index]
            indices.append(index)
            groups.append(dataset.sample_observations_from_factors(factors, random_state))
        for index, codes in zip(indices, utils.represent_groups(representation_fn, groups,
                                                                 num_latents)):
            local_variances = np.var(codes, axis=0, ddof=1)
            ratios = local_variances[active_dims] / global_variances[active_dims]
            votes[index, np.argmin(ratios)] += 1
    return votes
