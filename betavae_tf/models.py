"""The `BetaVAE` Keras model: encoder, sampling, decoder, and one training step.

What the model minimises besides the reconstruction is its objective
(`betavae_tf.objectives`); the replica maths of data-parallel training are in
`betavae_tf.replicas`.
"""

from __future__ import annotations

import copy
import inspect

import keras
import tensorflow as tf
from keras import ops

from betavae_tf import replicas
from betavae_tf.layers import LearnedLogVariance, Sampling
from betavae_tf.losses import get_likelihood, kl_divergence
from betavae_tf.networks import (
    build_dense_decoder,
    build_dense_encoder,
    check_encoder_decoder,
    example_shape,
)
from betavae_tf.objectives import (
    LEGACY_ARGUMENTS,
    LEGACY_OBJECTIVES,
    OBJECTIVES,
    LegacyObjectiveArguments,
    Objective,
    Posterior,
    deserialize_objective,
    get_objective,
    resolve_objective,
)
from betavae_tf.train_loop import FitLoops
from betavae_tf.validation import check_float, check_int

__all__ = ["BetaVAE", "OBJECTIVES", "check_beta_vae", "get_objective"]


def _features_of(data):
    """Returns `x` from what a dataset yields: `x`, `(x,)` or `(x, y, ...)`."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def check_beta_vae(model, name: str = "model") -> None:
    """Raises a one-line `ValueError` unless `model` is a `BetaVAE`."""
    if not isinstance(model, BetaVAE):
        raise ValueError(f"{name} must be a BetaVAE; got {type(model).__name__}.")


@keras.saving.register_keras_serializable(package="betavae_tf")
class BetaVAE(LegacyObjectiveArguments, FitLoops, keras.Model):
    """A β-Variational Autoencoder: reconstruction + the objective's regulariser.

    By default it is the dense network of the original Keras β-VAE (see
    `betavae_tf.networks`). Image models pass their own `encoder` (mapping
    `x` to `[z_mean, z_log_var]`) and `decoder` (mapping `z` to the raw
    parameters of the chosen `likelihood`), and reuse the same training step.

    Loss of a batch, with per-example sums averaged over the batch:
    `reconstruction = mean_i NLL(x_i | z_i)` (for `"mse"` the sum of squared
    errors; for `"gaussian"` the Gaussian NLL with the learned per-feature
    variance `exp(log_variance)`),
    `kl = mean_i −0.5 Σ_j (1 + log σ²_ij − μ²_ij − σ²_ij)` and
    `total = reconstruction + regulariser`, where the objective
    (`betavae_tf.objectives`) gives the regulariser: `β · kl` for the default
    `"beta"` (Higgins et al., 2017); `γ · |kl − C|` for `"capacity"`
    (Burgess et al., 2018); `α · MI + β · TC + γ_dw · DW` for `"tcvae"`
    (Chen et al., 2018); `β · kl + γ · TC`, TC estimated by a discriminator
    the model trains in the same step, for `"factor"` (Kim & Mnih, 2018);
    `β · kl` plus a penalty on the latent covariance for `"dip1"`/`"dip2"`
    (Kumar et al., 2018). Free bits (Kingma et al., 2016) are an option of
    the objectives that weigh the KL itself.

    Logs: `loss` (= `total_loss`), `total_loss`, `reconstruction_loss`,
    `kl_loss` (always the true analytic KL) and `beta`, plus the objective's
    terms (`capacity`; `mutual_information`, `total_correlation`,
    `dimension_wise_kl`; `total_correlation`, `discriminator_loss`;
    `dip_off_diagonal`, `dip_diagonal`).

    β and every other objective weight live in non-trainable variables
    (`beta_variable`, `gamma_variable`, ...), so a callback that changes one
    between epochs or steps changes what the compiled training step computes.

    Args:
        input_dim: number of input features for the default dense network.
            Ignored (and may be `None`) when `encoder` and `decoder` are given.
        encoding_dim: latent size. Defaults to 16.
        beta: weight β of the KL term (of the TC for `"tcvae"`), >= 0.
            Defaults to 1.0.
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
        objective: a name in `betavae_tf.objectives.OBJECTIVES` (`"beta"`,
            `"capacity"`/`"annealed"`, `"tcvae"`, `"factor"`, `"dip1"`,
            `"dip2"`) or an `Objective` such as `Capacity(gamma=100.0)`.
            Defaults to `"beta"`.
        gamma, capacity_max, capacity_steps, free_bits, dataset_size, alpha,
            gamma_dw, tcvae_estimator: the objective's arguments by name, as
            betavae_tf 0.1 took them (`tcvae_estimator` is `TCVAE`'s
            `estimator`; `gamma` is also `FactorVAE`'s); `None` takes the
            objective's default. Pass them with a name for `objective`, or
            to the `Objective` itself (the only way for the newer
            objectives' other arguments, such as `DIPVAE1(lambda_od=...)`).
        **kwargs: standard `keras.Model` arguments (`name`, ...).

    Example:
    >>> model = BetaVAE(input_dim=64, encoding_dim=16, beta=4.0)
    >>> model.compile(optimizer="adam")
    >>> import numpy as np
    >>> z_mean, z_log_var = model.encode(np.zeros((2, 64), "float32"))
    >>> tuple(z_mean.shape)
    (2, 16)
    >>> BetaVAE(input_dim=64, objective="capacity", gamma=100.0).objective
    Capacity(gamma=100.0, capacity_max=25.0, capacity_steps=100000, free_bits=0.0)
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
        objective: str | Objective = "beta",
        gamma: float | None = None,
        capacity_max: float | None = None,
        capacity_steps: int | None = None,
        free_bits: float | None = None,
        dataset_size: int | None = None,
        alpha: float | None = None,
        gamma_dw: float | None = None,
        tcvae_estimator: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        beta = check_float("beta", beta)
        objective, self._unused_arguments = resolve_objective(
            objective, gamma=gamma, capacity_max=capacity_max, capacity_steps=capacity_steps,
            free_bits=free_bits, dataset_size=dataset_size, alpha=alpha, gamma_dw=gamma_dw,
            tcvae_estimator=tcvae_estimator,
        )
        if objective.variables:  # built for another model: this one gets a copy
            objective = type(objective).from_config(objective.get_config())
        self.objective = objective
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
            self.encoding_dim = check_encoder_decoder(encoder, decoder)
        self.encoder = encoder
        self.decoder = decoder
        self.feature_shape = example_shape(encoder, "encoder")
        self.sampling = Sampling(seed=self.seed, name="sampling")
        self._prior_seed_generator = keras.random.SeedGenerator(
            None if self.seed is None else self.seed + 1
        )
        # β first, then the objective's weights: the order 0.1's files hold them in.
        self.beta_variable = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(beta),
            trainable=False,
            name="beta",
        )
        self.objective.build(self)
        # log σ² of the "gaussian" likelihood, one per feature, learned with
        # the networks; other likelihoods have no variance to learn. It lives
        # in a layer because Keras's .h5 writer cannot save a second
        # non-scalar top-level variable next to `beta`.
        self.log_variance_layer = None
        if self.likelihood.learns_log_variance:
            self.log_variance_layer = LearnedLogVariance(
                self.feature_shape, name="log_variance"
            )
        # Networks the objective trains itself (saved with the model, kept
        # out of the model's optimizer); none for most objectives.
        self.objective_networks = list(self.objective.networks)
        # Train endless input through betavae_tf.train_loop (see fit());
        # a run-time option like jit_compile, not part of the config.
        self.endless_loop = True
        self._fits_endless_input = False
        self._epoch_source = None  # the ArrayEpochs fit() trains on, if any
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.objective_trackers = [
            keras.metrics.Mean(name=name) for name in self.objective.averaged_terms
        ]
        self.build((None, *self.feature_shape))

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
    def step_counter(self):
        """The objective's training-step counter variable (`"capacity"`), else `None`."""
        return getattr(self.objective, "step_counter", None)

    @property
    def capacity(self) -> float | None:
        """The capacity C in nats that the next training step of a
        `"capacity"` model uses; `None` for the other objectives."""
        if self.step_counter is None:
            return None
        return float(ops.convert_to_numpy(self.objective.capacity))

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
            *self.objective_trackers,
        ]

    @property
    def vae_weights(self) -> list:
        """The trainable weights the model's own optimizer updates: all but
        those of the objective's networks."""
        skip = {id(w) for network in self.objective_networks for w in network.trainable_weights}
        return [w for w in self.trainable_weights if id(w) not in skip]

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
        self.optimizer.build(self.vae_weights)

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
            `kl_loss` (each a mean over the batch of per-example values; the
            KL is the true analytic KL even with free bits), plus the
            objective's extra terms (`capacity`; or `mutual_information`,
            `total_correlation`, `dimension_wise_kl`). Under a multi-replica
            `tf.distribute` strategy they are means over this replica's slice
            of the batch (each replica draws its own posterior noise);
            `train_step` and `test_step` average them over the global batch.
        """
        return self._losses_and_posterior(x, training)[0]

    def _losses_and_posterior(self, x, training: bool) -> tuple[dict, Posterior]:
        x = ops.cast(x, "float32")
        z_mean, z_log_var = self.encoder(x, training=training)
        z = replicas.draw_posterior_sample(self.sampling, z_mean, z_log_var)
        decoded = self.decoder(z, training=training)
        reconstruction = ops.mean(self.negative_log_likelihood(x, decoded))
        posterior = Posterior(z, z_mean, z_log_var, ops.mean(kl_divergence(z_mean, z_log_var)))
        terms = self.objective.regulariser(posterior, self.beta_variable)
        losses = {
            "total_loss": reconstruction + terms.pop("regulariser"),
            "reconstruction_loss": reconstruction,
            "kl_loss": posterior.kl,
            **terms,
        }
        return losses, posterior

    def _track(self, losses: dict) -> None:
        for tracker in self.metrics:
            tracker.update_state(losses[tracker.name])

    def _logs(self, losses: dict) -> dict:
        """The logs `fit` reports: running means of the trackers, β, and the
        objective's current values from the batch `losses`."""
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        return {
            "loss": logs["total_loss"],
            **logs,
            "beta": ops.convert_to_tensor(self.beta_variable),
            **{name: losses[name] for name in self.objective.current_values},
        }

    def _train_batch(self, data) -> dict:
        """One optimizer step on a batch; updates the trackers and returns its losses.

        Under a multi-replica strategy each replica differentiates its share
        of the global batch's mean loss and returns the global means (see
        `betavae_tf.replicas`); on one device this is the plain batch loss.
        The objective's own networks, if any, are trained after the model.
        """
        x = _features_of(data)
        weights = self.vae_weights
        with tf.GradientTape() as tape:
            losses, posterior = self._losses_and_posterior(x, training=True)
            losses, objective = replicas.global_batch_losses(losses, x)
        gradients = tape.gradient(objective, weights)
        gradients = replicas.clipped_across_replicas(self.optimizer, gradients)
        self.optimizer.apply(gradients, weights)
        self.objective.after_step()
        losses.update(self.objective.train_networks(posterior))
        self._track(losses)
        return losses

    def train_step(self, data):
        return self._logs(self._train_batch(data))

    def test_step(self, data):
        x = _features_of(data)
        losses, posterior = self._losses_and_posterior(x, training=False)
        losses = replicas.global_batch_losses(losses, x)[0]
        losses.update(self.objective.train_networks(posterior, training=False))
        self._track(losses)
        return self._logs(losses)

    # ------------------------------------------------------------- serialisation
    def get_config(self) -> dict:
        config = super().get_config()
        # The objectives of betavae_tf 0.1 keep its format: the objective's
        # name and every 0.1 argument flat (so 0.1 reads these files too);
        # other objectives are serialised objects, plus the 0.1 arguments
        # they do not take.
        flat = {name: getattr(self, name) for name in LEGACY_ARGUMENTS}
        if type(self.objective) in LEGACY_OBJECTIVES:
            objective = self.objective.name
        else:
            objective = keras.saving.serialize_keras_object(self.objective)
            takes = set(inspect.signature(type(self.objective)).parameters)
            flat = {k: v for k, v in flat.items() if LEGACY_ARGUMENTS[k][1] not in takes}
        config.update(
            {
                "input_dim": self.input_dim,
                "encoding_dim": self.encoding_dim,
                "beta": self.beta,
                "dropout_rate": self.dropout_rate,
                "likelihood": self.likelihood.name,
                "seed": self.seed,
                "objective": objective,
                **flat,
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
        if isinstance(config.get("objective"), dict):
            config["objective"] = deserialize_objective(config["objective"], custom_objects)
        return cls(**config)
