"""A study: models × hyper-parameters × seeds on one ground-truth dataset.

A study is written as a small TOML or JSON file (or built from `betavae-tf
study` flags). Every key is checked, and a bad one is named in a one-line
error. Example (TOML):

    dataset = "dsprites"        # a data source with ground-truth factors
    steps = 3000                # training steps per run
    seeds = [0, 1]
    batch_size = 64
    network = "auto"            # auto | sbd | conv | dense
    encoding_dim = 10

    [[models]]
    objective = "beta"
    beta = [1, 4]               # a list is a grid axis

    [[models]]
    objective = "factor"
    gamma = 20

Every model entry names an objective (`betavae_tf.objectives.OBJECTIVES`) and
gives `beta` (the model's β) and that objective's arguments, each a value or a
list of values; the study is the product of the lists, times the seeds.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from typing import Any

NETWORKS = ("auto", "sbd", "conv", "dense")

# Top-level keys: (type check, description, default).
_KEYS = {
    "dataset": (str, "a data source with ground-truth factors", "dsprites"),
    "steps": (int, "training steps per run, >= 1", 3000),
    "seeds": (list, "a list of integer seeds >= 0", [0, 1]),
    "batch_size": (int, "examples per step, >= 2", 64),
    "learning_rate": (float, "Adam's learning rate, > 0", 1e-3),
    "network": (str, f"one of {list(NETWORKS)}", "auto"),
    "encoding_dim": (int, "latent size, >= 1", 10),
    "n_samples": (int, "images drawn from the dataset to train on, >= batch_size", 20000),
    "eval_scale": (float, "fraction of the metrics' default point counts, in (0, 1]", 1.0),
    "udr_points": (int, "inputs on which UDR compares the seeds' representations, >= 10", 1000),
    "models": (list, "a list of model tables, each with an 'objective'", None),
}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a study: a setting and a seed.

    Attributes:
        setting: the setting's name, e.g. `"factor gamma=20"` (same for all seeds).
        objective: the objective's registry name.
        beta: the model's β.
        arguments: the objective's arguments.
        seed: the run's seed.
    """

    setting: str
    objective: str
    beta: float
    arguments: dict
    seed: int

    @property
    def name(self) -> str:
        """A file-system-safe folder name, unique in the study: objective, β, arguments, seed."""
        parts = [self.objective, f"beta={self.beta:g}"]
        parts += [f"{key}={value:g}" if isinstance(value, (int, float)) else f"{key}={value}"
                  for key, value in sorted(self.arguments.items())]
        return re.sub(r"[^A-Za-z0-9_.=-]+", "_", "__".join(parts + [f"seed={self.seed}"]))


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A checked study (see the module docstring for the keys)."""

    models: tuple
    dataset: str = "dsprites"
    steps: int = 3000
    seeds: tuple = (0, 1)
    batch_size: int = 64
    learning_rate: float = 1e-3
    network: str = "auto"
    encoding_dim: int = 10
    n_samples: int = 20000
    eval_scale: float = 1.0
    udr_points: int = 1000

    def runs(self) -> list[RunSpec]:
        """Every run: each model entry's grid, times the seeds."""
        from betavae_tf.catalog import load_catalog

        titles = {k: v["title"] or k for k, v in load_catalog()["objectives"].items()}
        runs = []
        for entry in self.models:
            entry = dict(entry)
            objective = entry.pop("objective")
            axes = {key: value if isinstance(value, list) else [value] for key, value in entry.items()}
            keys = sorted(axes)
            for values in itertools.product(*(axes[key] for key in keys)):
                chosen = dict(zip(keys, values))
                beta = float(chosen.pop("beta", 1.0))
                parts = [titles[objective]] + ([f"β={beta:g}"] if "beta" in axes else [])
                parts += [f"{key}={value:g}" if isinstance(value, (int, float)) else f"{key}={value}"
                          for key, value in sorted(chosen.items())]
                label = " ".join(parts)
                runs += [RunSpec(label, objective, beta, chosen, seed) for seed in self.seeds]
        names = [run.name for run in runs]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"The study lists the same run twice ({twice[0]}); remove the duplicate.")
        return runs

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "models": [dict(m) for m in self.models],
                "seeds": list(self.seeds)}


def _bad(where: str, what: str) -> ValueError:
    return ValueError(f"Study {where}: {what}.")


# objective arguments that must be > 0 (the others >= 0), as the objective classes check them
_POSITIVE_ARGUMENTS = frozenset({"discriminator_learning_rate", "discriminator_units"})


def _check_number(where: str, value, kind, minimum=None, exclusive=False, maximum=None):
    ok_type = isinstance(value, (int, float)) if kind is float else isinstance(value, int)
    if isinstance(value, bool) or not ok_type:
        raise _bad(where, f"must be {'a number' if kind is float else 'an integer'}, not {value!r}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise _bad(where, f"must be {'>' if exclusive else '>='} {minimum}, not {value!r}")
    if maximum is not None and value > maximum:
        raise _bad(where, f"must be <= {maximum}, not {value!r}")
    return kind(value)


def check_spec(raw: dict, source: str = "study") -> StudySpec:
    """A `StudySpec` from a dict (a parsed TOML/JSON file); one-line errors name the bad key."""
    from betavae_tf.catalog import load_catalog

    if not isinstance(raw, dict):
        raise _bad(source, "must be a table of keys (dataset, steps, seeds, models, ...)")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise _bad(f"{source} key {unknown[0]!r}", f"is not a study key; use {sorted(_KEYS)}")
    if "models" not in raw:
        raise _bad(source, "needs 'models', a list of tables each with an 'objective'")
    catalog = load_catalog()
    values: dict[str, Any] = {}
    for key, (_kind, description, default) in _KEYS.items():
        value = raw.get(key, default)
        where = f"key {key!r}"
        if key == "dataset":
            if not isinstance(value, str) or value.partition(":")[0] not in catalog["data_sources"]:
                raise _bad(where, f"must be {description}, e.g. 'dsprites'; not {value!r}")
            if not catalog["data_sources"][value.partition(":")[0]]["ground_truth"]:
                with_factors = [k for k, s in catalog["data_sources"].items() if s["ground_truth"]]
                raise _bad(where, f"{value!r} has no ground-truth factors; use one of {with_factors}")
        elif key == "network":
            if value not in NETWORKS:
                raise _bad(where, f"must be {description}, not {value!r}")
        elif key == "seeds":
            if not isinstance(value, list) or not value:
                raise _bad(where, f"must be {description}, not {value!r}")
            value = tuple(_check_number(f"{where}[{i}]", s, int, 0, maximum=2**32 - 1)
                          for i, s in enumerate(value))
            if len(set(value)) != len(value):
                raise _bad(where, f"lists a seed twice: {list(value)}")
        elif key == "models":
            value = tuple(_check_model(i, entry, catalog) for i, entry in enumerate(value or []))
            if not value:
                raise _bad(where, "must list at least one model")
        elif key in ("learning_rate",):
            value = _check_number(where, value, float, 0, exclusive=True)
        elif key == "eval_scale":
            value = _check_number(where, value, float, 0, exclusive=True, maximum=1.0)
        else:
            minimum = {"batch_size": 2, "udr_points": 10}.get(key, 1)
            value = _check_number(where, value, int, minimum)
        values[key] = value
    if values["n_samples"] < values["batch_size"]:
        raise _bad("key 'n_samples'", f"must be >= batch_size ({values['batch_size']}), not {values['n_samples']}")
    spec = StudySpec(**values)
    spec.runs()  # names are unique
    return spec


def _check_model(index: int, entry, catalog: dict) -> dict:
    where = f"models[{index}]"
    if not isinstance(entry, dict) or "objective" not in entry:
        raise _bad(where, "must be a table with an 'objective'")
    objective = entry["objective"]
    objectives = catalog["objectives"]
    if objective not in objectives:
        raise _bad(f"{where} objective", f"{objective!r} is not one of {list(objectives)}")
    takes = set(objectives[objective]["arguments"]) - {"dataset_size"}
    checked = {"objective": objective}
    for key, value in entry.items():
        if key == "objective":
            continue
        if key != "beta" and key not in takes:
            raise _bad(f"{where} key {key!r}", f"is not an argument of the {objective!r} objective; "
                       f"it takes beta and {sorted(takes)}")
        items = value if isinstance(value, list) else [value]
        if not items:
            raise _bad(f"{where} key {key!r}", "is an empty list")
        default = objectives[objective]["arguments"].get(key, 1.0)
        for item in items:
            if isinstance(default, str):
                if not isinstance(item, str):
                    raise _bad(f"{where} key {key!r}", f"must be text, not {item!r}")
                if key == "estimator" and item not in catalog["tcvae_estimators"]:
                    raise _bad(f"{where} key {key!r}",
                               f"must be one of {catalog['tcvae_estimators']}, not {item!r}")
            else:
                _check_number(f"{where} key {key!r}", item,
                              int if isinstance(default, int) and not isinstance(default, bool) else float, 0,
                              exclusive=key in _POSITIVE_ARGUMENTS)
        checked[key] = value
    return checked


def load_spec(path: str | os.PathLike) -> StudySpec:
    """Reads and checks a study file (`.toml` or `.json`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No study file at {path!r}; check the path.")
    try:
        if path.endswith(".toml"):
            try:
                import tomllib
            except ImportError:  # Python 3.10: the same parser, as its own package
                import tomli as tomllib

            with open(path, "rb") as handle:
                raw = tomllib.load(handle)
        elif path.endswith(".json"):
            with open(path, encoding="utf-8") as handle:
                raw = json.load(handle)
        else:
            raise ValueError("the study file must end in .toml or .json")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Could not read the study file {path!r}: {' '.join(str(error).split())}") from None
    return check_spec(raw, os.path.basename(path))
