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


@keras.saving.register_keras_serializable(package="betavae_tf")
class SpatialBroadcast(keras.layers.Layer):
    """Tiles a latent code over an image canvas and appends x/y coordinates.

    The first layer of a spatial broadcast decoder (Watters et al., 2019,
    "Spatial Broadcast Decoder"): every pixel sees the whole code plus its
    own position in [-1, 1], so per-pixel layers (1×1 convolutions) can draw
    objects at positions the code gives, which makes position easy to
    disentangle. It has no weights.

    Args:
        height: canvas height in pixels.
        width: canvas width in pixels.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: float tensor of shape `(batch, latent_dim)`.

    Returns:
        Float tensor of shape `(batch, height, width, latent_dim + 2)`; the
        last two channels are x (along the width) and y.
    """

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        if self.height < 1 or self.width < 1:
            raise ValueError(
                f"height and width must be >= 1. Received: height={height}, width={width}"
            )

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        tiled = ops.tile(inputs[:, None, None, :], (1, self.height, self.width, 1))
        x = ops.linspace(-1.0, 1.0, self.width)
        y = ops.linspace(-1.0, 1.0, self.height)
        grid = ops.stack(ops.meshgrid(x, y, indexing="xy"), axis=-1)  # (H, W, 2)
        grid = ops.tile(ops.cast(grid, inputs.dtype)[None], (batch, 1, 1, 1))
        return ops.concatenate([tiled, grid], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1] + 2)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width}
