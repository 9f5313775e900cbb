"""The `BetaVAE` Keras model."""

from __future__ import annotations

import copy
from typing import Callable, NamedTuple

import keras
import tensorflow as tf
from keras import ops

from betavae_tf.layers import LearnedLogVariance, Sampling
from betavae_tf.losses import (
    TCVAE_ESTIMATORS,
    capacity_at_step,
    free_bits_kl,
    get_likelihood,
    kl_divergence,
    tcvae_decomposition,
)
from betavae_tf.networks import build_dense_decoder, build_dense_encoder
from betavae_tf.train_loop import endless_train_function, uses_endless_loop
from betavae_tf.validation import check_choice, check_float, check_int


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


# --------------------------------------------------------- data parallelism
# Under a multi-replica `tf.distribute` strategy (MirroredStrategy with
# `fit`, or the multi-worker loop of `betavae_tf.distribute`) every replica
# runs `train_step` on its slice of the global batch, and Keras's optimizer
# SUMS the replicas' gradients (`_all_reduce_sum_gradients`). The helpers
# below make that sum the single-device gradient of the global batch. On one
# device they return their inputs unchanged.


def _multi_replica_context():
    """The replica context of a step under a multi-replica strategy, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def _global_batch(losses: dict, x) -> tuple[dict, object]:
    """One replica's batch losses, seen over the global batch.

    Replica `r` holds `n_r` of the global batch's `N = Σ_r n_r` examples
    (`x` has shape `(n_r, *feature_shape)`; `n_r` may be 0 for a last batch
    smaller than the replicas) and `losses` are means over its `n_r`. One
    all-reduce gives `N` and the global means `Σ_r n_r · loss_r / N`,
    identical on every replica (exact for terms that are means of
    per-example values, such as the reconstruction and KL).

    Returns:
        `(global_losses, objective)`: the dict to log, and the scalar this
        replica differentiates, `(n_r / N) · total_loss_r`, whose gradients
        summed over the replicas are the gradient of the global batch's mean
        loss. On one device: `(losses, losses["total_loss"])`.
    """
    context = _multi_replica_context()
    if context is None:
        return losses, losses["total_loss"]
    n = ops.cast(ops.shape(x)[0], "float32")
    names = sorted(losses)
    local = [  # an empty replica's means are NaN; it contributes nothing
        ops.where(n > 0, tf.stop_gradient(ops.cast(losses[k], "float32")), 0.0) * n
        for k in names
    ]
    totals = tf.stop_gradient(context.all_reduce(tf.distribute.ReduceOp.SUM, ops.stack([n, *local])))
    share = n / totals[0]
    objective = ops.where(n > 0, losses["total_loss"], 0.0) * share
    return {k: totals[i + 1] / totals[0] for i, k in enumerate(names)}, objective


def _draw_posterior_sample(sampling: Sampling, z_mean, z_log_var):
    """`z ~ N(z_mean, exp(z_log_var))` from `sampling`'s seed generator.

    On one device this is `sampling((z_mean, z_log_var))`. The generator's
    state is mirrored, so under a multi-replica strategy every replica would
    draw the same `eps`; the replica id is folded into the seed to give each
    its own noise.
    """
    context = _multi_replica_context()
    if context is None:
        return sampling((z_mean, z_log_var))
    seed = tf.random.experimental.stateless_fold_in(
        ops.cast(sampling.seed_generator.next(), "int32"),
        ops.cast(context.replica_id_in_sync_group, "int32"),
    )
    eps = tf.random.stateless_normal(ops.shape(z_mean), seed=seed, dtype=z_mean.dtype)
    return z_mean + ops.exp(0.5 * z_log_var) * eps


def _clipped_across_replicas(optimizer, gradients: list) -> list:
    """Makes gradient clipping act on the summed gradient of all replicas.

    Keras's optimizer clips each replica's gradient *before* summing them, so
    `clipnorm`/`clipvalue`/`global_clipnorm` would clip partial gradients.
    Under a multi-replica strategy with clipping set, this sums the gradients
    here, clips the sum as the optimizer would, and returns it divided by the
    number of replicas: the optimizer's own clipping then leaves it unchanged
    (its norm and values are below the limits) and its sum restores the
    clipped total. Otherwise returns `gradients` unchanged.
    """
    context = _multi_replica_context()
    clips = any(getattr(optimizer, name, None) for name in ("clipnorm", "clipvalue", "global_clipnorm"))
    if context is None or not clips or getattr(optimizer, "gradient_accumulation_steps", None):
        return gradients
    present = [g for g in gradients if g is not None]
    summed = iter(optimizer._clip_gradients(context.all_reduce(tf.distribute.ReduceOp.SUM, present)))
    replicas = context.num_replicas_in_sync
    return [None if g is None else next(summed) / replicas for g in gradients]


# --------------------------------------------------------------- objectives
# Each objective turns one batch's posterior and analytic KL into the term
# added to the reconstruction, plus the extra values it logs. They read every
# weight from a model *variable*, so callbacks that change one between steps
# change what the compiled training step computes.


def _beta_objective(model, z, z_mean, z_log_var, kl) -> dict:
    """Higgins et al. (2017): β · KL."""
    return {"regulariser": model.beta_variable * model._objective_kl(z_mean, z_log_var, kl)}


def _capacity_objective(model, z, z_mean, z_log_var, kl) -> dict:
    """Burgess et al. (2018): γ · |KL − C|, with C ramped over the steps."""
    capacity = capacity_at_step(model.step_counter, model.capacity_max, model.capacity_steps)
    kl_term = model._objective_kl(z_mean, z_log_var, kl)
    return {
        "regulariser": model.gamma_variable * ops.abs(kl_term - capacity),
        "capacity": capacity,
    }


def _tcvae_objective(model, z, z_mean, z_log_var, kl) -> dict:
    """Chen et al. (2018): α · MI + β · TC + γ_dw · dimension-wise KL."""
    if model.dataset_size is None:
        raise ValueError(
            "The 'tcvae' objective needs the number of training examples: pass "
            "BetaVAE(..., dataset_size=N) (train_vae fills it in for array data). "
            "Received: dataset_size=None"
        )
    mi, tc, dw = (
        ops.mean(term)
        for term in tcvae_decomposition(
            z, z_mean, z_log_var, model.dataset_size, model.tcvae_estimator
        )
    )
    return {
        "regulariser": model.alpha_variable * mi
        + model.beta_variable * tc
        + model.gamma_dw_variable * dw,
        "mutual_information": mi,
        "total_correlation": tc,
        "dimension_wise_kl": dw,
    }


class Objective(NamedTuple):
    """A training objective: reconstruction + `regulariser`.

    Attributes:
        name: the registry key.
        regulariser: `f(model, z, z_mean, z_log_var, kl) -> dict` with the
            scalar `"regulariser"` added to the reconstruction loss and every
            name in `averaged_terms` and `current_values`.
        averaged_terms: extra loss terms logged like `kl_loss` (averaged
            over the epoch).
        current_values: values logged like `beta` (the value at the last
            step), e.g. the capacity C.
        weights: names of the model's extra non-trainable scalar weights
            (besides β) the objective reads.
    """

    name: str
    regulariser: Callable
    averaged_terms: tuple = ()
    current_values: tuple = ()
    weights: tuple = ()


OBJECTIVES: dict[str, Objective] = {
    "beta": Objective("beta", _beta_objective),
    "capacity": Objective(
        "capacity", _capacity_objective, current_values=("capacity",), weights=("gamma",)
    ),
    "tcvae": Objective(
        "tcvae",
        _tcvae_objective,
        averaged_terms=("mutual_information", "total_correlation", "dimension_wise_kl"),
        weights=("alpha", "gamma_dw"),
    ),
}


def get_objective(name: str) -> Objective:
    """Returns the registered objective called `name`.

    Raises:
        ValueError: if `name` is not registered; the message lists the names.
    """
    return check_choice("objective", name, OBJECTIVES)


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
    `kl = mean_i −0.5 Σ_j (1 + log σ²_ij − μ²_ij − σ²_ij)` and, for the
    default `objective="beta"` (Higgins et al., 2017),
    `total = reconstruction + β · kl`. The other objectives:

    * `"capacity"` (Burgess et al., 2018): `total = reconstruction +
      γ · |kl − C|`, with the capacity `C = min(C_max, C_max · s / S)` after
      `s` training steps (`S = capacity_steps`). `s` is the model's
      `step_counter` variable, which each training step increments and which
      is saved with the model, so a reloaded model continues the ramp even
      with a fresh optimizer. β is not used.
    * `"tcvae"` (Chen et al., 2018): `total = reconstruction + α · MI +
      β · TC + γ_dw · DW`, the KL split into index-code mutual information,
      total correlation and dimension-wise KL, estimated by minibatch-weighted
      sampling (see `betavae_tf.losses.tcvae_decomposition`; the estimates
      carry constant `log N` offsets). Needs `dataset_size`.

    With `free_bits = λ > 0` (Kingma et al., 2016) the `"beta"` and
    `"capacity"` objectives use `Σ_j max(λ, mean_i KL_ij)` in place of `kl`
    (see `betavae_tf.losses.free_bits_kl`); the logged `kl_loss` is always
    the true analytic KL.

    Logs: `loss` (= `total_loss`), `total_loss`, `reconstruction_loss`,
    `kl_loss` and `beta`; plus `capacity` for `"capacity"`, and
    `mutual_information`, `total_correlation` and `dimension_wise_kl` for
    `"tcvae"`.

    β and every other objective weight (γ, α, γ_dw) live in non-trainable
    variables (`beta_variable`, `gamma_variable`, ...), so a callback that
    changes one between epochs or steps changes what the compiled training
    step computes.

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
        objective: `"beta"`, `"capacity"` or `"tcvae"` (see above; the
            registry is `betavae_tf.models.OBJECTIVES`). Defaults to `"beta"`.
        gamma: γ, the weight of `|kl − C|` for `"capacity"`, >= 0. Defaults
            to 1000.0, Burgess et al.'s value for dSprites.
        capacity_max: C_max in nats for `"capacity"`, >= 0. Defaults to
            25.0 (Burgess et al., dSprites).
        capacity_steps: training steps over which C rises linearly from 0 to
            `capacity_max`, >= 0 (0: C_max from the start). Defaults to
            100000 (Burgess et al., dSprites).
        free_bits: λ, free nats per latent dimension for `"beta"` and
            `"capacity"`, >= 0; 0 turns free bits off. Defaults to 0.0.
        dataset_size: N, the number of training examples, for `"tcvae"`'s
            minibatch-weighted sampling; `train_vae` fills it in from array
            data when it is `None`. Defaults to `None`.
        alpha: α, the weight of the mutual information for `"tcvae"`, >= 0.
            Defaults to 1.0 (Chen et al.; the TC weight is `beta`, which
            Chen et al. set to about 6).
        gamma_dw: γ_dw, the weight of the dimension-wise KL for `"tcvae"`,
            >= 0. Defaults to 1.0 (Chen et al.).
        tcvae_estimator: how `"tcvae"` estimates log q(z): `"mws"`
            (minibatch-weighted sampling, Chen et al.'s default; its logged
            terms carry constant `log N` offsets) or `"mss"`
            (minibatch-stratified sampling, no offsets). Defaults to `"mws"`.
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
        objective: str = "beta",
        gamma: float = 1000.0,
        capacity_max: float = 25.0,
        capacity_steps: int = 100000,
        free_bits: float = 0.0,
        dataset_size: int | None = None,
        alpha: float = 1.0,
        gamma_dw: float = 1.0,
        tcvae_estimator: str = "mws",
        **kwargs,
    ):
        super().__init__(**kwargs)
        beta = check_float("beta", beta)
        self.objective = get_objective(objective)
        # γ, α and γ_dw as given: the initial values of the variables of the
        # objectives that use them, and the values reported (and kept in the
        # config) for those that do not.
        self._weight_values = {
            "gamma": check_float("gamma", gamma),
            "alpha": check_float("alpha", alpha),
            "gamma_dw": check_float("gamma_dw", gamma_dw),
        }
        self.capacity_max = check_float("capacity_max", capacity_max)
        self.capacity_steps = check_int("capacity_steps", capacity_steps, minimum=0)
        self.free_bits = check_float("free_bits", free_bits)
        if self.free_bits > 0 and self.objective.name == "tcvae":
            raise ValueError(
                "free_bits works with the 'beta' and 'capacity' objectives, not "
                f"'tcvae'. Received: free_bits={free_bits!r}"
            )
        self.dataset_size = (
            None if dataset_size is None else check_int("dataset_size", dataset_size)
        )
        self.tcvae_estimator = check_choice("tcvae_estimator", tcvae_estimator, TCVAE_ESTIMATORS)
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
        # The other objective weights exist only for the objectives that read
        # them, so a "beta" model has exactly the weights it always had.
        for weight in ("gamma", "alpha", "gamma_dw"):
            variable = None
            if weight in self.objective.weights:
                variable = self.add_weight(
                    shape=(),
                    initializer=keras.initializers.Constant(self._weight_values[weight]),
                    trainable=False,
                    name=weight,
                )
            setattr(self, f"{weight}_variable", variable)
        self.step_counter = None
        if self.objective.name == "capacity":
            self.step_counter = self.add_weight(
                shape=(), initializer="zeros", dtype="int64", trainable=False,
                name="step_counter",
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
        # Train endless input through betavae_tf.train_loop (see fit());
        # a run-time option like jit_compile, not part of the config.
        self.endless_loop = True
        self._fits_endless_input = False
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.objective_trackers = [
            keras.metrics.Mean(name=name) for name in self.objective.averaged_terms
        ]
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

    def _get_weight(self, name: str) -> float:
        variable = getattr(self, f"{name}_variable")
        if variable is None:  # the objective does not use it
            return self._weight_values[name]
        return float(ops.convert_to_numpy(variable))

    def _set_weight(self, name: str, value: float):
        value = check_float(name, value)
        variable = getattr(self, f"{name}_variable")
        if variable is None:
            self._weight_values[name] = value
        else:
            variable.assign(value)

    @property
    def gamma(self) -> float:
        """γ of the `"capacity"` objective (a float view of `gamma_variable`)."""
        return self._get_weight("gamma")

    @gamma.setter
    def gamma(self, value: float):
        self._set_weight("gamma", value)

    @property
    def alpha(self) -> float:
        """α of the `"tcvae"` objective (a float view of `alpha_variable`)."""
        return self._get_weight("alpha")

    @alpha.setter
    def alpha(self, value: float):
        self._set_weight("alpha", value)

    @property
    def gamma_dw(self) -> float:
        """γ_dw of the `"tcvae"` objective (a float view of `gamma_dw_variable`)."""
        return self._get_weight("gamma_dw")

    @gamma_dw.setter
    def gamma_dw(self, value: float):
        self._set_weight("gamma_dw", value)

    @property
    def capacity(self) -> float | None:
        """The capacity C in nats that the next training step of a
        `"capacity"` model uses; `None` for the other objectives."""
        if self.step_counter is None:
            return None
        return float(ops.convert_to_numpy(
            capacity_at_step(self.step_counter, self.capacity_max, self.capacity_steps)
        ))

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
            *self.objective_trackers,
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
            `kl_loss` (each a mean over the batch of per-example values; the
            KL is the true analytic KL even with free bits), plus the
            objective's extra terms (`capacity`; or `mutual_information`,
            `total_correlation`, `dimension_wise_kl`). Under a multi-replica
            `tf.distribute` strategy they are means over this replica's slice
            of the batch (each replica draws its own posterior noise);
            `train_step` and `test_step` average them over the global batch.
        """
        x = ops.cast(x, "float32")
        z_mean, z_log_var = self.encoder(x, training=training)
        z = _draw_posterior_sample(self.sampling, z_mean, z_log_var)
        decoded = self.decoder(z, training=training)
        reconstruction = ops.mean(self.negative_log_likelihood(x, decoded))
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        terms = self.objective.regulariser(self, z, z_mean, z_log_var, kl)
        return {
            "total_loss": reconstruction + terms.pop("regulariser"),
            "reconstruction_loss": reconstruction,
            "kl_loss": kl,
            **terms,
        }

    def _objective_kl(self, z_mean, z_log_var, kl):
        """The KL the objective weighs: `kl`, or its free-bits version."""
        if self.free_bits == 0:
            return kl
        return free_bits_kl(z_mean, z_log_var, self.free_bits)

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
        `_global_batch`); on one device this is the plain batch loss.
        """
        x = _features_of(data)
        with tf.GradientTape() as tape:
            losses, objective = _global_batch(self.compute_losses(x, training=True), x)
        gradients = tape.gradient(objective, self.trainable_weights)
        gradients = _clipped_across_replicas(self.optimizer, gradients)
        self.optimizer.apply(gradients, self.trainable_weights)
        if self.step_counter is not None:  # the capacity ramp's clock
            self.step_counter.assign_add(1)
        self._track(losses)
        return losses

    def train_step(self, data):
        return self._logs(self._train_batch(data))

    def test_step(self, data):
        x = _features_of(data)
        losses = _global_batch(self.compute_losses(x), x)[0]
        self._track(losses)
        return self._logs(losses)

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`; endless `tf.data` input trains through a leaner loop.

        With a `tf.data.Dataset` of infinite cardinality (and `steps_per_epoch`,
        which Keras then requires) every call into the compiled function runs
        exactly `steps_per_execution` steps, so `betavae_tf.train_loop` can
        skip Keras's end-of-data checks around each step. Same steps, losses
        and logs either way; set `model.endless_loop = False` (or
        `train_vae(endless_loop=False)`) for Keras's own loop.
        """
        endless = isinstance(x, tf.data.Dataset) and bool(
            x.cardinality() == tf.data.INFINITE_CARDINALITY
        )
        if endless != self._fits_endless_input:
            self.train_function = None
        self._fits_endless_input = endless
        return super().fit(x, *args, **kwargs)

    def make_train_function(self, force: bool = False):
        if self.train_function is not None and not force:
            return self.train_function
        overridden = type(self).train_step is not BetaVAE.train_step
        lean = self.endless_loop and self._fits_endless_input and not overridden
        if lean and uses_endless_loop(self):
            self.train_function = endless_train_function(self)
            return self.train_function
        return super().make_train_function(force)

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
                "objective": self.objective.name,
                "gamma": self.gamma,
                "capacity_max": self.capacity_max,
                "capacity_steps": self.capacity_steps,
                "free_bits": self.free_bits,
                "dataset_size": self.dataset_size,
                "alpha": self.alpha,
                "gamma_dw": self.gamma_dw,
                "tcvae_estimator": self.tcvae_estimator,
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

