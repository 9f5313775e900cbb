"""betavae_tf: β-Variational Autoencoders for Keras 3 / TensorFlow 2.

Importing the package is cheap: each public name is imported from its
module the first time it is used (so `betavae-tf --help` never waits for
TensorFlow).

Example:
    >>> from betavae_tf import BetaVAE, KLAnnealing, train_vae
    >>> model = BetaVAE(input_dim=64, encoding_dim=16, beta=1.0)

Where to look in the code: `docs/architecture.md`.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "backup": ("TrainingBackup",),
    "callbacks": ("BestModelCheckpoint", "DelayedReduceLROnPlateau", "StopOnNonFinite"),
    "evaluation": ("MetricsLogger", "evaluate_disentanglement"),
    "layers": (
        "LearnedLogVariance", "PixelDense", "Sampling", "SpatialBroadcast", "SpatialBroadcastDense",
        "TotalCorrelationDiscriminator",
    ),
    "losses": ("LIKELIHOODS", "kl_divergence", "kl_divergence_per_dimension"),
    "marginal_likelihood": ("log_likelihood",),
    "metrics": (
        "PosteriorCollapseWarning", "active_units", "beta_vae_score", "dci", "factor_vae_score",
        "kl_per_dimension", "mean_representation", "mig", "posterior_collapse_warning", "sap",
    ),
    "models": ("BetaVAE",),
    "networks": (
        "build_conv_decoder", "build_conv_encoder", "build_dense_decoder", "build_dense_encoder",
        "build_mlp_encoder", "build_spatial_broadcast_decoder",
    ),
    "objectives": (
        "OBJECTIVES", "Beta", "Capacity", "DIPVAE1", "DIPVAE2", "FactorVAE", "Objective", "TCVAE",
    ),
    "optimizers": ("FusedAdam",),
    "plots": (
        "interpolate_latents", "latent_traversal", "plot_interpolation", "plot_latent_pca",
        "plot_latent_traversals", "plot_reconstructions", "plot_samples", "plot_vae_history",
    ),
    "presets": ("CONV_PRESETS", "build_conv_beta_vae", "conv_preset"),
    "runs": ("DataSettings", "ModelSettings", "ScheduleSettings", "train_run"),
    "saving": ("custom_objects", "load_vae", "save_vae"),
    "schedules": ("BetaSchedule", "CyclicalAnnealing", "KLAnnealing", "SigmoidAnnealing"),
    "sweep": ("beta_sweep",),
    "training": ("TrainingDivergedError", "train_vae"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'betavae_tf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"betavae_tf.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
