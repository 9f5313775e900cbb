"""The objectives of betavae_tf 0.1: `Beta`, `Capacity` (AnnealedVAE) and `TCVAE`."""

from __future__ import annotations

import keras
from keras import ops

from betavae_tf.losses import TCVAE_ESTIMATORS, capacity_at_step, tcvae_decomposition
from betavae_tf.objectives.base import Objective, Posterior, Weight, _kl_term
from betavae_tf.validation import check_choice, check_float, check_int


@keras.saving.register_keras_serializable(package="betavae_tf")
class Beta(Objective):
    """Higgins et al. (2017): `β · KL`, β being the model's `beta_variable`.

    Args:
        free_bits: free nats λ per latent dimension (Kingma et al., 2016), 0
            for none; the KL term becomes `Σ_j max(λ, mean_i KL_ij)`. >= 0.
            Defaults to 0.0.
    """

    key = "beta"
    title = "β-VAE"

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
    title = "AnnealedVAE"
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
    title = "β-TCVAE"
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
