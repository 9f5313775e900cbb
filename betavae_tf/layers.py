"""Keras layers used by the β-VAE models."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from betavae_tf.losses import factor_vae_discriminator_loss, permute_dimensions
from betavae_tf.validation import check_float, check_int


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


class _AdamSavedByItsLayer(keras.optimizers.Adam):
    """An Adam whose variables are saved as the weights of the layer that owns it.

    Keras's `.h5` writer saves only layers' weights (and `model.optimizer`),
    so `TotalCorrelationDiscriminator` keeps this optimizer's variables among
    its own weights; `.keras` files would otherwise save them a second time
    when they reach the layer's optimizer attribute.
    """

    def save_own_variables(self, store):
        pass

    def load_own_variables(self, store):
        pass


@keras.saving.register_keras_serializable(package="betavae_tf")
class TotalCorrelationDiscriminator(keras.layers.Layer):
    """FactorVAE's discriminator, with the Adam that trains it (Kim & Mnih, 2018).

    An MLP, as disentanglement_lib's `fc_discriminator` (the paper's
    appendix A): `hidden_layers` Dense layers of `units` units, each followed
    by a leaky ReLU, then a Dense layer with 2 logits: class 0 "a code z
    drawn from q(z)", class 1 "a code drawn from the product of its marginals
    Π_j q(z_j)". `update` trains it on a batch of codes against their
    `betavae_tf.losses.permute_dimensions`, by its own Adam.

    The Adam belongs to the layer: its variables (iterations, moments) are
    also the layer's non-trainable weights, so every way a model holding the
    layer is saved (`.h5`, `.keras`, `save_weights`, `get_weights`) keeps the
    discriminator's training state. The layer is built as soon as it knows
    the latent size (`build((None, latent_dim))` or the first call).

    Args:
        units: width of each hidden layer, >= 1. Defaults to 1000.
        hidden_layers: number of hidden layers, >= 0. Defaults to 6.
        negative_slope: slope of the leaky ReLU below 0, >= 0. Defaults to
            0.2 (`tf.nn.leaky_relu`'s, which disentanglement_lib uses).
        learning_rate: the Adam's learning rate, > 0. Defaults to 1e-4.
        beta_1: the Adam's β1. Defaults to 0.5.
        beta_2: the Adam's β2. Defaults to 0.9.
        epsilon: the Adam's ε. Defaults to 1e-8 (the Adam settings are
            disentanglement_lib's `discriminator/AdamOptimizer`).
        seed: optional integer seeding the permutations `update` draws.
            Defaults to `None` (a fresh random seed).
        **kwargs: standard `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: float tensor of shape `(batch, latent_dim)`, codes.

    Returns:
        The logits, a float tensor of shape `(batch, 2)`.

    Example:
    >>> import numpy as np
    >>> discriminator = TotalCorrelationDiscriminator(units=8, hidden_layers=2, seed=0)
    >>> tuple(discriminator(np.zeros((4, 3), "float32")).shape)
    (4, 2)
    >>> loss = discriminator.update(np.random.default_rng(0).normal(size=(4, 3)).astype("float32"))
    >>> int(discriminator.optimizer.iterations)
    1
    """

    def __init__(self, units: int = 1000, hidden_layers: int = 6, negative_slope: float = 0.2,
                 learning_rate: float = 1e-4, beta_1: float = 0.5, beta_2: float = 0.9,
                 epsilon: float = 1e-8, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units)
        self.hidden_layers = check_int("hidden_layers", hidden_layers, minimum=0)
        self.negative_slope = check_float("negative_slope", negative_slope)
        self.learning_rate = check_float("learning_rate", learning_rate, exclusive_minimum=True)
        self.beta_1 = check_float("beta_1", beta_1, maximum=1.0, exclusive_maximum=True)
        self.beta_2 = check_float("beta_2", beta_2, maximum=1.0, exclusive_maximum=True)
        self.epsilon = check_float("epsilon", epsilon, exclusive_minimum=True)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.hidden = [keras.layers.Dense(self.units, name=f"d{i + 1}") for i in range(self.hidden_layers)]
        self.logits = keras.layers.Dense(2, name="logits")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.optimizer = _AdamSavedByItsLayer(
            learning_rate=self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
            epsilon=self.epsilon, name="discriminator_adam",
        )

    def build(self, input_shape):
        shape = (None, int(input_shape[-1]))
        for layer in self.hidden:
            layer.build(shape)
            shape = (None, self.units)
        self.logits.build(shape)
        self.optimizer.build(self.trainable_variables)
        # Tracked: the Adam's variables become this layer's non-trainable weights.
        self.optimizer_variables = list(self.optimizer.variables)

    def call(self, inputs):
        hidden = ops.cast(inputs, "float32")
        for layer in self.hidden:
            hidden = ops.leaky_relu(layer(hidden), negative_slope=self.negative_slope)
        return self.logits(hidden)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2)

    def loss(self, z):
        """The discriminator's cross-entropy on codes `z` against their
        dimension-wise permutation (`factor_vae_discriminator_loss`); draws
        one permutation. A scalar."""
        return factor_vae_discriminator_loss(self(z), self(permute_dimensions(z, self.seed_generator)))

    def update(self, z, training: bool = True):
        """One Adam step on `loss(z)` (only the loss with `training=False`).

        Args:
            z: float tensor `(batch, latent_dim)`, codes sampled from q(z|x);
                no gradient flows back into them.
            training: whether to take the step.

        Returns:
            The loss before the step, a scalar.
        """
        z = ops.stop_gradient(ops.cast(z, "float32"))
        if not training:
            return self.loss(z)
        with tf.GradientTape() as tape:
            loss = self.loss(z)
        weights = self.trainable_weights
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        return loss

    def get_config(self) -> dict:
        return {
            **super().get_config(), "units": self.units, "hidden_layers": self.hidden_layers,
            "negative_slope": self.negative_slope, "learning_rate": self.learning_rate,
            "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "seed": self.seed,
        }
