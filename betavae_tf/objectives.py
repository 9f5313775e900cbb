"""What a `BetaVAE` minimises besides the reconstruction: one class per objective.

An objective turns one batch's posterior into the regulariser added to the
reconstruction loss, plus the values it logs. Each is a small registered,
serialisable class that owns its hyper-parameters, config and logged terms;
the maths are pure functions in `betavae_tf.losses`.

=========== ============================ ======================================
key         class                        total loss
=========== ============================ ======================================
`beta`      `Beta` (Higgins et al. 2017) recon + β·KL
`capacity`  `Capacity` (Burgess et al.)  recon + γ·|KL − C(step)|
`annealed`  `Capacity` (same; the name   AnnealedVAE in disentanglement_lib
            disentanglement_lib uses)
`tcvae`     `TCVAE` (Chen et al. 2018)   recon + α·MI + β·TC + γ_dw·DW
`factor`    `FactorVAE` (Kim & Mnih      recon + β·KL + γ·TC, TC estimated by
            2018)                        a discriminator trained in the step
`dip1`      `DIPVAE1` (Kumar et al.      recon + β·KL + λ_od·Σ_{i≠j} C_ij² +
            2018), C = Cov[μ(x)]         λ_d·Σ_i (C_ii − 1)², λ_d = 10·λ_od
`dip2`      `DIPVAE2` (Kumar et al.      the same with C = Cov[z] of q(z),
            2018)                        λ_d = λ_od
=========== ============================ ======================================

How an objective plugs into the model (no special case in `train_step`):

* `build(model)` creates the objective's scalar weights (γ, α, ...) as
  non-trainable variables *of the model*, in a fixed order: that is where
  files saved by betavae_tf 0.1 keep them, so they load unchanged. A weight
  that changes during training (β, γ, a step counter) is a variable, so
  callbacks that assign it change what the compiled step computes.
* `regulariser(posterior, beta)` returns `{"regulariser": scalar, ...terms}`.
* `networks` lists Keras layers the objective trains itself (a discriminator,
  say); the model tracks them, so they are saved with it, and keeps them out
  of its own optimizer. `train_networks(posterior)` runs their update in the
  same training step, after the model's, and returns terms to log.
* `after_step()` runs after every optimizer step (e.g. a step counter).
"""

from __future__ import annotations

import inspect
from typing import ClassVar, NamedTuple

import keras
import tensorflow as tf
from keras import ops

from betavae_tf import replicas
from betavae_tf.layers import TotalCorrelationDiscriminator
from betavae_tf.losses import (
    TCVAE_ESTIMATORS,
    capacity_at_step,
    dip_vae_penalty,
    factor_vae_total_correlation,
    free_bits_kl,
    tcvae_decomposition,
)
from betavae_tf.validation import check_choice, check_float, check_int


class Posterior(NamedTuple):
    """One batch's posterior, as the objectives see it.

    Attributes:
        z: the sample, float tensor `(batch, latent_dim)`.
        z_mean: float tensor `(batch, latent_dim)`.
        z_log_var: float tensor `(batch, latent_dim)`.
        kl: the batch mean of the analytic KL to the prior, a scalar.
    """

    z: object
    z_mean: object
    z_log_var: object
    kl: object


class Weight:
    """A float hyper-parameter kept in a non-trainable model variable once built.

    Before `build` (and for the config) it is a plain validated float; after,
    reading gives the variable's value and assigning sets the variable.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, objective, owner=None):
        if objective is None:
            return self
        variable = objective.variables.get(self.name)
        if variable is None:
            return objective._values[self.name]
        if not tf.executing_eagerly():  # while a step is traced (e.g. in a log message)
            return variable
        return float(ops.convert_to_numpy(variable))

    def __set__(self, objective, value):
        value = check_float(self.name, value)
        variable = objective.variables.get(self.name)
        if variable is None:
            objective._values[self.name] = value
        else:
            variable.assign(value)


class Objective:
    """Base class: the regulariser a `BetaVAE` adds to its reconstruction loss.

    Subclasses set `key` (the registry name), declare their `Weight`s in
    `weights` (in the order their variables are created), list the extra
    terms they log, and implement `regulariser`.
    """

    key: ClassVar[str] = ""
    weights: ClassVar[tuple[str, ...]] = ()
    averaged_terms: ClassVar[tuple[str, ...]] = ()  # logged like kl_loss (epoch means)
    current_values: ClassVar[tuple[str, ...]] = ()  # logged like beta (last value)

    def __init__(self):
        self.variables: dict = {}
        self._values: dict = {}

    @property
    def name(self) -> str:
        """The registry key, e.g. `"capacity"`."""
        return self.key

    def build(self, model: keras.Model) -> None:
        """Creates this objective's weights as non-trainable variables of `model`."""
        for name in self.weights:
            self.variables[name] = model.add_weight(
                shape=(), initializer=keras.initializers.Constant(self._values[name]),
                trainable=False, name=name,
            )

    @property
    def networks(self) -> list:
        """Keras layers this objective trains itself (none by default)."""
        return []

    def regulariser(self, posterior: Posterior, beta) -> dict:
        """`{"regulariser": scalar added to the reconstruction, **logged terms}`.

        Args:
            posterior: the batch's `Posterior`.
            beta: the model's β variable.
        """
        raise NotImplementedError

    def train_networks(self, posterior: Posterior, training: bool = True) -> dict:
        """Trains `networks` on the batch (after the model's step; with
        `training=False`, in `test_step`, only computes their losses); returns
        terms to log. Does nothing by default."""
        return {}

    def after_step(self) -> None:
        """Runs after every optimizer step of the model."""
        return None  # a body AutoGraph can convert (a bare docstring it cannot)

    def missing_dataset_size(self) -> bool:
        """Whether training needs a `dataset_size` this objective lacks."""
        return False

    def get_config(self) -> dict:
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"


def _kl_term(posterior: Posterior, free_bits: float):
    """The KL an objective weighs: the batch KL, or its free-bits version."""
    if free_bits == 0:
        return posterior.kl
    return free_bits_kl(posterior.z_mean, posterior.z_log_var, free_bits)


@keras.saving.register_keras_serializable(package="betavae_tf")
class Beta(Objective):
    """Higgins et al. (2017): `β · KL`, β being the model's `beta_variable`.

    Args:
        free_bits: free nats λ per latent dimension (Kingma et al., 2016), 0
            for none; the KL term becomes `Σ_j max(λ, mean_i KL_ij)`. >= 0.
            Defaults to 0.0.
    """

    key = "beta"

    def __init__(self, free_bits: float = 0.0):
        super().__init__()
        self.free_bits = check_float("free_bits", free_bits)

    def regulariser(self, posterior: Posterior, beta) -> dict:
        return {"regulariser": beta * _kl_term(posterior, self.free_bits)}


@keras.saving.register_keras_serializable(package="betavae_tf")
class Capacity(Objective):
    """Burgess et al. (2018), AnnealedVAE: `γ · |KL − C|`, C ramped over the steps.

    `C = min(C_max, C_max · s / S)` after `s` training steps (`S =
    capacity_steps`). `s` is the `step_counter` variable, which every
    training step increments and which is saved with the model, so a
    reloaded model continues the ramp. β is not used.

    Args:
        gamma: weight γ of |KL − C|, >= 0. Defaults to 1000.0 (Burgess et
            al., dSprites).
        capacity_max: the final capacity C_max in nats, >= 0. Defaults to 25.0.
        capacity_steps: training steps over which C rises from 0 to C_max
            (0: C_max at once), >= 0. Defaults to 100000.
        free_bits: free nats per latent dimension (Kingma et al., 2016), 0 for
            none; see `Beta`. Defaults to 0.0.
    """

    key = "capacity"
    weights = ("gamma",)
    current_values = ("capacity",)
    gamma = Weight()

    def __init__(self, gamma: float = 1000.0, capacity_max: float = 25.0,
                 capacity_steps: int = 100000, free_bits: float = 0.0):
        super().__init__()
        self.gamma = gamma
        self.capacity_max = check_float("capacity_max", capacity_max)
        self.capacity_steps = check_int("capacity_steps", capacity_steps, minimum=0)
        self.free_bits = check_float("free_bits", free_bits)
        self.step_counter = None

    def build(self, model: keras.Model) -> None:
        super().build(model)
        self.step_counter = model.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False, name="step_counter",
        )

    @property
    def capacity(self):
        """C for the next training step, a float32 scalar tensor (needs `build`)."""
        return capacity_at_step(self.step_counter, self.capacity_max, self.capacity_steps)

    def regulariser(self, posterior: Posterior, beta) -> dict:
        capacity = self.capacity
        kl = _kl_term(posterior, self.free_bits)
        return {"regulariser": self.variables["gamma"] * ops.abs(kl - capacity), "capacity": capacity}

    def after_step(self) -> None:
        self.step_counter.assign_add(1)


@keras.saving.register_keras_serializable(package="betavae_tf")
class TCVAE(Objective):
    """Chen et al. (2018): `α · MI + β · TC + γ_dw · DW`, the KL split in three.

    Index-code mutual information, total correlation and dimension-wise KL,
    estimated on the minibatch (see `betavae_tf.losses.tcvae_decomposition`;
    `"mws"` estimates carry constant `log N` offsets). β is the model's.

    Args:
        alpha: weight α of the index-code mutual information, >= 0.
            Defaults to 1.0.
        gamma_dw: weight γ_dw of the dimension-wise KL, >= 0. Defaults to 1.0.
        dataset_size: the number N of training examples; `train_vae` fills
            it in from array data when `None`. Defaults to `None`.
        estimator: how log q(z) is estimated: mws (minibatch-weighted,
            Chen et al.'s default) or mss (minibatch-stratified, no offsets).
            Defaults to `"mws"`.
    """

    key = "tcvae"
    weights = ("alpha", "gamma_dw")
    averaged_terms = ("mutual_information", "total_correlation", "dimension_wise_kl")
    alpha = Weight()
    gamma_dw = Weight()

    def __init__(self, alpha: float = 1.0, gamma_dw: float = 1.0, dataset_size: int | None = None,
                 estimator: str = "mws"):
        super().__init__()
        self.alpha = alpha
        self.gamma_dw = gamma_dw
        self.dataset_size = None if dataset_size is None else check_int("dataset_size", dataset_size)
        self.estimator = check_choice("tcvae_estimator", estimator, TCVAE_ESTIMATORS)

    def missing_dataset_size(self) -> bool:
        return self.dataset_size is None

    def regulariser(self, posterior: Posterior, beta) -> dict:
        if self.dataset_size is None:
            raise ValueError(
                "The 'tcvae' objective needs the number of training examples: pass "
                "BetaVAE(..., dataset_size=N) (train_vae fills it in for array data). "
                "Received: dataset_size=None"
            )
        mi, tc, dw = (
            ops.mean(term)
            for term in tcvae_decomposition(posterior.z, posterior.z_mean, posterior.z_log_var,
                                            self.dataset_size, self.estimator)
        )
        return {
            "regulariser": self.variables["alpha"] * mi + beta * tc + self.variables["gamma_dw"] * dw,
            "mutual_information": mi,
            "total_correlation": tc,
            "dimension_wise_kl": dw,
        }


@keras.saving.register_keras_serializable(package="betavae_tf")
class FactorVAE(Objective):
    """Kim & Mnih (2018): `β · KL + γ · TC`, TC estimated by a discriminator.

    A discriminator on the codes (`betavae_tf.layers.
    TotalCorrelationDiscriminator`) estimates the total correlation by the
    density-ratio trick, `TC ≈ mean(logits[:, 0] − logits[:, 1])`
    (`betavae_tf.losses.factor_vae_total_correlation`), and the model
    minimises `reconstruction + β · KL + γ · TC` with β its `beta_variable`
    (1 by default: disentanglement_lib's FactorVAE). In the same training
    step, after the model's update, the discriminator takes one step of its
    own Adam telling the batch's codes z from their dimension-wise
    permutation (`betavae_tf.losses.factor_vae_discriminator_loss`), as in
    disentanglement_lib. The discriminator and its Adam's state are saved
    and reloaded with the model. Logs `total_correlation` and
    `discriminator_loss` (epoch means; `val_discriminator_loss` is computed
    without training it). Training on several replicas is refused.

    Args:
        gamma: weight γ of the total correlation, >= 0. Defaults to 10.0
            (the study of Locatello et al. sweeps 10, 20, 30, 40, 50, 100).
        discriminator_units: width of the discriminator's hidden layers.
            Defaults to 1000.
        discriminator_layers: number of hidden layers of the discriminator.
            Defaults to 6.
        discriminator_learning_rate: learning rate of the discriminator's
            Adam (β1 0.5, β2 0.9, ε 1e-8). Defaults to 1e-4.
    """

    key = "factor"
    weights = ("gamma",)
    averaged_terms = ("total_correlation", "discriminator_loss")
    gamma = Weight()

    def __init__(self, gamma: float = 10.0, discriminator_units: int = 1000,
                 discriminator_layers: int = 6, discriminator_learning_rate: float = 1e-4):
        super().__init__()
        self.gamma = gamma
        self.discriminator_units = check_int("discriminator_units", discriminator_units)
        self.discriminator_layers = check_int("discriminator_layers", discriminator_layers, minimum=0)
        self.discriminator_learning_rate = check_float(
            "discriminator_learning_rate", discriminator_learning_rate, exclusive_minimum=True)
        self.discriminator = None

    def build(self, model: keras.Model) -> None:
        super().build(model)
        self.discriminator = TotalCorrelationDiscriminator(
            units=self.discriminator_units, hidden_layers=self.discriminator_layers,
            learning_rate=self.discriminator_learning_rate,
            seed=None if model.seed is None else model.seed + 2,
            name="total_correlation_discriminator",
        )
        self.discriminator.build((None, model.encoding_dim))

    @property
    def networks(self) -> list:
        return [] if self.discriminator is None else [self.discriminator]

    def regulariser(self, posterior: Posterior, beta) -> dict:
        if replicas.multi_replica_context() is not None:
            raise ValueError(
                "The 'factor' objective trains its discriminator on one device only; train "
                "it without a multi-replica tf.distribute strategy (strategy=None)."
            )
        tc = factor_vae_total_correlation(self.discriminator(posterior.z))
        return {
            "regulariser": beta * posterior.kl + self.variables["gamma"] * tc,
            "total_correlation": tc,
        }

    def train_networks(self, posterior: Posterior, training: bool = True) -> dict:
        return {"discriminator_loss": self.discriminator.update(posterior.z, training=training)}


class _DIPVAE(Objective):
    """DIP-VAE (Kumar et al., 2018); `kind` and the λ_d factor set by the subclasses."""

    kind: ClassVar[str] = ""
    lambda_d_factor: ClassVar[float] = 1.0
    weights = ("lambda_od", "lambda_d")
    averaged_terms = ("dip_off_diagonal", "dip_diagonal")
    lambda_od = Weight()
    lambda_d = Weight()

    def __init__(self, lambda_od: float = 10.0, lambda_d: float | None = None):
        super().__init__()
        self.lambda_od = lambda_od
        self.lambda_d = self.lambda_d_factor * self.lambda_od if lambda_d is None else lambda_d

    def regulariser(self, posterior: Posterior, beta) -> dict:
        penalty, off_diagonal, diagonal = dip_vae_penalty(
            posterior.z_mean, posterior.z_log_var, self.variables["lambda_od"],
            self.variables["lambda_d"], self.kind,
        )
        return {
            "regulariser": beta * posterior.kl + penalty,
            "dip_off_diagonal": off_diagonal,
            "dip_diagonal": diagonal,
        }


@keras.saving.register_keras_serializable(package="betavae_tf")
class DIPVAE1(_DIPVAE):
    """Kumar et al. (2018), DIP-VAE-I: `β · KL` + the covariance of the means pushed to I.

    With `C = Cov[μ(x)]` the covariance of the encoder means over the batch,
    the regulariser is `β · KL + λ_od · Σ_{i≠j} C_ij² + λ_d · Σ_i (C_ii − 1)²`
    (`betavae_tf.losses.dip_vae_penalty`, kind `"i"`), β the model's
    `beta_variable` (1 by default, as in disentanglement_lib). Logs the two
    unweighted sums as `dip_off_diagonal` and `dip_diagonal`.

    Args:
        lambda_od: weight λ_od of the squared off-diagonal covariances, >= 0.
            Defaults to 10.0 (the study of Locatello et al. sweeps 1, 2, 5,
            10, 20, 50).
        lambda_d: weight λ_d of the squared deviations of the variances from
            1, >= 0; by default (`None`) 10·λ_od for dip1 and λ_od for dip2,
            as in the paper. Defaults to `None`.
    """

    key = "dip1"
    kind = "i"
    lambda_d_factor = 10.0


@keras.saving.register_keras_serializable(package="betavae_tf")
class DIPVAE2(_DIPVAE):
    """Kumar et al. (2018), DIP-VAE-II: `β · KL` + the covariance of q(z) pushed to I.

    As `DIPVAE1` with `C = Cov[z] = E[diag σ²(x)] + Cov[μ(x)]`, the
    covariance of the aggregate posterior over the batch
    (`betavae_tf.losses.dip_vae_penalty`, kind `"ii"`).

    Args:
        lambda_od: weight λ_od of the squared off-diagonal covariances, >= 0.
            Defaults to 10.0 (the study of Locatello et al. sweeps 1, 2, 5,
            10, 20, 50).
        lambda_d: weight λ_d of the squared deviations of the variances from
            1, >= 0; by default (`None`) 10·λ_od for dip1 and λ_od for dip2,
            as in the paper. Defaults to `None`.
    """

    key = "dip2"
    kind = "ii"
    lambda_d_factor = 1.0


OBJECTIVES: dict[str, type[Objective]] = {
    "beta": Beta,
    "capacity": Capacity,
    "annealed": Capacity,
    "tcvae": TCVAE,
    "factor": FactorVAE,
    "dip1": DIPVAE1,
    "dip2": DIPVAE2,
}
"""Objective classes by the names the literature (and the CLI) uses."""


def get_objective(name: str) -> type[Objective]:
    """The objective class registered as `name`; raises listing the names."""
    return check_choice("objective", name, OBJECTIVES)


def objective_arguments(name: str) -> dict:
    """`{argument: default}` of the objective class `name` (the CLI's flags)."""
    parameters = inspect.signature(get_objective(name)).parameters
    return {key: parameter.default for key, parameter in parameters.items()}


# betavae_tf 0.1 took the objectives' arguments on BetaVAE itself; they map
# onto the classes' arguments of the same name (the estimator was renamed).
LEGACY_ARGUMENTS = {
    "gamma": (Capacity, "gamma"),
    "capacity_max": (Capacity, "capacity_max"),
    "capacity_steps": (Capacity, "capacity_steps"),
    "free_bits": (Beta, "free_bits"),
    "dataset_size": (TCVAE, "dataset_size"),
    "alpha": (TCVAE, "alpha"),
    "gamma_dw": (TCVAE, "gamma_dw"),
    "tcvae_estimator": (TCVAE, "estimator"),
}


LEGACY_OBJECTIVES = (Beta, Capacity, TCVAE)
"""The objectives of betavae_tf 0.1, whose models keep 0.1's config format."""


def legacy_default(argument: str):
    """What `BetaVAE` reports for a 0.1 argument its objective does not take."""
    owner, name = LEGACY_ARGUMENTS[argument]
    return inspect.signature(owner).parameters[name].default


def check_legacy_argument(argument: str, value):
    """`value` validated as its 0.1 argument was (same one-line errors)."""
    owner, name = LEGACY_ARGUMENTS[argument]
    return getattr(owner(**{name: value}), name)


def resolve_objective(objective, **legacy) -> tuple[Objective, dict]:
    """The `Objective` for `BetaVAE(objective=..., gamma=..., ...)`.

    Args:
        objective: a registry name (`"capacity"`) or an `Objective`.
        **legacy: betavae_tf 0.1's arguments (`LEGACY_ARGUMENTS`), `None`
            when not given. With a name they configure the class; with an
            instance, the ones it takes must not be given.

    Returns:
        `(objective, unused)`: the objective, and the given arguments it does
        not take, validated (0.1 kept them; `BetaVAE` still reports them).

    Raises:
        ValueError: for an unknown name, a bad value, `free_bits` for an
            objective without free bits, or an argument given twice.
    """
    given = {k: v for k, v in legacy.items() if v is not None}
    if isinstance(objective, Objective):
        kind, instance = type(objective), objective
    else:
        kind, instance = get_objective(objective), None
    takes = set(inspect.signature(kind).parameters)
    taken = {LEGACY_ARGUMENTS[k][1]: v for k, v in given.items() if LEGACY_ARGUMENTS[k][1] in takes}
    unused = {k: check_legacy_argument(k, v) for k, v in given.items()
              if LEGACY_ARGUMENTS[k][1] not in takes}
    # A config saved by 0.1 lists every argument; keep only what was changed.
    unused = {k: v for k, v in unused.items() if v != legacy_default(k)}
    if unused.get("free_bits", 0.0) > 0:
        users = sorted({c.key for c in OBJECTIVES.values()
                        if "free_bits" in inspect.signature(c).parameters})
        raise ValueError(
            f"free_bits works with the {' and '.join(repr(k) for k in users)} objectives, not "
            f"{kind.key!r}. Received: free_bits={legacy['free_bits']!r}"
        )
    if instance is None:
        return kind(**taken), unused
    if taken:
        raise ValueError(
            f"Pass {sorted(taken)} to {kind.__name__}(...), not to BetaVAE, when objective "
            f"is an objective object. Received: objective={instance!r}"
        )
    return instance, unused


def deserialize_objective(config, custom_objects=None) -> Objective:
    """An `Objective` from `keras.saving.serialize_keras_object`'s dict."""
    objective = keras.saving.deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(objective, Objective):
        raise ValueError(f"objective must describe a betavae_tf Objective. Received: {config!r}")
    return objective
