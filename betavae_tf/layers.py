"""Keras layers used by the β-VAE models."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="betavae_tf")
class Sampling(keras.layers.Layer):
    """Draws `z ~ N(z_mean, exp(z_log_var))` with the reparameterisation trick.

    `z = z_mean + exp(0.5 * z_log_var) * eps` with `eps ~ N(0, I)`, so the
    sample is a differentiable function of the encoder's outputs.

    Args:
        seed: Optional integer. Noise is drawn through a
            `keras.random.SeedGenerator` built from it, so two layers with the
            same seed draw the same sequence of `eps`. Defaults to `None`
            (a fresh random seed).
        **kwargs: Standard `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a pair `(z_mean, z_log_var)` of float tensors of shape
            `(batch, latent_dim)`.

    Returns:
        `z`, a float tensor of shape `(batch, latent_dim)`.

    Example:
    >>> import numpy as np
    >>> z = Sampling(seed=0)((np.zeros((2, 3)), np.zeros((2, 3))))
    >>> tuple(z.shape)
    (2, 3)
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(
            ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
        )
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="betavae_tf")
class LearnedLogVariance(keras.layers.Layer):
    """A trainable log-variance log σ² per feature, initialised to 0 (σ² = 1).

    `BetaVAE` holds one for the `"gaussian"` likelihood and passes the
    variable to the negative log-likelihood, so the variance is learned with
    the networks and saved with the model.

    Args:
        feature_shape: shape of one example, e.g. `(64,)` or `(28, 28, 1)`.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: float tensor of shape `(batch, *feature_shape)`.

    Returns:
        log σ² broadcast to the shape of `inputs`.
    """

    def __init__(self, feature_shape, **kwargs):
        super().__init__(**kwargs)
        self.feature_shape = tuple(int(d) for d in feature_shape)
        self.log_variance = self.add_weight(
            shape=self.feature_shape,
            initializer="zeros",
            trainable=True,
            name="log_variance",
        )
        self.built = True

    def call(self, inputs):
        return ops.broadcast_to(
            ops.cast(self.log_variance, inputs.dtype), ops.shape(inputs)
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "feature_shape": list(self.feature_shape)}
