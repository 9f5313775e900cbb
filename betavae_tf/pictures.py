"""Pictures of what a trained β-VAE has learned: now `betavae_tf.plots`.

Kept so that `from betavae_tf.pictures import plot_samples` (etc.) still works.
"""

from betavae_tf.plots.images import (  # noqa: F401
    interpolate_latents,
    plot_interpolation,
    plot_reconstructions,
    plot_samples,
)
from betavae_tf.plots.latent import plot_latent_pca  # noqa: F401
from betavae_tf.plots.traversals import (  # noqa: F401
    DEFAULT_TRAVERSAL_VALUES,
    latent_traversal,
    plot_latent_traversals,
)

__all__ = [
    "DEFAULT_TRAVERSAL_VALUES",
    "interpolate_latents",
    "latent_traversal",
    "plot_interpolation",
    "plot_latent_pca",
    "plot_latent_traversals",
    "plot_reconstructions",
    "plot_samples",
]
