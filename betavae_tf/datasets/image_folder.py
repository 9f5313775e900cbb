"""A streaming `tf.data` pipeline over a flat folder of images (CelebA layout)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from betavae_tf.validation import check_float, check_int

SPLITS = ("train", "validation")
_SPLIT_SEED = 0  # fixed, so train and validation never overlap whatever `seed` is


def list_image_files(
    path: str | os.PathLike, extensions: Sequence[str] = (".jpg", ".jpeg", ".png")
) -> list[str]:
    """Sorted paths of the files directly in `path` whose names end in `extensions`.

    Matching ignores case; sub-folders are not entered.

    Raises:
        FileNotFoundError: if `path` is not a folder.
        ValueError: if no file matches.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"No image folder at {path!r}; pass the folder that holds the image files."
        )
    suffixes = tuple(extension.lower() for extension in extensions)
    with os.scandir(path) as entries:
        names = sorted(
            entry.name
            for entry in entries
            if entry.name.lower().endswith(suffixes) and entry.is_file()
        )
    if not names:
        raise ValueError(
            f"{path!r} holds no files ending in {', '.join(suffixes)}; pass a folder of "
            "images or change extensions=."
        )
    return [os.path.join(path, name) for name in names]


def _split_files(files: list[str], validation_fraction, split) -> list[str]:
    if validation_fraction is None:
        if split is not None:
            raise ValueError(
                f"split={split!r} needs validation_fraction; pass e.g. validation_fraction=0.1."
            )
        return files
    validation_fraction = check_float(
        "validation_fraction",
        validation_fraction,
        exclusive_minimum=True,
        maximum=1.0,
        exclusive_maximum=True,
    )
    if split not in SPLITS:
        raise ValueError(
            f"split must be 'train' or 'validation' when validation_fraction is set. "
            f"Received: split={split!r}"
        )
    n_val = int(round(len(files) * validation_fraction))
    if n_val < 1 or n_val >= len(files):
        raise ValueError(
            f"validation_fraction={validation_fraction} of {len(files)} images leaves an empty "
            "split; pass more images or change validation_fraction."
        )
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(files))
    chosen = order[:n_val] if split == "validation" else order[n_val:]
    return [files[i] for i in sorted(chosen)]


def load_image(path: tf.Tensor, image_size: int, crop_size: int | None = None) -> tf.Tensor:
    """Reads, decodes, centre-crops to a square and resizes one image.

    Args:
        path: scalar string tensor.
        image_size: side of the output.
        crop_size: side of the centred square cut out before resizing;
            `None` (or a side larger than the image) takes the shorter side.

    Returns:
        float32 tensor `(image_size, image_size, 3)` in [0, 1]; grey images
        are repeated to 3 channels, alpha is dropped.
    """
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)  # uint8 -> [0, 1]
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(height, width)
    if crop_size is not None:
        side = tf.minimum(side, crop_size)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[top : top + side, left : left + side, :]
    image = tf.image.resize(image, (image_size, image_size), antialias=True)
    image = tf.clip_by_value(image, 0.0, 1.0)
    return tf.ensure_shape(image, (image_size, image_size, 3))


def image_folder_dataset(
    path: str | os.PathLike,
    image_size: int = 64,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = None,
    extensions: Sequence[str] = (".jpg", ".jpeg", ".png"),
    drop_remainder: bool = False,
    crop_size: int | None = None,
    validation_fraction: float | None = None,
    split: str | None = None,
) -> tf.data.Dataset:
    """Batches of square RGB images streamed from a flat folder (e.g. CelebA).

    Files are listed once (names only, sorted, sub-folders ignored); images
    are read and decoded lazily in parallel, so the folder is never loaded
    into memory. Each image is centre-cropped to a square (the shorter side,
    or `crop_size`; CelebA's usual β-VAE crop is 148) and resized to
    `image_size` with anti-aliased bilinear filtering.

    Unreadable or corrupt images are skipped, each with a logged TensorFlow
    warning (`Dataset.ignore_errors(log_warning=True)`), instead of ending
    training mid-epoch; the number of images per epoch is then smaller than
    the number of files. Files libjpeg can partly decode (e.g. cut-off JPEGs)
    are not errors and are kept.

    Args:
        path: the folder.
        image_size: side of the output images in pixels.
        batch_size: images per batch.
        shuffle: reshuffle the file names each epoch (a buffer of all file
            names, which is cheap).
        seed: seed of the shuffle.
        extensions: file-name endings to read (case-insensitive).
        drop_remainder: drop the last, smaller batch.
        crop_size: side of the centred square crop; `None` takes the
            shorter side.
        validation_fraction: share of the files held out; with it, `split`
            picks `"train"` or `"validation"`. The split is a fixed seeded
            permutation of the sorted names, the same whatever `seed` is.
        split: `"train"` or `"validation"` (only with `validation_fraction`).

    Returns:
        `tf.data.Dataset` of float32 batches `(batch, image_size, image_size, 3)`
        with values in [0, 1], prefetched.

    Raises:
        FileNotFoundError: if `path` is not a folder.
        ValueError: if no file matches `extensions`, a split is empty, or an
            argument is invalid.
    """
    image_size = check_int("image_size", image_size)
    batch_size = check_int("batch_size", batch_size)
    if crop_size is not None:
        crop_size = check_int("crop_size", crop_size)
    if isinstance(extensions, str):
        extensions = (extensions,)
    files = _split_files(list_image_files(path, extensions), validation_fraction, split)
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files, dtype=tf.string))
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda file: load_image(file, image_size, crop_size),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffle or seed is not None,
    )
    dataset = dataset.ignore_errors(log_warning=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
