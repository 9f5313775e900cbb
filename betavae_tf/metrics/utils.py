"""Shared pieces of the disentanglement metrics.

Conventions (as in google-research's disentanglement_lib, Locatello et al.,
2019, `evaluation/metrics/utils.py`, with one change of layout):

* A *representation function* maps observations `[batch, *observation_shape]`
  to codes `[batch, num_latents]` as a NumPy array. `mean_representation(model)`
  is the usual one: the posterior means `z_mean` of a `BetaVAE`.
* `random_state` is a `np.random.RandomState` (or a `np.random.Generator`), or
  an integer seed, which starts a fresh `np.random.RandomState(seed)`; the same
  seed gives exactly the same scores.
* Deviation: arrays are `[num_points, num_latents]` and
  `[num_points, num_factors]` (one row per point), where disentanglement_lib
  passes their transposes around.

Reference: Locatello et al., "Challenging Common Assumptions in the
Unsupervised Learning of Disentangled Representations", ICML 2019.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import sklearn.metrics

from betavae_tf.validation import check_int, check_random_state  # noqa: F401 (re-exported)

RepresentationFn = Callable[[np.ndarray], np.ndarray]

OBSERVATIONS_PER_CALL = 2048
"""About how many observations the metrics pass to `representation_fn` at once.

The metrics draw factors and observations in exactly disentanglement_lib's
order and sizes, but gather the observations of several draws into one call of
`representation_fn` (a conv net is much faster on 2048 images than on 32
calls of 64). Codes are assumed to depend on each observation alone.
"""


def random_index(random_state, high: int) -> int:
    """One uniform draw from `0 .. high - 1` (`RandomState.randint(high)` as in
    disentanglement_lib, or `Generator.integers(high)`)."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(high))
    return int(random_state.randint(high))


def check_dataset(dataset) -> None:
    """Raises unless `dataset` has the `GroundTruthData` interface."""
    needed = ("factor_sizes", "num_factors", "sample", "sample_factors",
              "sample_observations_from_factors")
    missing = [name for name in needed if not hasattr(dataset, name)]
    if missing:
        raise ValueError(
            f"dataset must be a betavae_tf.datasets.GroundTruthData (e.g. DSprites()); "
            f"{type(dataset).__name__} lacks {missing}."
        )


def check_representation_fn(representation_fn) -> None:
    if not callable(representation_fn):
        raise ValueError(
            "representation_fn must be a callable mapping observations to codes, e.g. "
            f"mean_representation(model). Received: {type(representation_fn).__name__}"
        )


def represent(representation_fn: RepresentationFn, observations: np.ndarray,
              num_latents: int | None = None) -> np.ndarray:
    """Calls `representation_fn` and checks what it returns.

    Args:
        representation_fn: observations `[batch, *observation_shape]` ->
            codes `[batch, num_latents]`.
        observations: array `[batch, *observation_shape]`.
        num_latents: the code size seen in earlier calls, if any.

    Returns:
        float64 array `[batch, num_latents]`.

    Raises:
        ValueError: if the codes are not 2-D with one row per observation, change
            size between calls, or hold NaN or Inf.
    """
    batch = len(observations)
    codes = representation_fn(observations)
    try:
        codes = np.asarray(keras.ops.convert_to_numpy(codes), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"representation_fn must return a numeric array of shape (batch, num_latents); "
            f"its output could not be read as one ({error})."
        ) from None
    if codes.ndim != 2 or codes.shape[0] != batch or codes.shape[1] < 1:
        raise ValueError(
            f"representation_fn must return codes of shape (batch, num_latents) with "
            f"num_latents >= 1, but for {batch} observations it returned shape "
            f"{codes.shape}; reshape its output, e.g. codes.reshape(len(x), -1)."
        )
    if num_latents is not None and codes.shape[1] != num_latents:
        raise ValueError(
            f"representation_fn returned {codes.shape[1]} latents after {num_latents} "
            "in an earlier call; it must always return the same number."
        )
    if not np.isfinite(codes).all():
        raise ValueError(
            "representation_fn returned NaN or Inf codes; check the model (did "
            "training diverge?)."
        )
    return codes


def represent_groups(representation_fn: RepresentationFn, groups: list[np.ndarray],
                     num_latents: int | None = None) -> list[np.ndarray]:
    """Codes of several observation arrays, computed in one call.

    Returns:
        A list of float64 arrays `[len(group), num_latents]`, one per group.
    """
    codes = represent(representation_fn, np.concatenate(groups), num_latents)
    return np.split(codes, np.cumsum([len(g) for g in groups])[:-1])


def mean_representation(model, batch_size: int = 256) -> RepresentationFn:
    """The posterior-mean representation of a `BetaVAE`.

    Args:
        model: a `BetaVAE` (anything with `encode(x) -> (z_mean, z_log_var)`).
        batch_size: observations per `model.encode` call. Defaults to 256.

    Returns:
        A function mapping observations `[batch, *feature_shape]` to the
        posterior means `z_mean`, a float32 NumPy array `[batch, encoding_dim]`
        (the encoder runs in inference mode, `training=False`).

    Example:
        >>> from betavae_tf import BetaVAE
        >>> model = BetaVAE(input_dim=8, encoding_dim=3)
        >>> represent = mean_representation(model)
        >>> represent(np.zeros((5, 8), "float32")).shape
        (5, 3)
    """
    if not callable(getattr(model, "encode", None)):
        raise ValueError(
            "model must be a BetaVAE (anything with encode(x) -> (z_mean, z_log_var)). "
            f"Received: {type(model).__name__}"
        )
    batch_size = check_int("batch_size", batch_size)
    z_mean = _CompiledZMean(model)

    def representation_fn(observations) -> np.ndarray:
        observations = np.asarray(observations)
        if not len(observations):
            raise ValueError("x holds no examples; pass at least one.")
        return np.concatenate([
            z_mean(observations[start : start + batch_size])
            for start in range(0, len(observations), batch_size)
        ])

    return representation_fn


class _CompiledZMean:
    """`model.encode(x, training=False)[0]` as a NumPy array, through one
    `tf.function` per observation shape and dtype.

    The metrics encode millions of observations in slices of `batch_size`;
    Keras's eager call of a functional model costs milliseconds of Python per
    slice, the traced graph a fraction of that. The slices are the same as
    `encode_in_batches`'s, and the graph runs the same kernels on them, so the
    codes are bit-identical (checked in tests/test_metrics_speed.py). Falls
    back to eager calls where TensorFlow is not the Keras backend or
    `model.encode` cannot be traced.
    """

    def __init__(self, model):
        self.model = model
        self.functions = {}
        self.eager = keras.backend.backend() != "tensorflow"

    def _eager(self, x) -> np.ndarray:
        return keras.ops.convert_to_numpy(self.model.encode(x, training=False)[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.eager:
            return self._eager(x)
        import tensorflow as tf

        key = (x.shape[1:], x.dtype.str)
        function = self.functions.get(key)
        if function is None:
            model = self.model
            try:
                spec = tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))
                function = tf.function(lambda t: model.encode(t, training=False)[0],
                                       input_signature=[spec])
                function.get_concrete_function()
            except Exception:  # not traceable (e.g. NumPy inside encode): stay eager
                self.eager = True
                return self._eager(x)
            self.functions[key] = function
        return function(x).numpy()


def encode_in_batches(model, x, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`(z_mean, z_log_var)` of `x` as float32 NumPy arrays `[n, encoding_dim]`."""
    x = np.asarray(x)
    means, log_vars = [], []
    for start in range(0, len(x), batch_size):
        z_mean, z_log_var = model.encode(x[start : start + batch_size], training=False)
        means.append(keras.ops.convert_to_numpy(z_mean))
        log_vars.append(keras.ops.convert_to_numpy(z_log_var))
    if not means:
        raise ValueError("x holds no examples; pass at least one.")
    return np.concatenate(means), np.concatenate(log_vars)


def generate_batch_factor_code(
    dataset,
    representation_fn: RepresentationFn,
    num_points: int,
    random_state,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Samples `num_points` factors, their observations and their codes.

    Draws `dataset.sample(batch_size, random_state)` repeatedly (the last draw
    smaller) exactly as disentanglement_lib's `generate_batch_factor_code`;
    observations of several draws go through `representation_fn` together
    (see `OBSERVATIONS_PER_CALL`).

    Args:
        dataset: a `GroundTruthData`.
        representation_fn: observations `[batch, *observation_shape]` -> codes
            `[batch, num_latents]`.
        num_points: number of points, >= 1.
        random_state: `np.random.RandomState` or integer seed.
        batch_size: points per `dataset.sample` call. Defaults to 16.

    Returns:
        `(codes, factors)`: float64 `[num_points, num_latents]` and int64
        `[num_points, num_factors]` (deviation: disentanglement_lib returns
        the transposes).
    """
    check_dataset(dataset)
    check_representation_fn(representation_fn)
    num_points = check_int("num_points", num_points)
    batch_size = check_int("batch_size", batch_size)
    random_state = check_random_state(random_state)
    codes, factors, pending, num_latents = [], [], [], None
    pending_size = 0
    done = 0
    while done < num_points:
        size = min(num_points - done, batch_size)
        batch_factors, observations = dataset.sample(size, random_state)
        factors.append(np.asarray(batch_factors, dtype=np.int64))
        pending.append(observations)
        pending_size += size
        done += size
        if pending_size >= OBSERVATIONS_PER_CALL or done == num_points:
            codes.append(represent(representation_fn, np.concatenate(pending), num_latents))
            num_latents = codes[-1].shape[1]
            pending, pending_size = [], 0
    return np.concatenate(codes), np.concatenate(factors)


def histogram_discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Discretises each latent into `num_bins` equal-width bins over its range.

    disentanglement_lib's `_histogram_discretize`: for each column,
    `np.digitize(values, np.histogram(values, num_bins)[1][:-1])`.

    Args:
        codes: float array `[num_points, num_latents]`.
        num_bins: bins per latent. Defaults to 20.

    Returns:
        int64 array `[num_points, num_latents]` with values in `1 .. num_bins`.
    """
    codes = np.asarray(codes, dtype=np.float64)
    discretized = np.zeros(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        edges = np.histogram(codes[:, i], num_bins)[1]
        discretized[:, i] = np.digitize(codes[:, i], edges[:-1])
    return discretized


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information (nats) of every (latent, factor) pair.

    Args:
        codes: discrete array `[num_points, num_latents]`.
        factors: discrete array `[num_points, num_factors]`.

    Returns:
        float64 array `[num_latents, num_factors]` of
        `sklearn.metrics.mutual_info_score(factors[:, j], codes[:, i])`.
    """
    return np.array([
        [sklearn.metrics.mutual_info_score(factors[:, j], codes[:, i])
         for j in range(factors.shape[1])]
        for i in range(codes.shape[1])
    ]).reshape(codes.shape[1], factors.shape[1])


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Empirical entropy (nats) of each factor: float64 `[num_factors]`,
    `mutual_info_score(factors[:, j], factors[:, j])`."""
    return np.array([
        sklearn.metrics.mutual_info_score(factors[:, j], factors[:, j])
        for j in range(factors.shape[1])
    ])
