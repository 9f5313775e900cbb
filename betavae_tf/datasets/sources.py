"""Named data sources: the `--data` of the command line, as a registry.

A source is a string `kind[:path]`. `DATA_SOURCES` maps each kind to how it
loads; `load_data_source` turns a string into training/validation data plus a
small labelled evaluation set for pictures, all validated, with one-line
errors for anything wrong. Sources with ground-truth factors (the dSprites
family, Shapes3D, MPI3D) also give their `GroundTruthData` for the
disentanglement metrics (`ground_truth_dataset`); training on them uses
`n_samples` images drawn from all the factor combinations.

==================== ============================================================
`digits`             scikit-learn's 8×8 digits, embedded (no download)
`mnist[:DIR]`        MNIST, 28×28: the four IDX files in DIR (or `$BETAVAE_DATA_DIR`),
                     else Keras's download
`dsprites[:FILE]`    dSprites, 64×64: rendered on demand, or the official `.npz`
`color_dsprites[:F]` dSprites with a random colour per image (RGB)
`noisy_dsprites[:F]` dSprites on uniform noise (RGB)
`shapes3d[:FILE]`    Shapes3D `3dshapes.h5` (or in `$BETAVAE_DATA_DIR`)
`mpi3d[:FILE]`       MPI3D `mpi3d_toy.npz` / `_realistic` / `_real`
`synthetic`          vectors mixed from 3 known factors (tests, quick studies)
`images:DIR`         a folder of JPEG/PNG images (CelebA layout), streamed
`csv:FILE`           a CSV of numbers, one example per row
`npy:FILE`           a `.npy`/`.npz` array, one example per row
==================== ============================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from betavae_tf.datasets.arrays import Standardizer, load_digits, load_vectors, train_val_split
from betavae_tf.datasets.dsprites import DSprites, load_dsprites
from betavae_tf.datasets.dsprites_variants import ColorDSprites, NoisyDSprites
from betavae_tf.datasets.ground_truth import GroundTruthData
from betavae_tf.datasets.image_folder import image_folder_dataset
from betavae_tf.datasets.mnist import load_mnist
from betavae_tf.datasets.mpi3d import load_mpi3d
from betavae_tf.datasets.shapes3d import load_shapes3d
from betavae_tf.datasets.synthetic import SyntheticFactors
from betavae_tf.validation import check_int

DSPRITES_FACTORS = ("shape", "scale", "orientation", "position_x", "position_y")


class PreparedData(NamedTuple):
    """Data ready for `train_vae` and the picture functions.

    Attributes:
        train: float32 array `(n, *feature_shape)` or a batched dataset.
        validation: the same kind, or `None`.
        test: float32 array of examples for evaluation and pictures.
        test_labels: `(len(test),)` labels or a ground-truth factor, or `None`.
        label_name: what `test_labels` are.
        feature_shape: shape of one example as the model sees it.
        image_shape: `(height, width, channels)` of image data (also after
            `flatten`), or `None` for vectors.
        standardizer: the fitted `Standardizer` for vector data, or `None`.
    """

    train: object
    validation: object
    test: np.ndarray
    test_labels: np.ndarray | None
    label_name: str
    feature_shape: tuple
    image_shape: tuple | None
    standardizer: Standardizer | None


class Options(NamedTuple):
    """How a source is prepared (see `load_data_source`'s arguments)."""

    val_fraction: float
    seed: int
    standardize: bool
    n_samples: int
    n_test: int
    image_size: int
    batch_size: int


class DataSource(NamedTuple):
    """One kind of data source.

    Attributes:
        path: `"none"`, `"optional"` or `"required"`: whether `kind:path` takes a path.
        help: one line for `--help` and the docs.
        load: `(path, Options) -> PreparedData`.
        ground_truth: `(path) -> GroundTruthData` for sources with known
            factors, else `None`.
        preset: the conv preset that suits its images, or `None` (vectors).
        label: the factor shown as the label of pictures (ground truth only).
    """

    path: str
    help: str
    load: Callable
    ground_truth: Callable | None = None
    preset: str | None = None
    label: str = ""


def _split_indices(n: int, val_fraction: float, seed: int):
    train, val = train_val_split(np.arange(n).reshape(-1, 1), val_fraction, seed)
    return train[:, 0], val[:, 0]


def _load_digits(path, options: Options) -> PreparedData:
    x_train, x_val, scaler, _, y_val = load_digits(
        options.val_fraction, options.seed, options.standardize, with_labels=True)
    return PreparedData(x_train, x_val, x_val, y_val, "digit", (64,), None, scaler)


def _load_vectors(path, options: Options) -> PreparedData:
    x_train, x_val, scaler = load_vectors(path, options.val_fraction, options.seed, options.standardize)
    return PreparedData(x_train, x_val, x_val, None, "", x_train.shape[1:], None, scaler)


def _load_mnist(path, options: Options) -> PreparedData:
    (x, _), (x_test, y_test) = load_mnist(path)
    train_idx, val_idx = _split_indices(len(x), options.val_fraction, options.seed)
    return PreparedData(x[train_idx], x[val_idx], x_test, y_test, "digit", x.shape[1:], x.shape[1:], None)


def _ground_truth_loader(kind: str) -> Callable:
    """Trains on `n_samples` images drawn from every factor combination."""

    def load(path, options: Options) -> PreparedData:
        n_samples = check_int("n_samples", options.n_samples, minimum=4)
        source = DATA_SOURCES[kind].ground_truth(path)
        rng = np.random.RandomState(options.seed)
        _, x = source.sample(n_samples, rng)
        factors, x_test = source.sample(check_int("n_test", options.n_test), rng)
        train_idx, val_idx = _split_indices(len(x), options.val_fraction, options.seed)
        label = DATA_SOURCES[kind].label
        names = list(getattr(source, "factor_names", DSPRITES_FACTORS))
        shape = tuple(source.observation_shape)
        image_shape = shape if len(shape) == 3 else None
        return PreparedData(x[train_idx], x[val_idx], x_test, factors[:, names.index(label)],
                            label, shape, image_shape, None)

    return load


def _load_images(path, options: Options) -> PreparedData:
    # Streamed; a few validation batches become the test array.
    common = dict(image_size=options.image_size, batch_size=options.batch_size,
                  seed=options.seed, validation_fraction=options.val_fraction)
    train = image_folder_dataset(path, split="train", **common)
    validation = image_folder_dataset(path, split="validation", shuffle=False, **common)
    batches = validation.take(max(1, options.n_test // options.batch_size))
    test = np.concatenate([batch.numpy() for batch in batches])
    shape = (options.image_size, options.image_size, 3)
    return PreparedData(train, validation, test, None, "", shape, shape, None)


def _dsprites(path) -> GroundTruthData:
    return load_dsprites(path) if path else DSprites()


DATA_SOURCES: dict[str, DataSource] = {
    "digits": DataSource("none", "scikit-learn's 8x8 digits, embedded (the default)", _load_digits),
    "mnist": DataSource(
        "optional", "MNIST 28x28: DIR with the IDX files, else $BETAVAE_DATA_DIR, else Keras's download",
        _load_mnist, preset="mnist"),
    "dsprites": DataSource(
        "optional", "dSprites 64x64: rendered without a file, or the official .npz",
        _ground_truth_loader("dsprites"), _dsprites, "dsprites", "position_x"),
    "color_dsprites": DataSource(
        "optional", "dSprites in a random colour per image (RGB)",
        _ground_truth_loader("color_dsprites"), lambda path: ColorDSprites(_dsprites(path)),
        "dsprites", "position_x"),
    "noisy_dsprites": DataSource(
        "optional", "dSprites on a uniform noise background (RGB)",
        _ground_truth_loader("noisy_dsprites"), lambda path: NoisyDSprites(_dsprites(path)),
        "dsprites", "position_x"),
    "shapes3d": DataSource(
        "optional", "Shapes3D: 3dshapes.h5, else in $BETAVAE_DATA_DIR",
        _ground_truth_loader("shapes3d"), load_shapes3d, "dsprites", "object_hue"),
    "mpi3d": DataSource(
        "optional", "MPI3D: mpi3d_toy.npz (or _realistic, _real), else in $BETAVAE_DATA_DIR",
        _ground_truth_loader("mpi3d"), lambda path: load_mpi3d(_mpi3d_variant(path), path),
        "dsprites", "horizontal_axis"),
    "synthetic": DataSource(
        "none", "small vectors made from 3 known factors (for tests and quick studies)",
        _ground_truth_loader("synthetic"), lambda path: SyntheticFactors(), label="factor_0"),
    "images": DataSource("required", "a folder of JPEG/PNG images, streamed", _load_images,
                         preset="faces"),
    "csv": DataSource("required", "a CSV file of numbers, one example per row", _load_vectors),
    "npy": DataSource("required", "a .npy or .npz array, one example per row", _load_vectors),
}
"""Data sources by kind."""


def _mpi3d_variant(path: str | None) -> str:
    name = os.path.basename(path or "")
    for variant in ("realistic", "real", "toy"):
        if f"mpi3d_{variant}" in name:
            return variant
    return "toy"


def parse_source(spec: str) -> tuple[str, str | None]:
    """Splits `kind[:path]`; raises for unknown kinds or a missing/extra path."""
    kind, _, path = str(spec).partition(":")
    source = DATA_SOURCES.get(kind)
    if source is None:
        examples = ", ".join(
            kind + {"none": "", "optional": "[:PATH]", "required": ":PATH"}[s.path]
            for kind, s in DATA_SOURCES.items()
        )
        raise ValueError(f"{spec!r} is not a data source; use {examples}.")
    if source.path == "required" and not path:
        raise ValueError(f"{spec!r} needs a path, e.g. {kind}:/data/my_{kind}.")
    if source.path == "none" and path:
        raise ValueError(f"{kind} takes no path; it is embedded in the package.")
    return kind, path or None


def load_data_source(
    spec: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    n_samples: int = 20000,
    n_test: int = 2000,
    image_size: int = 64,
    batch_size: int = 64,
) -> PreparedData:
    """Loads and prepares the data source `spec`.

    Args:
        spec: the source string (see the module docstring).
        val_fraction: share of the training data held out for validation.
        seed: seed of the splits and of the images drawn from ground-truth data.
        standardize: standardise vector data (digits, csv, npy) with the
            training split's statistics. Images are left in [0, 1].
        n_samples: images drawn from a ground-truth source to train on.
        n_test: examples in `test` for ground-truth sources and image folders.
        image_size: side of images from an image folder.
        batch_size: batch size of image-folder datasets.

    Returns:
        A `PreparedData`.
    """
    kind, path = parse_source(spec)
    options = Options(val_fraction, seed, standardize, n_samples, n_test, image_size, batch_size)
    return DATA_SOURCES[kind].load(path, options)


def ground_truth_dataset(spec: str) -> GroundTruthData | None:
    """The `GroundTruthData` behind a source with known factors, else `None`."""
    kind, path = parse_source(spec)
    source = DATA_SOURCES[kind]
    return None if source.ground_truth is None else source.ground_truth(path)


def flatten(data: PreparedData) -> PreparedData:
    """The same data with every example flattened to a vector (dense models)."""
    if data.image_shape is None or len(data.feature_shape) == 1:
        return data

    def flat(x):
        if x is None:
            return None
        if isinstance(x, tf.data.Dataset):
            return x.map(lambda batch: tf.reshape(batch, (tf.shape(batch)[0], -1)))
        return x.reshape(len(x), -1)

    size = int(np.prod(data.feature_shape))
    return data._replace(
        train=flat(data.train), validation=flat(data.validation), test=flat(data.test),
        feature_shape=(size,),
    )
