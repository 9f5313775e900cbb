"""FactorVAE (Kim & Mnih, 2018): a discriminator estimates the total correlation."""

from __future__ import annotations

import keras

from betavae_tf import replicas
from betavae_tf.layers import TotalCorrelationDiscriminator
from betavae_tf.losses import factor_vae_total_correlation
from betavae_tf.objectives.base import Objective, Posterior, Weight
from betavae_tf.validation import check_float, check_int


@keras.saving.register_keras_serializable(package="betavae_tf")
class FactorVAE(Objective):
    """Kim & Mnih (2018): `β · KL + γ · TC`, TC estimated by a discriminator.

    A discriminator on the codes (`betavae_tf.layers.
    TotalCorrelationDiscriminator`) estimates the total correlation by the
    density-ratio trick, `TC ≈ mean(logits[:, 0] − logits[:, 1])`
    (`betavae_tf.losses.factor_vae_total_correlation`), and the model
    minimises `reconstruction + β · KL + γ · TC` with β its `beta_variable`
    (1 by default: disentanglement_lib's FactorVAE). In the same training
    step, after the model's update, the discriminator takes one step of its
    own Adam telling the batch's codes z from their dimension-wise
    permutation (`betavae_tf.losses.factor_vae_discriminator_loss`), as in
    disentanglement_lib. The discriminator and its Adam's state are saved
    and reloaded with the model. Logs `total_correlation` and
    `discriminator_loss` (epoch means; `val_discriminator_loss` is computed
    without training it). Training on several replicas is refused.

    Args:
        gamma: weight γ of the total correlation, >= 0. Defaults to 10.0
            (the study of Locatello et al. sweeps 10, 20, 30, 40, 50, 100).
        discriminator_units: width of the discriminator's hidden layers.
            Defaults to 1000.
        discriminator_layers: number of hidden layers of the discriminator.
            Defaults to 6.
        discriminator_learning_rate: learning rate of the discriminator's
            Adam (β1 0.5, β2 0.9, ε 1e-8). Defaults to 1e-4.
    """

    key = "factor"
    title = "FactorVAE"
    weights = ("gamma",)
    averaged_terms = ("total_correlation", "discriminator_loss")
    gamma = Weight()

    def __init__(self, gamma: float = 10.0, discriminator_units: int = 1000,
                 discriminator_layers: int = 6, discriminator_learning_rate: float = 1e-4):
        super().__init__()
        self.gamma = gamma
        self.discriminator_units = check_int("discriminator_units", discriminator_units)
        self.discriminator_layers = check_int("discriminator_layers", discriminator_layers, minimum=0)
        self.discriminator_learning_rate = check_float(
            "discriminator_learning_rate", discriminator_learning_rate, exclusive_minimum=True)
        self.discriminator = None

    def build(self, model: keras.Model) -> None:
        super().build(model)
        self.discriminator = TotalCorrelationDiscriminator(
            units=self.discriminator_units, hidden_layers=self.discriminator_layers,
            learning_rate=self.discriminator_learning_rate,
            seed=None if model.seed is None else model.seed + 2,
            name="total_correlation_discriminator",
        )
        self.discriminator.build((None, model.encoding_dim))

    @property
    def networks(self) -> list:
        return [] if self.discriminator is None else [self.discriminator]

    def regulariser(self, posterior: Posterior, beta) -> dict:
        if replicas.multi_replica_context() is not None:
            raise ValueError(
                "The 'factor' objective trains its discriminator on one device only; train "
                "it without a multi-replica tf.distribute strategy (strategy=None)."
            )
        tc = factor_vae_total_correlation(self.discriminator(posterior.z))
        return {
            "regulariser": beta * posterior.kl + self.variables["gamma"] * tc,
            "total_correlation": tc,
        }

    def train_networks(self, posterior: Posterior, training: bool = True) -> dict:
        return {"discriminator_loss": self.discriminator.update(posterior.z, training=training)}
