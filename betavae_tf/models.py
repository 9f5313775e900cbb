"""The `BetaVAE` Keras model."""

from __future__ import annotations

import copy

import keras
import tensorflow as tf
from keras import ops

from betavae_tf.layers import LearnedLogVariance, Sampling
from betavae_tf.losses import get_likelihood, kl_divergence
from betavae_tf.networks import build_dense_decoder, build_dense_encoder
from betavae_tf.validation import check_float, check_int


def _features_of(data):
    """Returns `x` from what a dataset yields: `x`, `(x,)` or `(x, y, ...)`."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def _example_shape(model: keras.Model, role: str) -> tuple:
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


@keras.saving.register_keras_serializable(package="betavae_tf")
class BetaVAE(keras.Model):
    """A β-Variational Autoencoder: reconstruction + β · KL.

    By default it is the seed document's dense network (see
    `betavae_tf.networks`). Image models pass their own `encoder` (mapping
    `x` to `[z_mean, z_log_var]`) and `decoder` (mapping `z` to the raw
    parameters of the chosen `likelihood`), and reuse the same training step.

    Loss of a batch, with per-example sums averaged over the batch:
    `reconstruction = mean_i NLL(x_i | z_i)` (for `"mse"` the sum of squared
    errors; for `"gaussian"` the Gaussian NLL with the learned per-feature
    variance `exp(log_variance)`),
    `kl = mean_i −0.5 Σ_j (1 + log σ²_ij − μ²_ij − σ²_ij)` and
    `total = reconstruction + β · kl`.

    β lives in a non-trainable variable (`beta_variable`), so a callback that
    changes it between epochs changes what the compiled training step computes.

    Args:
        input_dim: number of input features for the default dense network.
            Ignored (and may be `None`) when `encoder` and `decoder` are given.
        encoding_dim: latent size. Defaults to 16.
        beta: weight of the KL term, >= 0. Defaults to 1.0.
        dropout_rate: dropout rate of the default networks. Defaults to 0.2.
        likelihood: reconstruction likelihood name, one of
            `betavae_tf.losses.LIKELIHOODS`: `"mse"`, `"bernoulli"` (decoder
            outputs are logits) or `"gaussian"` (decoder outputs are means;
            the model learns a log-variance per feature, `log_variance`).
            Defaults to `"mse"`.
        encoder: optional Keras model `x -> [z_mean, z_log_var]`.
        decoder: optional Keras model `z -> decoder output`.
        seed: optional integer making the posterior and prior sampling
            reproducible. Defaults to `None`.
        **kwargs: standard `keras.Model` arguments (`name`, ...).

    Example:
    >>> model = BetaVAE(input_dim=64, encoding_dim=16, beta=4.0)
    >>> model.compile(optimizer="adam")
    >>> import numpy as np
    >>> z_mean, z_log_var = model.encode(np.zeros((2, 64), "float32"))
    >>> tuple(z_mean.shape)
    (2, 16)
    """

    def __init__(
        self,
        input_dim: int | None = None,
        encoding_dim: int = 16,
        beta: float = 1.0,
        dropout_rate: float = 0.2,
        likelihood: str = "mse",
        encoder: keras.Model | None = None,
        decoder: keras.Model | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        beta = check_float("beta", beta)
        self.dropout_rate = check_float(
            "dropout_rate", dropout_rate, maximum=1.0, exclusive_maximum=True
        )
        self.likelihood = get_likelihood(likelihood)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        if (encoder is None) != (decoder is None):
            raise ValueError(
                "Pass both encoder and decoder, or neither (for the dense network)."
            )
        self.uses_default_networks = encoder is None
        if self.uses_default_networks:
            self.input_dim = check_int("input_dim", input_dim)
            self.encoding_dim = check_int("encoding_dim", encoding_dim)
            encoder = build_dense_encoder(
                self.input_dim, self.encoding_dim, self.dropout_rate
            )
            decoder = build_dense_decoder(
                self.input_dim, self.encoding_dim, self.dropout_rate
            )
        else:
            self.input_dim = input_dim
            self.encoding_dim = self._check_custom_networks(encoder, decoder)
        self.encoder = encoder
        self.decoder = decoder
        self.feature_shape = _example_shape(encoder, "encoder")
        self.sampling = Sampling(seed=self.seed, name="sampling")
        self._prior_seed_generator = keras.random.SeedGenerator(
            None if self.seed is None else self.seed + 1
        )
        self.beta_variable = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(beta),
            trainable=False,
            name="beta",
        )
        # log σ² of the "gaussian" likelihood, one per feature, learned with
        # the networks; other likelihoods have no variance to learn. It lives
        # in a layer because Keras's .h5 writer cannot save a second
        # non-scalar top-level variable next to `beta`.
        self.log_variance_layer = None
        if self.likelihood.learns_log_variance:
            self.log_variance_layer = LearnedLogVariance(
                self.feature_shape, name="log_variance"
            )
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.build((None, *self.feature_shape))

    @staticmethod
    def _check_custom_networks(encoder, decoder) -> int:
        input_shape = _example_shape(encoder, "encoder")
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
        latent_shape = _example_shape(decoder, "decoder")
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

    def build(self, input_shape=None):
        # Every sub-network is built in __init__ (they know their shapes).
        self.built = True

    @property
    def log_variance(self):
        """The learned per-feature log σ² of the `"gaussian"` likelihood, a
        trainable variable of shape `feature_shape`; `None` for the others."""
        if self.log_variance_layer is None:
            return None
        return self.log_variance_layer.log_variance

    # β as a plain number for users; `beta_variable` for graphs and callbacks.
    @property
    def beta(self) -> float:
        """The current KL weight β (a float view of `beta_variable`)."""
        return float(ops.convert_to_numpy(self.beta_variable))

    @beta.setter
    def beta(self, value: float):
        self.beta_variable.assign(check_float("beta", value))

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    # ----------------------------------------------------------------- inference
    def encode(self, x, training: bool = False):
        """Maps `x` of shape `(batch, *feature_shape)` to `(z_mean, z_log_var)`,
        two float tensors of shape `(batch, encoding_dim)`."""
        z_mean, z_log_var = self.encoder(ops.cast(x, "float32"), training=training)
        return z_mean, z_log_var

    def decode(self, z, training: bool = False):
        """Maps latents `z` of shape `(batch, encoding_dim)` to mean
        reconstructions of shape `(batch, *feature_shape)`."""
        return self.likelihood.mean(
            self.decoder(ops.cast(z, "float32"), training=training)
        )

    def sample(self, n: int, seed: int | None = None):
        """Decodes `n` draws from the prior N(0, I).

        Args:
            n: number of samples.
            seed: optional integer; the same seed gives the same samples.
                Defaults to the model's own seed generator.

        Returns:
            Float tensor of shape `(n, *feature_shape)`.
        """
        n = check_int("n", n)
        generator = self._prior_seed_generator if seed is None else seed
        z = keras.random.normal((n, self.encoding_dim), seed=generator)
        return self.decode(z)

    def call(self, inputs, training=None):
        """Reconstructs `inputs`; deterministic (from `z_mean`) unless training.

        Args:
            inputs: float tensor of shape `(batch, *feature_shape)`.
            training: if true, decodes a sample `z` and runs BatchNorm and
                Dropout in training mode. Defaults to inference.

        Returns:
            Float tensor of shape `(batch, *feature_shape)`.
        """
        training = bool(training)
        z_mean, z_log_var = self.encode(inputs, training=training)
        z = self.sampling((z_mean, z_log_var)) if training else z_mean
        return self.decode(z, training=training)

    # ------------------------------------------------------------------ training
    def compile(self, optimizer="adam", **kwargs):
        """`keras.Model.compile`; the loss is built in, so pass no `loss`."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "BetaVAE computes its own loss (reconstruction + beta * KL); "
                "call compile() without loss=."
            )
        super().compile(optimizer=optimizer, **kwargs)
        # Create the optimizer's slots for every weight of the nested networks
        # now. Keras's .h5 loader otherwise builds the optimizer from the
        # model's top-level variables only (none are trainable here), and the
        # reloaded model could neither restore its optimizer state nor train.
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config: dict):
        # Keras skips this for models that override compile(); ours is safe.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def negative_log_likelihood(self, x, decoded):
        """Per-example reconstruction NLL of `x` given raw decoder outputs.

        Uses the model's likelihood and, for `"gaussian"`, its learned
        `log_variance`.

        Args:
            x: float tensor of shape `(batch, *feature_shape)`.
            decoded: the decoder's output for `x`'s latents, same shape.

        Returns:
            Float tensor of shape `(batch,)`.
        """
        if self.likelihood.learns_log_variance:
            return self.likelihood.negative_log_likelihood(
                x, decoded, self.log_variance
            )
        return self.likelihood.negative_log_likelihood(x, decoded)

    def compute_losses(self, x, training: bool = False) -> dict:
        """The β-VAE loss terms of one batch, shared by train and test steps.

        Args:
            x: float tensor of shape `(batch, *feature_shape)`.
            training: mode for BatchNorm and Dropout.

        Returns:
            Dict of scalar tensors `total_loss`, `reconstruction_loss`,
            `kl_loss` (each a mean over the batch of per-example values).
        """
        x = ops.cast(x, "float32")
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling((z_mean, z_log_var))
        decoded = self.decoder(z, training=training)
        reconstruction = ops.mean(self.negative_log_likelihood(x, decoded))
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        return {
            "total_loss": reconstruction + self.beta_variable * kl,
            "reconstruction_loss": reconstruction,
            "kl_loss": kl,
        }

    def _update_trackers(self, losses: dict) -> dict:
        for tracker in self.metrics:
            tracker.update_state(losses[tracker.name])
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        return {
            "loss": logs["total_loss"],
            **logs,
            "beta": ops.convert_to_tensor(self.beta_variable),
        }

    def train_step(self, data):
        x = _features_of(data)
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, training=True)
        gradients = tape.gradient(losses["total_loss"], self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._update_trackers(losses)

    def test_step(self, data):
        return self._update_trackers(self.compute_losses(_features_of(data)))

    # ------------------------------------------------------------- serialisation
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "encoding_dim": self.encoding_dim,
                "beta": self.beta,
                "dropout_rate": self.dropout_rate,
                "likelihood": self.likelihood.name,
                "seed": self.seed,
                "encoder": None,
                "decoder": None,
            }
        )
        if not self.uses_default_networks:
            config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
            config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = copy.deepcopy(config)  # deserialisation consumes nested dicts
        for role in ("encoder", "decoder"):
            if isinstance(config.get(role), dict):
                config[role] = keras.saving.deserialize_keras_object(
                    config[role], custom_objects=custom_objects
                )
        return cls(**config)

