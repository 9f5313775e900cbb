"""`OBJECTIVES`: the objective classes by the names the literature (and the CLI) uses."""

from __future__ import annotations

import inspect

from betavae_tf.objectives.base import Objective
from betavae_tf.objectives.classic import TCVAE, Beta, Capacity
from betavae_tf.objectives.dip import DIPVAE1, DIPVAE2
from betavae_tf.objectives.factor import FactorVAE
from betavae_tf.validation import check_choice

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
