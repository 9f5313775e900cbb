"""Builds `betavae_tf/catalog.json` from the library (see `betavae_tf.catalog`).

`betavae-tf --help` must answer at once, but the registries (likelihoods,
objectives, presets, data sources, strategies) and the defaults (the
signatures of `train_run`, `train_vae`, `beta_sweep`, ...) live in modules
that import TensorFlow. `build_catalog()` collects them here;
`betavae_tf.catalog.load_catalog()` reads the committed snapshot.
`tests/test_cli_catalog.py` fails when the two differ; regenerate with

    python -m betavae_tf.cli_catalog
"""

from __future__ import annotations

import dataclasses
import inspect
import json

from betavae_tf.catalog import PATH, load_catalog  # noqa: F401 (its old home)


def _defaults(function, skip=()) -> dict:
    """`{argument: default}` of a function's keyword arguments with JSON-able defaults."""
    out = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.default is inspect.Parameter.empty or name in skip:
            continue
        value = parameter.default
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, (bool, int, float, str, list)):
            out[name] = value
    return out


def _first_line(obj) -> str:
    return (inspect.getdoc(obj) or "").splitlines()[0] if inspect.getdoc(obj) else ""


def _argument_help(obj) -> dict:
    """`{argument: its first sentence}` from the `Args:` section of `obj`'s docstring."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    helps, current = {}, None
    inside = False
    for line in lines:
        if line.strip() == "Args:":
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        if inside and line.startswith("    ") and not line.startswith("     ") and ":" in line:
            current, text = line.strip().split(":", 1)
            helps[current] = text.strip()
        elif inside and current and line.strip():
            helps[current] += " " + line.strip()
    return {name: text.split(". ")[0].rstrip(".") for name, text in helps.items()}


def build_catalog() -> dict:
    """The catalog, from the library (imports TensorFlow)."""
    from betavae_tf import (
        __version__,
        distribute,
        evaluation,
        losses,
        objectives,
        plots,
        presets,
        runs,
    )
    from betavae_tf.datasets import sources
    from betavae_tf.study import spec as study_spec
    from betavae_tf.sweep import beta_sweep
    from betavae_tf.training import train_vae

    return {
        "version": __version__,
        "likelihoods": sorted(losses.LIKELIHOODS),
        "objectives": {
            name: {"class": kind.__name__, "title": kind.title, "doc": _first_line(kind),
                   "arguments": objectives.objective_arguments(name),
                   "help": _argument_help(kind)}
            for name, kind in objectives.OBJECTIVES.items()
        },
        "tcvae_estimators": list(losses.TCVAE_ESTIMATORS),
        "presets": sorted(presets.CONV_PRESETS),
        "data_sources": {
            kind: {"path": source.path, "help": source.help, "ground_truth": source.ground_truth is not None}
            for kind, source in sources.DATA_SOURCES.items()
        },
        "strategies": list(distribute.STRATEGIES),
        "schedules": list(runs.SCHEDULES),
        "model_kinds": list(runs.MODEL_KINDS),
        "model_formats": list(runs.MODEL_FORMATS),
        "metrics": list(evaluation.DISENTANGLEMENT_METRICS),
        "defaults": {
            "data": {f.name: f.default for f in dataclasses.fields(runs.DataSettings)},
            "model": {f.name: f.default for f in dataclasses.fields(runs.ModelSettings)
                      if f.default is not dataclasses.MISSING},
            "schedule": {f.name: f.default for f in dataclasses.fields(runs.ScheduleSettings)},
            "train_run": _defaults(runs.train_run, skip=("output_dir", "log")),
            "train_vae": _defaults(train_vae),
            "beta_sweep": _defaults(beta_sweep),
            "evaluate_disentanglement": _defaults(evaluation.evaluate_disentanglement),
            "plot_samples": _defaults(plots.plot_samples),
            "plot_reconstructions": _defaults(plots.plot_reconstructions),
            "plot_interpolation": _defaults(plots.plot_interpolation),
            "plot_latent_traversals": _defaults(plots.plot_latent_traversals),
            "study": {key: default for key, (_, _, default) in study_spec._KEYS.items()
                      if key != "models"},
        },
        "study_keys": {key: description for key, (_, description, _) in study_spec._KEYS.items()},
        "study_networks": list(study_spec.NETWORKS),
    }


def write_catalog(path: str = PATH) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(build_catalog(), handle, indent=1, ensure_ascii=False)
        handle.write("\n")


if __name__ == "__main__":
    write_catalog()
    print(f"Wrote {PATH}")
