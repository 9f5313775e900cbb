"""What the pictures ask of a model: checked inputs and batched predictions.

Inputs may be NumPy arrays or tensors — the outputs of `model.encode` and
`model.sample` as well as those of `model.predict`.
"""

from __future__ import annotations

import keras
import numpy as np

from betavae_tf.metrics.utils import encode_in_batches
from betavae_tf.plots.display import as_numpy
from betavae_tf.validation import validate_features

DEFAULT_BATCH_SIZE = 256


def check_examples(model, x, name: str) -> np.ndarray:
    """`x` as float32 `(n, *model.feature_shape)`, n >= 1, or a one-line error."""
    return validate_features(as_numpy(x), name=name, feature_shape=model.feature_shape)


def with_batch_axis(model, x, name: str) -> np.ndarray:
    """Adds the batch axis to a single example of shape `model.feature_shape`."""
    array = as_numpy(x)
    feature_shape = tuple(model.feature_shape)
    if array.ndim == len(feature_shape):
        if array.shape != feature_shape:
            raise ValueError(
                f"{name} has shape {array.shape} but the model expects examples of "
                f"shape {feature_shape}; pass one example or a batch (n, *{feature_shape})."
            )
        array = array[None]
    return array


def check_one_example(model, x, name: str) -> np.ndarray:
    """One example, given as `feature_shape` or `(1, *feature_shape)`, as `(1, ...)`."""
    array = check_examples(model, with_batch_axis(model, x, name), name)
    if len(array) != 1:
        raise ValueError(
            f"{name} must be one example of shape {tuple(model.feature_shape)}, but "
            f"it has {len(array)} examples; pass e.g. {name}=x[0]."
        )
    return array


def encode_means(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Latent means `(n, encoding_dim)` of examples `(n, *feature_shape)`."""
    return encode_in_batches(model, x, batch_size)[0]


def decode(model, z: np.ndarray, batch_size: int) -> np.ndarray:
    """Mean reconstructions `(n, *feature_shape)` of latents `(n, encoding_dim)`."""
    z = np.asarray(z, dtype=np.float32)
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(model.decode(z[start : start + batch_size], training=False))
            for start in range(0, len(z), batch_size)
        ]
    )


def prior_samples(model, n: int, seed: int | None, batch_size: int) -> np.ndarray:
    """Same draws as `model.sample(n, seed)`, decoded in batches: `(n, *feature_shape)`."""
    if seed is None:
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(model.sample(min(batch_size, n - start)))
                for start in range(0, n, batch_size)
            ]
        )
    z = keras.random.normal((n, model.encoding_dim), seed=seed)
    return decode(model, keras.ops.convert_to_numpy(z), batch_size)
