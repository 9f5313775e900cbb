"""Data loaders: in-memory arrays, MNIST, dSprites and folders of images.

* `arrays`: the embedded 8×8 digits, users' `.csv`/`.npy`/`.npz` files,
  `Standardizer` and `train_val_split`.
* `mnist`: `load_mnist` from the four standard IDX files.
* `dsprites`: `load_dsprites` (the official `.npz`) and `DSprites`, which
  renders the same 737,280 images on demand.
* `dsprites_variants`: `ColorDSprites` and `NoisyDSprites`, disentanglement_lib's
  RGB dSprites (random sprite colour / noise background), over either source.
* `ground_truth`: `GroundTruthData`, the interface of datasets with known
  factors of variation (used by disentanglement metrics).
* `image_folder`: `image_folder_dataset`, a streaming `tf.data` pipeline over
  a flat folder of images (CelebA layout).
"""

from betavae_tf.datasets.arrays import (
    Standardizer,
    load_array_file,
    load_digits,
    load_vectors,
    train_val_split,
)
from betavae_tf.datasets.dsprites import DSprites, DSpritesArrays, load_dsprites
from betavae_tf.datasets.dsprites_variants import ColorDSprites, NoisyDSprites
from betavae_tf.datasets.ground_truth import GroundTruthData
from betavae_tf.datasets.image_folder import image_folder_dataset
from betavae_tf.datasets.mnist import load_mnist
from betavae_tf.datasets.synthetic import SyntheticFactors

__all__ = [
    "ColorDSprites",
    "DSprites",
    "DSpritesArrays",
    "GroundTruthData",
    "NoisyDSprites",
    "Standardizer",
    "SyntheticFactors",
    "image_folder_dataset",
    "load_array_file",
    "load_digits",
    "load_dsprites",
    "load_mnist",
    "load_vectors",
    "train_val_split",
]
