"""betavae_tf 0.1's objective arguments on `BetaVAE` (`gamma=`, `tcvae_estimator=`, ...).

0.1 took every objective's arguments on the model itself; they map onto the
objective classes' arguments of the same name, and `BetaVAE` keeps them as
attributes (`LegacyObjectiveArguments`), so 0.1 code and files keep working.
"""

from __future__ import annotations

import inspect

import keras

from betavae_tf.objectives.base import Objective
from betavae_tf.objectives.classic import TCVAE, Beta, Capacity
from betavae_tf.objectives.registry import OBJECTIVES, get_objective

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


class _ObjectiveArgument:
    """A betavae_tf 0.1 argument of `BetaVAE` (`gamma`, `dataset_size`, ...).

    Reads and sets the objective's value when the objective takes it; else the
    value given to `BetaVAE` (0.1 kept those), or the 0.1 default.
    """

    def __set_name__(self, owner, name):
        self.legacy, self.name = name, LEGACY_ARGUMENTS[name][1]

    def __get__(self, model, owner=None):
        if model is None:
            return self
        if hasattr(model.objective, self.name):
            return getattr(model.objective, self.name)
        return model._unused_arguments.get(self.legacy, legacy_default(self.legacy))

    def __set__(self, model, value):
        value = check_legacy_argument(self.legacy, value)
        if hasattr(model.objective, self.name):
            setattr(model.objective, self.name, value)
        else:
            model._unused_arguments[self.legacy] = value


def _objective_variable(name: str) -> property:
    return property(
        lambda model: model.objective.variables.get(name),
        doc=f"The objective's `{name}` variable, or `None` if it has none.",
    )


class LegacyObjectiveArguments:
    """betavae_tf 0.1's objective arguments and variables as attributes of a model.

    `BetaVAE` inherits these views: `model.gamma`, `model.dataset_size`, ...
    read and set its objective's value (or the value given for an objective
    that does not take it), `model.gamma_variable`, ... are the objective's
    variables (or `None`).
    """

    gamma = _ObjectiveArgument()
    capacity_max = _ObjectiveArgument()
    capacity_steps = _ObjectiveArgument()
    free_bits = _ObjectiveArgument()
    dataset_size = _ObjectiveArgument()
    alpha = _ObjectiveArgument()
    gamma_dw = _ObjectiveArgument()
    tcvae_estimator = _ObjectiveArgument()
    gamma_variable = _objective_variable("gamma")
    alpha_variable = _objective_variable("alpha")
    gamma_dw_variable = _objective_variable("gamma_dw")


def deserialize_objective(config, custom_objects=None) -> Objective:
    """An `Objective` from `keras.saving.serialize_keras_object`'s dict."""
    objective = keras.saving.deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(objective, Objective):
        raise ValueError(f"objective must describe a betavae_tf Objective. Received: {config!r}")
    return objective
