"""Data loaders: in-memory arrays, MNIST, dSprites, Shapes3D, MPI3D and image folders.

* `arrays`: the embedded 8×8 digits, users' `.csv`/`.npy`/`.npz` files,
  `Standardizer` and `train_val_split`.
* `mnist`: `load_mnist` from the four standard IDX files.
* `dsprites`: `load_dsprites` (the official `.npz`) and `DSprites`, which
  renders the same 737,280 images on demand.
* `dsprites_variants`: `ColorDSprites` and `NoisyDSprites`, disentanglement_lib's
  RGB dSprites (random sprite colour / noise background), over either source.
* `shapes3d`: `load_shapes3d` -> `Shapes3D`, DeepMind's `3dshapes.h5` read
  lazily through h5py (downloaded only with `download=True`).
* `mpi3d`: `load_mpi3d` -> `MPI3D`, the toy / realistic / real `.npz` files
  memory-mapped (downloaded only with `download=True`).
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
from betavae_tf.datasets.mpi3d import MPI3D, load_mpi3d
from betavae_tf.datasets.shapes3d import Shapes3D, load_shapes3d
from betavae_tf.datasets.synthetic import SyntheticFactors

__all__ = [
    "ColorDSprites",
    "DSprites",
    "DSpritesArrays",
    "GroundTruthData",
    "MPI3D",
    "NoisyDSprites",
    "Shapes3D",
    "Standardizer",
    "SyntheticFactors",
    "image_folder_dataset",
    "load_array_file",
    "load_digits",
    "load_dsprites",
    "load_mnist",
    "load_mpi3d",
    "load_shapes3d",
    "load_vectors",
    "train_val_split",
]
