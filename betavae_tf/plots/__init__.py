"""Pictures of a β-VAE, written to files: one module per kind of picture.

* `figures`: makes, titles, measures and (atomically) saves every figure.
* `display`: `DisplayOptions`, how model arrays are shown (image shape,
  postprocess, value range), and `ImageGrid`, the labelled image grid.
* `predictions`: checked model inputs and batched predictions.

Every picture is a `matplotlib.figure.Figure` (never `pyplot`, nothing
blocks) returned to the caller and written as a PNG when `save_path` is set.
"""

from betavae_tf.plots.display import DisplayOptions
from betavae_tf.plots.figures import figure_to_rgba

__all__ = ["DisplayOptions", "figure_to_rgba"]
