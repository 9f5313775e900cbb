"""betavae_tf: β-Variational Autoencoders for Keras 3 / TensorFlow 2.

Example:
    >>> from betavae_tf import BetaVAE, KLAnnealing, train_vae
    >>> model = BetaVAE(input_dim=64, encoding_dim=16, beta=1.0)
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) hides real output;
# keep warnings and errors. Set TF_CPP_MIN_LOG_LEVEL yourself to override.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from betavae_tf.callbacks import (  # noqa: E402
    BestModelCheckpoint,
    BetaSchedule,
    CyclicalAnnealing,
    DelayedReduceLROnPlateau,
    KLAnnealing,
    MetricsLogger,
    SigmoidAnnealing,
    StopOnNonFinite,
    TrainingBackup,
)
from betavae_tf.layers import LearnedLogVariance, Sampling, SpatialBroadcast  # noqa: E402
from betavae_tf.losses import (  # noqa: E402
    LIKELIHOODS,
    kl_divergence,
    kl_divergence_per_dimension,
)
from betavae_tf.metrics import (  # noqa: E402
    PosteriorCollapseWarning,
    active_units,
    beta_vae_score,
    dci,
    factor_vae_score,
    kl_per_dimension,
    mean_representation,
    mig,
    posterior_collapse_warning,
    sap,
)
from betavae_tf.marginal_likelihood import log_likelihood  # noqa: E402
from betavae_tf.models import OBJECTIVES, BetaVAE  # noqa: E402
from betavae_tf.networks import (  # noqa: E402
    build_conv_decoder,
    build_conv_encoder,
    build_dense_decoder,
    build_dense_encoder,
    build_mlp_encoder,
    build_spatial_broadcast_decoder,
)
from betavae_tf.optimizers import FusedAdam  # noqa: E402
from betavae_tf.plots import (  # noqa: E402
    interpolate_latents,
    latent_traversal,
    plot_interpolation,
    plot_latent_pca,
    plot_latent_traversals,
    plot_reconstructions,
    plot_samples,
    plot_vae_history,
)
from betavae_tf.presets import CONV_PRESETS, build_conv_beta_vae, conv_preset  # noqa: E402
from betavae_tf.saving import custom_objects, load_vae, save_vae  # noqa: E402
from betavae_tf.sweep import beta_sweep  # noqa: E402
from betavae_tf.training import TrainingDivergedError, train_vae  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BestModelCheckpoint",
    "BetaSchedule",
    "BetaVAE",
    "CONV_PRESETS",
    "CyclicalAnnealing",
    "DelayedReduceLROnPlateau",
    "FusedAdam",
    "KLAnnealing",
    "LIKELIHOODS",
    "LearnedLogVariance",
    "MetricsLogger",
    "OBJECTIVES",
    "PosteriorCollapseWarning",
    "Sampling",
    "SpatialBroadcast",
    "SigmoidAnnealing",
    "StopOnNonFinite",
    "TrainingBackup",
    "TrainingDivergedError",
    "active_units",
    "beta_sweep",
    "beta_vae_score",
    "build_conv_beta_vae",
    "build_conv_decoder",
    "build_conv_encoder",
    "build_dense_decoder",
    "build_dense_encoder",
    "build_mlp_encoder",
    "build_spatial_broadcast_decoder",
    "conv_preset",
    "custom_objects",
    "dci",
    "factor_vae_score",
    "interpolate_latents",
    "kl_divergence",
    "kl_divergence_per_dimension",
    "kl_per_dimension",
    "latent_traversal",
    "load_vae",
    "log_likelihood",
    "mean_representation",
    "mig",
    "plot_interpolation",
    "plot_latent_pca",
    "plot_latent_traversals",
    "plot_reconstructions",
    "plot_samples",
    "plot_vae_history",
    "posterior_collapse_warning",
    "sap",
    "save_vae",
    "train_vae",
]
