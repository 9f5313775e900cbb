"""Named data sources for the command line and the benchmarks.

A source is a string: `digits`, `mnist[:DIR]`, `dsprites[:FILE.npz]`,
`images:DIR`, `csv:FILE` or `npy:FILE`. `load_data_source` turns it into
training/validation data plus a small evaluation set with labels for
pictures, all validated, with one-line errors for anything wrong.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from betavae_tf import datasets
from betavae_tf.validation import check_int

KINDS = ("digits", "mnist", "dsprites", "images", "csv", "npy")
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
    standardizer: datasets.Standardizer | None


def parse_source(spec: str) -> tuple[str, str | None]:
    """Splits `kind[:path]`; raises for unknown kinds or missing paths."""
    kind, _, path = spec.partition(":")
    if kind not in KINDS:
        raise ValueError(
            f"{spec!r} is not a data source; use digits, mnist[:DIR], dsprites[:FILE.npz], "
            "images:DIR, csv:FILE or npy:FILE."
        )
    if kind in ("images", "csv", "npy") and not path:
        raise ValueError(f"{spec!r} needs a path, e.g. {kind}:/data/my_{kind}.")
    if kind == "digits" and path:
        raise ValueError("digits takes no path; it is embedded in scikit-learn.")
    return kind, path or None


def _split_indices(n: int, val_fraction: float, seed: int):
    train, val = datasets.train_val_split(np.arange(n).reshape(-1, 1), val_fraction, seed)
    return train[:, 0], val[:, 0]


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
        seed: seed of the splits and of generated dSprites.
        standardize: standardise vector data (digits, csv, npy) with the
            training split's statistics. Images are left in [0, 1].
        n_samples: generated dSprites examples to train on.
        n_test: examples in `test` for generated dSprites and image folders.
        image_size: side of images from an image folder.
        batch_size: batch size of image-folder datasets.

    Returns:
        A `PreparedData`.
    """
    kind, path = parse_source(spec)
    if kind == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        train_idx, val_idx = _split_indices(len(digits.target), val_fraction, seed)
        x_train, x_val = digits.data[train_idx].astype("float32"), digits.data[val_idx].astype("float32")
        scaler = datasets.Standardizer.fit(x_train) if standardize else None
        if scaler is not None:
            x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
        return PreparedData(x_train, x_val, x_val, digits.target[val_idx], "digit", (64,), None, scaler)
    if kind in ("csv", "npy"):
        x_train, x_val, scaler = datasets.load_vectors(path, val_fraction, seed, standardize)
        return PreparedData(x_train, x_val, x_val, None, "", x_train.shape[1:], None, scaler)
    if kind == "mnist":
        (x, y), (x_test, y_test) = datasets.load_mnist(path)
        train_idx, val_idx = _split_indices(len(x), val_fraction, seed)
        return PreparedData(x[train_idx], x[val_idx], x_test, y_test, "digit", x.shape[1:], x.shape[1:], None)
    if kind == "dsprites":
        n_samples = check_int("n_samples", n_samples, minimum=4)
        source = ground_truth_dataset(spec)
        rng = np.random.RandomState(seed)
        _, x = source.sample(n_samples, rng)
        factors, x_test = source.sample(check_int("n_test", n_test), rng)
        train_idx, val_idx = _split_indices(len(x), val_fraction, seed)
        return PreparedData(
            x[train_idx], x[val_idx], x_test, factors[:, DSPRITES_FACTORS.index("position_x")],
            "position_x", tuple(source.observation_shape), tuple(source.observation_shape), None,
        )
    # images:DIR, streamed; a few validation batches become the test array.
    common = dict(image_size=image_size, batch_size=batch_size, seed=seed,
                  validation_fraction=val_fraction)
    train = datasets.image_folder_dataset(path, split="train", **common)
    validation = datasets.image_folder_dataset(path, split="validation", shuffle=False, **common)
    test = np.concatenate([batch.numpy() for batch in validation.take(max(1, n_test // batch_size))])
    return PreparedData(train, validation, test, None, "", (image_size, image_size, 3), (image_size, image_size, 3), None)


def ground_truth_dataset(spec: str):
    """The `GroundTruthData` behind a source with known factors, else `None`.

    `dsprites` gives the generated `DSprites()`, `dsprites:FILE.npz` the
    official arrays; other sources have no factors.
    """
    kind, path = parse_source(spec)
    if kind != "dsprites":
        return None
    return datasets.load_dsprites(path) if path else datasets.DSprites()


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

