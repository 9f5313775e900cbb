"""Encoder and decoder networks that plug into `BetaVAE`.

An encoder is any Keras model mapping `x` to `[z_mean, z_log_var]`; a decoder
maps `z` to the raw parameters of the reconstruction likelihood (for `"mse"`
the reconstruction itself, for `"bernoulli"` the logits). Building them here,
as functional models with known input shapes, means every weight exists as
soon as the `BetaVAE` is constructed, which is what Keras 3 needs to reload a
subclassed model from `.h5`.
"""

from __future__ import annotations

import keras
from keras import layers


def build_dense_encoder(
    input_dim: int,
    encoding_dim: int = 16,
    dropout_rate: float = 0.2,
    name: str = "encoder",
) -> keras.Model:
    """The seed document's dense encoder.

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
    """The seed document's dense decoder.

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
