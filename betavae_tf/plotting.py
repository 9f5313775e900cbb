"""Figures of a β-VAE's training: now `betavae_tf.plots`.

Kept so that `from betavae_tf.plotting import plot_vae_history` still works.
"""

from betavae_tf.plots.figures import figure_to_rgba  # noqa: F401
from betavae_tf.plots.history import plot_vae_history  # noqa: F401

__all__ = ["figure_to_rgba", "plot_vae_history"]
