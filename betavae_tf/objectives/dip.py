"""DIP-VAE-I and DIP-VAE-II (Kumar et al., 2018): penalise the codes' covariance."""

from __future__ import annotations

from typing import ClassVar

import keras

from betavae_tf.losses import dip_vae_penalty
from betavae_tf.objectives.base import Objective, Posterior, Weight


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
    title = "DIP-VAE-I"
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
    title = "DIP-VAE-II"
    kind = "ii"
    lambda_d_factor = 1.0
