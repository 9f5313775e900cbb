"""Disentanglement studies: many models, hyper-parameters and seeds, then a comparison.

* `spec`: the study (a TOML/JSON file or flags), checked key by key.
* `runner`: `run_study` runs every run in its own process, `jobs` at a time,
  resumable, a failed run recorded and the others going on.
* `run`: one run: train, save, evaluate every metric, write a record.
* `report`: UDR (unsupervised model selection), `results.csv`, `summary.md`,
  `report.html`; `figures`: the study's pictures.

Example:
    >>> from betavae_tf.study import check_spec
    >>> spec = check_spec({"dataset": "synthetic", "steps": 10, "seeds": [0, 1],
    ...                    "models": [{"objective": "beta", "beta": [1, 4]}]})
    >>> [run.name for run in spec.runs()][:2]
    ['beta__beta=1__seed=0', 'beta__beta=1__seed=1']
    >>> spec.runs()[2].setting
    'β-VAE β=4'
"""

from betavae_tf.study.runner import run_study
from betavae_tf.study.spec import RunSpec, StudySpec, check_spec, load_spec

__all__ = ["RunSpec", "StudySpec", "check_spec", "load_spec", "run_study"]
