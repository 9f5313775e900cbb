"""Encoder and decoder networks that plug into `BetaVAE`.

An encoder is any Keras model mapping `x` to `[z_mean, z_log_var]`; a decoder
maps `z` to the raw parameters of the reconstruction likelihood (for `"mse"`
and `"gaussian"` the mean reconstruction, for `"bernoulli"` the logits).
There are dense networks (those of the original Keras β-VAE) for feature vectors and
convolutional ones for images (`build_conv_encoder`, `build_conv_decoder`;
ready-made sizes in `betavae_tf.presets`). Building them here,
as functional models with known input shapes, means every weight exists as
soon as the `BetaVAE` is constructed, which is what Keras 3 needs to reload a
subclassed model from `.h5`.
"""

from __future__ import annotations

import numbers

import keras
from keras import layers

from betavae_tf.layers import PixelDense, SpatialBroadcast, SpatialBroadcastDense
from betavae_tf.validation import check_float, check_int


def build_dense_encoder(
    input_dim: int,
    encoding_dim: int = 16,
    dropout_rate: float = 0.2,
    name: str = "encoder",
) -> keras.Model:
    """The dense encoder of the original Keras β-VAE.

    `Dense(64)+ReLU → BatchNormalization → Dropout → Dense(32)+ReLU`, then two
    heads `z_mean = Dense(encoding_dim)` and `z_log_var = Dense(encoding_dim)`.

    Args:
        input_dim: number of input features.
        encoding_dim: latent size. Defaults to 16.
        dropout_rate: dropout after the first block. Defaults to 0.2.
        name: model name. Defaults to `"encoder"`.

    Returns:
        A functional model `(batch, input_dim) -> [(batch, encoding_dim)] * 2`.
    """
    inputs = keras.Input(shape=(input_dim,), name="x")
    h = layers.Dense(64, activation="relu", name="enc_dense_64")(inputs)
    h = layers.BatchNormalization(name="enc_batchnorm")(h)
    h = layers.Dropout(dropout_rate, name="enc_dropout")(h)
    h = layers.Dense(32, activation="relu", name="enc_dense_32")(h)  # (B, 32)
    z_mean = layers.Dense(encoding_dim, name="z_mean")(h)
    z_log_var = layers.Dense(encoding_dim, name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def build_dense_decoder(
    output_dim: int,
    encoding_dim: int = 16,
    dropout_rate: float = 0.2,
    name: str = "decoder",
) -> keras.Model:
    """The dense decoder of the original Keras β-VAE.

    `Dense(32)+ReLU → BatchNormalization → Dropout → Dense(64)+ReLU →
    Dense(output_dim)` with a linear output.

    Args:
        output_dim: number of reconstructed features.
        encoding_dim: latent size. Defaults to 16.
        dropout_rate: dropout after the first block. Defaults to 0.2.
        name: model name. Defaults to `"decoder"`.

    Returns:
        A functional model `(batch, encoding_dim) -> (batch, output_dim)`.
    """
    inputs = keras.Input(shape=(encoding_dim,), name="z")
    h = layers.Dense(32, activation="relu", name="dec_dense_32")(inputs)
    h = layers.BatchNormalization(name="dec_batchnorm")(h)
    h = layers.Dropout(dropout_rate, name="dec_dropout")(h)
    h = layers.Dense(64, activation="relu", name="dec_dense_64")(h)  # (B, 64)
    outputs = layers.Dense(output_dim, name="reconstruction")(h)
    return keras.Model(inputs, outputs, name=name)


def example_shape(model: keras.Model, role: str) -> tuple:
    try:
        shape = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(
            f"The {role} must be a Keras model with a known input shape (e.g. built "
            f"with keras.Input); got {type(model).__name__}."
        ) from None
    if any(d is None for d in shape):
        raise ValueError(f"The {role}'s input shape {shape} must be fully known.")
    return shape


def check_encoder_decoder(encoder: keras.Model, decoder: keras.Model) -> int:
    """Checks that `encoder` maps `x` to `[z_mean, z_log_var]` and `decoder` maps
    `z` back to `x`'s shape; returns the latent size."""
    input_shape = example_shape(encoder, "encoder")
    outputs = getattr(encoder, "outputs", None)
    if not outputs or len(outputs) != 2:
        raise ValueError(
            "The encoder must have two outputs, [z_mean, z_log_var]; got "
            f"{0 if not outputs else len(outputs)}."
        )
    mean_shape, log_var_shape = (tuple(o.shape[1:]) for o in outputs)
    if len(mean_shape) != 1 or mean_shape != log_var_shape:
        raise ValueError(
            "The encoder's outputs must both have shape (batch, latent_dim); got "
            f"{mean_shape} and {log_var_shape}."
        )
    latent_shape = example_shape(decoder, "decoder")
    if latent_shape != mean_shape:
        raise ValueError(
            f"The decoder takes inputs of shape {latent_shape} but the encoder "
            f"produces latents of shape {mean_shape}."
        )
    output_shape = tuple(decoder.outputs[0].shape[1:])
    if output_shape != input_shape:
        raise ValueError(
            f"The decoder outputs shape {output_shape} but the encoder takes "
            f"{input_shape}; they must match."
        )
    return mean_shape[0]


# ----------------------------------------------------------- convolutional nets
CONV_ACTIVATIONS = ("relu", "leaky_relu")
LEAKY_RELU_SLOPE = 0.2


def _check_filters(filters) -> tuple[int, ...]:
    try:
        filters = tuple(filters)
    except TypeError:
        filters = None
    if not filters or any(
        isinstance(f, bool) or not isinstance(f, numbers.Integral) or f < 1
        for f in filters
    ):
        raise ValueError(
            "filters must be a non-empty sequence of integers >= 1, one per "
            f"convolution. Received: filters={filters!r}"
        )
    return tuple(int(f) for f in filters)


def _check_image_shape(name: str, shape) -> tuple[int, int, int]:
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
               for d in shape)
    ):
        raise ValueError(
            f"{name} must be (height, width, channels), three integers >= 1. "
            f"Received: {name}={shape!r}"
        )
    return tuple(int(d) for d in shape)


def _check_conv_options(
    encoding_dim, filters, kernel_size, strides, dense_units, activation, dropout_rate
):
    check_int("encoding_dim", encoding_dim)
    check_int("kernel_size", kernel_size)
    check_int("strides", strides)
    if dense_units is not None:
        check_int("dense_units", dense_units)
    if activation not in CONV_ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {list(CONV_ACTIVATIONS)}. "
            f"Received: activation={activation!r}"
        )
    check_float("dropout_rate", dropout_rate, maximum=1.0, exclusive_maximum=True)
    return _check_filters(filters)


def _activation(activation: str, name: str) -> layers.Layer:
    if activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=name)
    return layers.ReLU(name=name)


def _finish_block(h, index, prefix, batch_norm, activation, dropout_rate):
    """BatchNorm (optional) → activation → Dropout (if rate > 0) after a layer."""
    if batch_norm:
        h = layers.BatchNormalization(name=f"{prefix}_batchnorm_{index}")(h)
    h = _activation(activation, f"{prefix}_{activation}_{index}")(h)
    if dropout_rate > 0:
        h = layers.Dropout(dropout_rate, name=f"{prefix}_dropout_{index}")(h)
    return h


def conv_bottleneck_shape(
    image_shape, n_convolutions: int, strides: int = 2
) -> tuple[int, int]:
    """Spatial size after `n_convolutions` stride-`strides` "same" convolutions.

    The decoder starts from this size and upsamples back to exactly
    `image_shape`, which requires height and width divisible by
    `strides ** n_convolutions` (28 → 7 after two stride-2 convolutions,
    64 → 8 after three, 64 → 4 after four).

    Raises:
        ValueError: if the image size is not divisible.
    """
    height, width = image_shape[0], image_shape[1]
    factor = strides**n_convolutions
    if height % factor or width % factor:
        raise ValueError(
            f"Image size {height}x{width} is not divisible by {factor} = "
            f"strides**len(filters) = {strides}**{n_convolutions}, so the "
            "decoder cannot upsample back to it exactly; use fewer filters "
            "(convolutions), another stride, or resize/pad the images."
        )
    return height // factor, width // factor


def build_conv_encoder(
    input_shape,
    encoding_dim: int = 16,
    filters=(32, 64),
    kernel_size: int = 3,
    strides: int = 2,
    dense_units: int | None = None,
    batch_norm: bool = False,
    activation: str = "relu",
    dropout_rate: float = 0.0,
    name: str = "encoder",
) -> keras.Model:
    """A convolutional encoder for images.

    One block per entry of `filters`: `Conv2D(f, kernel_size, strides,
    padding="same")` → `BatchNormalization` (if `batch_norm`) → activation →
    `Dropout` (if `dropout_rate > 0`). Then `Flatten`, an optional hidden
    `Dense(dense_units)` block, and two linear heads `z_mean` and `z_log_var`.

    Args:
        input_shape: `(height, width, channels)` of one image.
        encoding_dim: latent size. Defaults to 16.
        filters: channels of each convolution, in order. Defaults to
            `(32, 64)`.
        kernel_size: square kernel size. Defaults to 3.
        strides: stride of every convolution. Defaults to 2.
        dense_units: width of a hidden dense layer before the heads, or
            `None` for none. Defaults to `None`.
        batch_norm: add BatchNormalization after each convolution (whose
            bias is then dropped). Defaults to `False`.
        activation: `"relu"` or `"leaky_relu"` (slope 0.2). Defaults to
            `"relu"`.
        dropout_rate: dropout after each hidden block. Defaults to 0.0.
        name: model name. Defaults to `"encoder"`.

    Returns:
        A functional model `(batch, *input_shape) -> [(batch, encoding_dim)] * 2`.
    """
    input_shape = _check_image_shape("input_shape", input_shape)
    filters = _check_conv_options(
        encoding_dim, filters, kernel_size, strides, dense_units, activation,
        dropout_rate,
    )
    block = dict(batch_norm=batch_norm, activation=activation, dropout_rate=dropout_rate)

    inputs = keras.Input(shape=input_shape, name="x")  # (B, H, W, C)
    h = inputs
    for index, n_filters in enumerate(filters, start=1):
        h = layers.Conv2D(
            n_filters, kernel_size, strides=strides, padding="same",
            use_bias=not batch_norm, name=f"enc_conv_{index}",
        )(h)  # (B, H / strides**index, W / strides**index, n_filters)
        h = _finish_block(h, index, "enc", **block)
    h = layers.Flatten(name="enc_flatten")(h)  # e.g. (B, 7 * 7 * 64) for MNIST
    if dense_units is not None:
        h = layers.Dense(dense_units, name="enc_dense")(h)  # (B, dense_units)
        h = _finish_block(h, "dense", "enc", **{**block, "batch_norm": False})
    z_mean = layers.Dense(encoding_dim, name="z_mean")(h)  # (B, encoding_dim)
    z_log_var = layers.Dense(encoding_dim, name="z_log_var")(h)  # (B, encoding_dim)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def build_conv_decoder(
    output_shape,
    encoding_dim: int = 16,
    filters=(64, 32),
    kernel_size: int = 3,
    strides: int = 2,
    dense_units: int | None = None,
    batch_norm: bool = False,
    activation: str = "relu",
    dropout_rate: float = 0.0,
    name: str = "decoder",
) -> keras.Model:
    """A transposed-convolution decoder, the mirror of `build_conv_encoder`.

    `z` → optional hidden `Dense(dense_units)` block → `Dense` to
    `h0 * w0 * filters[0]` → `Reshape((h0, w0, filters[0]))`, where
    `(h0, w0) = output size / strides**len(filters)` (see
    `conv_bottleneck_shape`). Then one `Conv2DTranspose(f, kernel_size,
    strides, padding="same")` block (BatchNorm, activation, Dropout as in the
    encoder) per remaining entry `f` of `filters`, and a final linear
    `Conv2DTranspose(output_shape[-1], ...)` doing the last upsampling. With
    `filters` the reverse of the encoder's, every feature map mirrors the
    encoder's: MNIST `(B, 7, 7, 64) → (B, 14, 14, 32) → (B, 28, 28, 1)`.

    The output is linear because the likelihood decides what it means:
    `"bernoulli"` reads it as logits (`BetaVAE.decode` applies the sigmoid),
    `"mse"` and `"gaussian"` as the mean reconstruction.

    Args:
        output_shape: `(height, width, channels)` of one image; height and
            width must be divisible by `strides ** len(filters)`.
        encoding_dim: latent size. Defaults to 16.
        filters: channels of the reshaped feature map, then of each hidden
            transposed convolution. `len(filters)` upsamplings are done in
            all. Defaults to `(64, 32)`.
        kernel_size, strides, dense_units, batch_norm, activation,
            dropout_rate: as in `build_conv_encoder`.
        name: model name. Defaults to `"decoder"`.

    Returns:
        A functional model `(batch, encoding_dim) -> (batch, *output_shape)`.

    Raises:
        ValueError: for bad arguments, or an output size that is not
            divisible by `strides ** len(filters)`.
    """
    output_shape = _check_image_shape("output_shape", output_shape)
    filters = _check_conv_options(
        encoding_dim, filters, kernel_size, strides, dense_units, activation,
        dropout_rate,
    )
    height, width = conv_bottleneck_shape(output_shape, len(filters), strides)
    block = dict(batch_norm=batch_norm, activation=activation, dropout_rate=dropout_rate)
    dense_block = {**block, "batch_norm": False}

    inputs = keras.Input(shape=(encoding_dim,), name="z")  # (B, encoding_dim)
    h = inputs
    if dense_units is not None:
        h = layers.Dense(dense_units, name="dec_dense")(h)  # (B, dense_units)
        h = _finish_block(h, "dense", "dec", **dense_block)
    h = layers.Dense(height * width * filters[0], name="dec_project")(h)
    h = _finish_block(h, "project", "dec", **dense_block)
    h = layers.Reshape((height, width, filters[0]), name="dec_reshape")(h)
    # e.g. (B, 7, 7, 64) for MNIST, (B, 8, 8, 128) for dSprites
    for index, n_filters in enumerate(filters[1:], start=1):
        h = layers.Conv2DTranspose(
            n_filters, kernel_size, strides=strides, padding="same",
            use_bias=not batch_norm, name=f"dec_conv_transpose_{index}",
        )(h)  # spatial size × strides, n_filters channels, e.g. (B, 14, 14, 32)
        h = _finish_block(h, index, "dec", **block)
    outputs = layers.Conv2DTranspose(
        output_shape[-1], kernel_size, strides=strides, padding="same",
        name="reconstruction",
    )(h)  # (B, *output_shape), linear
    return keras.Model(inputs, outputs, name=name)


def build_mlp_encoder(
    input_shape,
    encoding_dim: int = 10,
    units: int = 256,
    hidden_layers: int = 2,
    name: str = "encoder",
) -> keras.Model:
    """A fully connected image encoder: `Flatten → hidden_layers × Dense(units)+ReLU`,
    then the heads `z_mean` and `z_log_var`.

    Args:
        input_shape: `(height, width, channels)` of one image.
        encoding_dim: latent size. Defaults to 10.
        units: width of each hidden layer. Defaults to 256.
        hidden_layers: number of hidden layers. Defaults to 2.
        name: model name. Defaults to `"encoder"`.

    Returns:
        A functional model `(batch, *input_shape) -> [(batch, encoding_dim)] * 2`.
    """
    input_shape = _check_image_shape("input_shape", input_shape)
    encoding_dim = check_int("encoding_dim", encoding_dim)
    units = check_int("units", units)
    hidden_layers = check_int("hidden_layers", hidden_layers)
    inputs = keras.Input(shape=input_shape, name="x")
    h = layers.Flatten(name="enc_flatten")(inputs)  # (B, height * width * channels)
    for index in range(1, hidden_layers + 1):
        h = layers.Dense(units, activation="relu", name=f"enc_dense_{index}")(h)  # (B, units)
    z_mean = layers.Dense(encoding_dim, name="z_mean")(h)
    z_log_var = layers.Dense(encoding_dim, name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def build_spatial_broadcast_decoder(
    output_shape,
    encoding_dim: int = 10,
    units: int = 32,
    hidden_layers: int = 2,
    name: str = "decoder",
    fast: bool = True,
) -> keras.Model:
    """A spatial broadcast decoder (Watters et al., 2019).

    `z` is tiled over the canvas with x/y coordinate channels in [-1, 1]
    `(B, H, W, encoding_dim + 2)`, then `hidden_layers` per-pixel (1×1)
    layers of `units` channels + ReLU and a linear per-pixel layer to the
    image's channels. With β-TCVAE it gave the library's dSprites MIG of
    0.42 (docs/disentanglement.md).

    Two forms compute the same function with the same weights:

    * `fast=True` (default): `SpatialBroadcastDense` (the broadcast and the
      first per-pixel layer in one, without tiling `z`) then `PixelDense`
      layers (per-pixel matrix products). Trained about 2× faster on a CPU
      (docs/speed.md).
    * `fast=False`: the original layers, `SpatialBroadcast` then `Conv2D(…, 1)`
      layers; models saved before the fast form existed hold these, and
      load as they were saved.

    Both forms name their weighted layers `dec_pixel_1`, ...,
    `reconstruction`, and each holds `Conv2D`'s kernel `(1, 1, c_in, c_out)`
    and bias in the same order, so `get_weights`/`set_weights` and
    `load_weights` of a whole-model `.h5` file move weights between them;
    after the same `keras.utils.set_random_seed` both start from the same
    weights. (Keras's `.weights.h5` files, such as `TrainingBackup`'s, name
    weights by layer class, so they load only into the form that wrote them.)

    Args:
        output_shape: `(height, width, channels)` of one image.
        encoding_dim: latent size. Defaults to 10.
        units: channels of each per-pixel hidden layer. Defaults to 32.
        hidden_layers: number of hidden layers. Defaults to 2.
        name: model name. Defaults to `"decoder"`.
        fast: build the fast form (see above). Defaults to `True`.

    Returns:
        A functional model `(batch, encoding_dim) -> (batch, *output_shape)`
        (linear: logits for `"bernoulli"`, means for `"mse"`/`"gaussian"`).
    """
    output_shape = _check_image_shape("output_shape", output_shape)
    encoding_dim = check_int("encoding_dim", encoding_dim)
    units = check_int("units", units)
    hidden_layers = check_int("hidden_layers", hidden_layers)
    per_pixel = [(units, "relu", f"dec_pixel_{index}") for index in range(1, hidden_layers + 1)]
    per_pixel.append((output_shape[-1], None, "reconstruction"))  # linear, (B, H, W, C)
    inputs = keras.Input(shape=(encoding_dim,), name="z")
    if fast:
        (filters, activation, layer_name), *rest = per_pixel
        h = SpatialBroadcastDense(*output_shape[:2], filters, activation=activation,
                                  name=layer_name)(inputs)  # (B, H, W, units)
        for filters, activation, layer_name in rest:
            h = PixelDense(filters, activation=activation, name=layer_name)(h)
        return keras.Model(inputs, h, name=name)
    h = SpatialBroadcast(*output_shape[:2], name="dec_broadcast")(inputs)  # (B, H, W, D + 2)
    for filters, activation, layer_name in per_pixel:
        h = layers.Conv2D(filters, 1, activation=activation, name=layer_name)(h)  # (B, H, W, filters)
    return keras.Model(inputs, h, name=name)
