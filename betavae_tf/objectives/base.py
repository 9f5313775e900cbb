"""The base of every objective: `Objective`, its `Weight`s and the batch's `Posterior`.

See `betavae_tf.objectives` for how an objective plugs into `BetaVAE`.
"""

from __future__ import annotations

import inspect
from typing import ClassVar, NamedTuple

import keras
import tensorflow as tf
from keras import ops

from betavae_tf.losses import free_bits_kl
from betavae_tf.validation import check_float


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
    title: ClassVar[str] = ""  # how reports name it, e.g. "β-TCVAE"
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
        try:
            config = self.get_config()
        except (NotImplementedError, TypeError, ValueError):  # inside a graph: no values
            return f"<{type(self).__name__} objective>"
        options = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({options})"


def _kl_term(posterior: Posterior, free_bits: float):
    """The KL an objective weighs: the batch KL, or its free-bits version."""
    if free_bits == 0:
        return posterior.kl
    return free_bits_kl(posterior.z_mean, posterior.z_log_var, free_bits)
