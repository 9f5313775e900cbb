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
