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


def coordinate_grid(height: int, width: int, dtype="float32"):
    """The `(height, width, 2)` x/y coordinates in [-1, 1] that `SpatialBroadcast`
    appends: channel 0 is x (along the width), channel 1 is y."""
    x = ops.linspace(-1.0, 1.0, width)
    y = ops.linspace(-1.0, 1.0, height)
    grid = ops.stack(ops.meshgrid(x, y, indexing="xy"), axis=-1)  # (H, W, 2)
    return ops.cast(grid, dtype)


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
        grid = coordinate_grid(self.height, self.width, inputs.dtype)  # (H, W, 2)
        grid = ops.tile(grid[None], (batch, 1, 1, 1))
        return ops.concatenate([tiled, grid], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1] + 2)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width}


@tf.custom_gradient
def _broadcast_add(per_example, per_pixel):
    """`per_example[:, None, :] + per_pixel[None]`, `(B, F) + (P, F) -> (B, P, F)`.

    Its gradient sums the upstream `(B, P, F)` over the pixels and over the
    batch, the latter as a `(1, B) @ (B, P·F)` matrix product: TensorFlow's
    own gradient of the broadcast (`Sum` over axis 0) took three times as
    long on a CPU.
    """

    def gradient(upstream):
        batch = tf.shape(upstream)[0]
        ones = tf.ones(tf.stack([1, batch]), dtype=upstream.dtype)
        d_pixel = tf.matmul(ones, tf.reshape(upstream, tf.stack([batch, -1])))
        return tf.reduce_sum(upstream, axis=1), tf.reshape(d_pixel, tf.shape(per_pixel))

    return per_example[:, None, :] + per_pixel[None], gradient


class _PixelAffine(keras.layers.Layer):
    """Weights and configuration shared by `PixelDense` and `SpatialBroadcastDense`:
    those of `keras.layers.Conv2D(filters, 1, activation=...)`, a kernel of shape
    `(1, 1, channels, filters)` then a bias of shape `(filters,)`, created in
    that order with the same initialisers, so the layers take (and give)
    `Conv2D`'s weights with `set_weights` / `get_weights`."""

    def __init__(self, filters: int, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _add_conv_weights(self, channels: int) -> None:
        self.kernel = self.add_weight(
            name="kernel", shape=(1, 1, channels, self.filters),
            initializer=self.kernel_initializer, trainable=True,
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.filters,), initializer=self.bias_initializer, trainable=True,
        )

    def _activate(self, outputs):
        return outputs if self.activation is None else self.activation(outputs)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="betavae_tf")
class PixelDense(_PixelAffine):
    """A 1×1 convolution computed as one matrix product over every pixel.

    Computes what `keras.layers.Conv2D(filters, 1, activation=activation)`
    computes, with the same weights (see `SpatialBroadcastDense`), as
    `activation(reshape(inputs, (-1, channels)) @ kernel + bias)` reshaped
    back: one `MatMul` + `BiasAdd` (+ `Relu`), which TensorFlow fuses into
    a single oneDNN kernel on a CPU, where its 1×1 `Conv2D` is much slower
    for the thin maps of a spatial broadcast decoder (docs/speed.md).

    Args:
        filters: output channels, >= 1.
        activation: a Keras activation (name or function), or `None`
            (linear). Defaults to `None`.
        kernel_initializer, bias_initializer: as `Conv2D`'s. Default to
            `"glorot_uniform"` and `"zeros"`.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: float tensor of shape `(batch, ..., channels)`.

    Returns:
        Float tensor of shape `(batch, ..., filters)`.
    """

    def build(self, input_shape):
        self._add_conv_weights(int(input_shape[-1]))

    def call(self, inputs):
        channels = self.kernel.shape[-2]
        flat = ops.reshape(inputs, (-1, channels))  # (batch · pixels, channels)
        outputs = tf.matmul(flat, ops.reshape(self.kernel, (channels, self.filters)))
        if self.filters == 1:  # BiasAddGrad of one column is ~9× slower than AddV2's sum
            outputs = outputs + self.bias
        else:  # MatMul + BiasAdd (+ Relu): one fused oneDNN kernel
            outputs = tf.nn.bias_add(outputs, self.bias)
        outputs = self._activate(outputs)
        return tf.reshape(outputs, tf.concat([tf.shape(inputs)[:-1], [self.filters]], 0))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)


@keras.saving.register_keras_serializable(package="betavae_tf")
class SpatialBroadcastDense(_PixelAffine):
    """`SpatialBroadcast` followed by a 1×1 `Conv2D`, computed without the tiling.

    `Conv2D(filters, 1)(SpatialBroadcast(height, width)(z))` applies
    `kernel` to `concat(z, x, y)` at every pixel. The kernel splits into the
    rows for `z` (`W_z`) and for the coordinates (`W_c`), so the same
    numbers (up to float rounding) are

        activation(broadcast(z @ W_z + bias) + coordinates @ W_c)

    `z @ W_z + bias` is computed once per example `(batch, filters)` and
    `coordinates @ W_c` once per pixel `(height, width, filters)`, shared by
    the batch; their broadcast sum is the layer's only full-size tensor. The
    tiled `(batch, height, width, latent_dim + 2)` input is never built.

    Weights: a kernel of shape `(1, 1, latent_dim + 2, filters)` and a bias
    of shape `(filters,)`, created in that order with `Conv2D`'s default
    initialisers: exactly those of the `Conv2D` it replaces, so
    `set_weights(conv.get_weights())` (and back) moves a trained layer
    between the two forms. `betavae_tf.build_spatial_broadcast_decoder` uses
    it as the first per-pixel layer.

    Args:
        height: canvas height in pixels, >= 1.
        width: canvas width in pixels, >= 1.
        filters: output channels, >= 1.
        activation: a Keras activation (name or function), or `None`
            (linear). Defaults to `None`.
        kernel_initializer, bias_initializer: as `Conv2D`'s. Default to
            `"glorot_uniform"` and `"zeros"`.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: float tensor of shape `(batch, latent_dim)`.

    Returns:
        Float tensor of shape `(batch, height, width, filters)`.
    """

    def __init__(self, height: int, width: int, filters: int, activation=None, **kwargs):
        super().__init__(filters, activation, **kwargs)
        self.height, self.width = int(height), int(width)
        if self.height < 1 or self.width < 1:
            raise ValueError(
                f"height and width must be >= 1. Received: height={height}, width={width}"
            )

    def build(self, input_shape):
        self._add_conv_weights(int(input_shape[-1]) + 2)

    def call(self, inputs):
        latent_dim = self.kernel.shape[-2] - 2
        kernel = ops.reshape(self.kernel, (latent_dim + 2, self.filters))
        per_example = tf.nn.bias_add(tf.matmul(inputs, kernel[:latent_dim]), self.bias)  # (B, F)
        grid = ops.reshape(coordinate_grid(self.height, self.width, inputs.dtype), (-1, 2))
        per_pixel = tf.matmul(grid, kernel[latent_dim:])  # (H · W, F)
        outputs = self._activate(_broadcast_add(per_example, per_pixel))  # (B, H · W, F)
        return ops.reshape(outputs, (-1, self.height, self.width, self.filters))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.filters)

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
