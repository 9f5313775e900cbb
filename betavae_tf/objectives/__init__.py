"""What a `BetaVAE` minimises besides the reconstruction: one class per objective.

Modules: `base` (Objective, Weight, Posterior), `classic` (Beta, Capacity,
TCVAE), `factor` (FactorVAE), `dip` (DIP-VAE-I/II), `registry` (OBJECTIVES)
and `legacy` (betavae_tf 0.1's arguments).

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

from betavae_tf.objectives.base import Objective, Posterior, Weight
from betavae_tf.objectives.classic import TCVAE, Beta, Capacity
from betavae_tf.objectives.dip import DIPVAE1, DIPVAE2
from betavae_tf.objectives.factor import FactorVAE
from betavae_tf.objectives.legacy import (
    LEGACY_ARGUMENTS,
    LEGACY_OBJECTIVES,
    LegacyObjectiveArguments,
    check_legacy_argument,
    deserialize_objective,
    legacy_default,
    resolve_objective,
)
from betavae_tf.objectives.registry import OBJECTIVES, get_objective, objective_arguments

__all__ = [
    "DIPVAE1", "DIPVAE2", "LEGACY_ARGUMENTS", "LEGACY_OBJECTIVES", "OBJECTIVES", "Beta",
    "Capacity", "FactorVAE", "LegacyObjectiveArguments", "Objective", "Posterior", "TCVAE",
    "Weight", "check_legacy_argument", "deserialize_objective", "get_objective",
    "legacy_default", "objective_arguments", "resolve_objective",
]
