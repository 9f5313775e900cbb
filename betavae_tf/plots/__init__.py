"""Pictures of a β-VAE, written to files: one module per kind of picture.

* `figures`: makes, titles, measures and (atomically) saves every figure.
* `display`: `DisplayOptions`, how model arrays are shown (image shape,
  postprocess, value range), and `ImageGrid`, the labelled image grid.
* `history`: `plot_vae_history`, the loss curves.
* `images`: `plot_reconstructions`, `plot_samples`, `plot_interpolation`.
* `traversals`: `latent_traversal`, `plot_latent_traversals` (PNG and GIF).
* `latent`: `plot_latent_pca`.
* `report`: `plot_evaluation_report`.
* `sweep`: `plot_sweep`, `plot_sweep_traversals`.

Every picture is a `matplotlib.figure.Figure` (never `pyplot`, nothing
blocks) returned to the caller and written as a PNG when `save_path` is set.
"""

from betavae_tf.plots.display import DisplayOptions
from betavae_tf.plots.figures import figure_to_rgba
from betavae_tf.plots.history import plot_vae_history
from betavae_tf.plots.images import (
    interpolate_latents,
    plot_interpolation,
    plot_reconstructions,
    plot_samples,
)
from betavae_tf.plots.latent import plot_latent_pca
from betavae_tf.plots.report import plot_evaluation_report
from betavae_tf.plots.sweep import plot_sweep, plot_sweep_traversals
from betavae_tf.plots.traversals import (
    DEFAULT_TRAVERSAL_DIMS,
    DEFAULT_TRAVERSAL_VALUES,
    latent_traversal,
    plot_latent_traversals,
)

__all__ = [
    "DEFAULT_TRAVERSAL_DIMS",
    "DEFAULT_TRAVERSAL_VALUES",
    "DisplayOptions",
    "figure_to_rgba",
    "interpolate_latents",
    "latent_traversal",
    "plot_evaluation_report",
    "plot_interpolation",
    "plot_latent_pca",
    "plot_latent_traversals",
    "plot_reconstructions",
    "plot_samples",
    "plot_sweep",
    "plot_sweep_traversals",
    "plot_vae_history",
]
