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
    DelayedReduceLROnPlateau,
    KLAnnealing,
)
from betavae_tf.layers import Sampling  # noqa: E402
from betavae_tf.losses import (  # noqa: E402
    LIKELIHOODS,
    kl_divergence,
    kl_divergence_per_dimension,
)
from betavae_tf.models import BetaVAE  # noqa: E402
from betavae_tf.networks import build_dense_decoder, build_dense_encoder  # noqa: E402
from betavae_tf.plotting import plot_vae_history  # noqa: E402
from betavae_tf.saving import custom_objects, load_vae, save_vae  # noqa: E402
from betavae_tf.training import TrainingDivergedError, train_vae  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BestModelCheckpoint",
    "BetaVAE",
    "DelayedReduceLROnPlateau",
    "KLAnnealing",
    "LIKELIHOODS",
    "Sampling",
    "TrainingDivergedError",
    "build_dense_decoder",
    "build_dense_encoder",
    "custom_objects",
    "kl_divergence",
    "kl_divergence_per_dimension",
    "load_vae",
    "plot_vae_history",
    "save_vae",
    "train_vae",
]
