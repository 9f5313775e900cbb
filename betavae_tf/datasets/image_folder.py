"""A streaming `tf.data` pipeline over a flat folder of images (CelebA layout)."""

from __future__ import annotations

import os
import warnings
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


class UnreadableImageWarning(UserWarning):
    """Some files of an image folder are not readable images and are skipped."""


# The leading bytes of the formats `tf.io.decode_image` reads.
_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"\xff\x0a",  # JPEG XL codestream
    b"\x00\x00\x00\x0cJXL \r\n\x87\n",  # JPEG XL container
)


def _has_image_signature(path: str) -> bool:
    """Whether the file starts like a JPEG/PNG/GIF/BMP/WebP/JPEG XL image."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:  # unreadable (permissions, broken link, ...)
        return False
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _readable_files(path: str, files: list[str], image_size: int, crop_size) -> list[str]:
    """`files` without those that cannot be images, warning once about them.

    Every file's first bytes are checked (cheap: one small read per file);
    then images are decoded in order until the first one that reads, so a
    folder of nothing but broken images fails here rather than in training.
    Files that start like an image but are damaged further on are skipped
    later by `Dataset.ignore_errors`.
    """
    readable, skipped = [], []
    for file in files:
        (readable if _has_image_signature(file) else skipped).append(file)
    first_good = None
    for index, file in enumerate(readable):
        try:
            load_image(tf.constant(file), image_size, crop_size)
        except (tf.errors.OpError, ValueError):
            skipped.append(file)
            continue
        first_good = index
        break
    if first_good is None:
        example = os.path.basename(skipped[0])
        raise ValueError(
            f"None of the {len(files)} image files in {path!r} could be read (e.g. "
            f"{example!r}); they are corrupt or not JPEG/PNG/GIF/BMP images. "
            "Replace them or point at another folder."
        )
    if skipped:
        warnings.warn(
            f"Skipping {len(skipped)} of {len(files)} files in {path!r} that are not "
            f"readable images (e.g. {os.path.basename(skipped[0])!r}); remove or "
            "replace them.",
            UnreadableImageWarning,
            stacklevel=3,
        )
    return readable[first_good:]


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

    Unreadable or corrupt images are skipped instead of ending training
    mid-epoch; the number of images per epoch is then smaller than the
    number of files. Files that are not images at all (empty, text, wrong
    format, unreadable) are found when the dataset is built, from their
    first bytes, and reported in one Python `UnreadableImageWarning`; files
    that start like an image but are damaged further on are dropped while
    reading (`Dataset.ignore_errors(log_warning=True)`, a TensorFlow log
    warning, hidden when `TF_CPP_MIN_LOG_LEVEL` is 2 or more, which
    `import betavae_tf` sets by default). Files libjpeg can partly decode
    (e.g. cut-off JPEGs) are not errors and are kept. A folder (or split)
    where no image can be read is refused with a `ValueError`.

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
        ValueError: if no file matches `extensions`, a split is empty, no
            file of it is a readable image, or an argument is invalid.
    """
    image_size = check_int("image_size", image_size)
    batch_size = check_int("batch_size", batch_size)
    if crop_size is not None:
        crop_size = check_int("crop_size", crop_size)
    if isinstance(extensions, str):
        extensions = (extensions,)
    files = _split_files(list_image_files(path, extensions), validation_fraction, split)
    files = _readable_files(os.fspath(path), files, image_size, crop_size)
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
