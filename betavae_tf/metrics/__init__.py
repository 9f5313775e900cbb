"""Disentanglement metrics and posterior-collapse diagnostics.

The metrics follow google-research's disentanglement_lib (Locatello et al.,
2019): the same definitions and default hyper-parameters, with deviations
stated in each docstring. Each is called as
`metric(representation_fn, dataset, random_state, **hyper_parameters)` and
returns a plain dict of Python numbers (JSON-serialisable):

* `mig` (Chen et al., 2018): `{"discrete_mig", "mig_per_factor"}`.
* `beta_vae_score` (Higgins et al., 2017): `{"train_accuracy", "eval_accuracy"}`.
* `factor_vae_score` (Kim and Mnih, 2018): `{"train_accuracy", "eval_accuracy",
  "num_active_dims"}`.
* `dci` (Eastwood and Williams, 2018): `{"disentanglement", "completeness",
  "informativeness_train", "informativeness_test"}`.
* `sap` (Kumar et al., 2018): `{"sap_score"}`.

`representation_fn` maps observations `[batch, *observation_shape]` to codes
`[batch, num_latents]` (NumPy); `mean_representation(model)` gives a
`BetaVAE`'s posterior means. `dataset` is a
`betavae_tf.datasets.GroundTruthData` (e.g. `DSprites()`), `random_state` a
`np.random.RandomState` or an integer seed.

The diagnostics `kl_per_dimension`, `active_units` and
`posterior_collapse_warning` take a model and data instead, because they need
the posterior variances.

UDR (Duan et al., 2020) needs no ground-truth factors but several models: it
ranks K trained models by how well their latents match those of the others
(`udr(models, x, random_state)`, or `compute_udr(representations,
kl_divergences)` on arrays), returning a `UDRResult` (`model_scores` `(K,)`,
`pairwise` `(K, K)`; `.to_dict()` for JSON).

Example:
    >>> from betavae_tf.datasets import SyntheticFactors
    >>> data = SyntheticFactors(observation_dim=None)  # observations = factors
    >>> round(mig(lambda x: x, data, random_state=0, num_train=500)["discrete_mig"], 2)
    0.99
"""

from betavae_tf.metrics.beta_vae_score import beta_vae_score
from betavae_tf.metrics.dci import dci
from betavae_tf.metrics.diagnostics import (
    PosteriorCollapseWarning,
    active_units,
    kl_per_dimension,
    posterior_collapse_warning,
)
from betavae_tf.metrics.factor_vae_score import factor_vae_score
from betavae_tf.metrics.mig import mig
from betavae_tf.metrics.sap import sap
from betavae_tf.metrics.udr import UDRResult, compute_udr, udr, udr_pair_score
from betavae_tf.metrics.utils import generate_batch_factor_code, mean_representation

__all__ = [
    "PosteriorCollapseWarning",
    "UDRResult",
    "active_units",
    "beta_vae_score",
    "compute_udr",
    "dci",
    "factor_vae_score",
    "generate_batch_factor_code",
    "kl_per_dimension",
    "mean_representation",
    "mig",
    "posterior_collapse_warning",
    "sap",
    "udr",
    "udr_pair_score",
]
