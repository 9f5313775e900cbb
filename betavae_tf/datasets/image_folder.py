"""A streaming `tf.data` pipeline over a flat folder of images (CelebA layout)."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence

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
    later, while reading (see `_DamageReport`).
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


class _DamageReport:
    """Warns about the files a dataset dropped while reading, once per file.

    Called (from `tf.numpy_function`) with the names of the files of a pass
    that failed to decode; each gets one `UnreadableImageWarning` naming it.
    `nothing_read`: the pass has ended without one image, which raises.
    """

    def __init__(self, n_files: int):
        self._n_files = n_files
        self._warned: set[str] = set()

    def __call__(self, names: np.ndarray, nothing_read: np.bool_) -> np.int64:
        if nothing_read:
            raise ValueError(
                f"None of the {self._n_files} image files could be read in this pass (e.g. "
                f"{os.fsdecode(names[0])!r}); they are damaged, or were removed or replaced "
                "while training."
            )
        for name in names:
            file = os.fsdecode(name)
            if file in self._warned:
                continue
            self._warned.add(file)
            warnings.warn(
                f"Skipping the damaged image {file!r}: it starts like an image but "
                "does not decode; remove or replace it.",
                UnreadableImageWarning,
                stacklevel=1,  # called from TensorFlow: point here
            )
        return np.int64(len(names))


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

    Unreadable or damaged images are skipped instead of ending training
    mid-epoch, and the dataset's length (`cardinality()`, the steps per
    epoch Keras shows) is known and true whatever is skipped: an epoch is
    `ceil(files / batch_size)` batches (`files // batch_size` with
    `drop_remainder`), where `files` counts the files left after the first
    check below.

    * Files that are not images at all (empty, text, wrong format,
      unreadable) are found when the dataset is built, from their first
      bytes, and reported in one Python `UnreadableImageWarning`, as are
      damaged files met while looking for the first image that decodes.
      They are left out.
    * Files that start like an image but fail to decode (a cut-off or
      garbled JPEG or PNG) are dropped while reading, each named in an
      `UnreadableImageWarning` (once per file; libjpeg may print its own
      message on stderr first). An epoch then has fewer images; should
      that leave it short of its batches, it is filled up with whole
      batches from further passes over the files (in other orders; the
      first pass's last, smaller batch then comes before them), from up
      to 10 more passes, after which reading raises. So does a pass in
      which nothing decodes (e.g. the folder was emptied while training).

    A folder (or split) where no image can be read is refused with a
    `ValueError`. Images are decoded in parallel but delivered in the
    epoch's order, so that a dropped file can be named.

    Args:
        path: the folder.
        image_size: side of the output images in pixels.
        batch_size: images per batch.
        shuffle: reshuffle the files each epoch (a permutation of their
            indices, which is cheap).
        seed: seed of the shuffle; `None` leaves it to TensorFlow's global
            seed (e.g. `keras.utils.set_random_seed`), if set.
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
        with values in [0, 1], prefetched; its cardinality is the number of
        batches per epoch.

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
    return _Passes(files, image_size, crop_size, shuffle, seed).epochs(batch_size, drop_remainder)


def _fail(value: tf.Tensor, message: str) -> tf.Tensor:
    """Raises `InvalidArgumentError(message)` when run; `value` gives the element type."""
    with tf.control_dependencies([tf.debugging.Assert(tf.constant(False), [message])]):
        return tf.identity(value)


# Passes after the first that may fill up an epoch whose damaged files left
# it short of batches: enough unless most files are damaged.
_MORE_PASSES = 10


class _Passes:
    """Passes over `files` in order or shuffled, decoded in parallel, damaged files dropped.

    An iteration of a dataset (an epoch) draws one key; pass `p` of that
    epoch reads the files in the order `_order(key, p)` (stateless, so the
    order can be computed again to name a file). Files that fail to
    decode are dropped by `ignore_errors`, which does not say which: so
    the first pass is decoded in order, every image carries its position,
    and a sentinel at position `len(files)` ends the pass. A batch whose
    positions skip some names those files (`_DamageReport`).
    """

    def __init__(self, files, image_size, crop_size, shuffle, seed):
        self.files = tf.constant(files, dtype=tf.string)
        self.n_files = len(files)
        self.image_size, self.crop_size = image_size, crop_size
        self.shuffle, self.seed = shuffle, seed
        self.report = _DamageReport(self.n_files)

    def epochs(self, batch_size: int, drop_remainder: bool) -> tf.data.Dataset:
        """Exactly `ceil(files / batch_size)` batches (`files // batch_size` when
        `drop_remainder`) per iteration: one pass, then, if dropped files left
        too few batches, batches of further passes."""
        n_batches = (self.n_files // batch_size if drop_remainder
                     else math.ceil(self.n_files / batch_size))
        sentinel = tf.data.Dataset.from_tensors((
            tf.constant(-1, tf.int64),
            tf.constant(self.n_files, tf.int64),
            tf.zeros((self.image_size, self.image_size, 3), tf.float32),
        ))
        first = self._decoded(self._keys(0).map(lambda key: self._pass(key, 0)).unbatch())
        first = first.concatenate(sentinel).batch(batch_size)
        first = first.scan(
            (tf.constant(-1, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64)),
            self._check,
        )
        fewest = batch_size if drop_remainder else 1  # the sentinel's batch may be empty
        first = first.filter(lambda images: tf.shape(images)[0] >= fewest)
        passes = tf.data.Dataset.range(1, _MORE_PASSES + 1)
        more = self._keys(1).flat_map(
            lambda key: passes.map(lambda number: self._pass(key, number)).unbatch()
        )
        more = self._decoded(more).map(lambda key, position, image: image)
        more = more.batch(batch_size, drop_remainder=drop_remainder)
        too_few = tf.data.Dataset.from_tensors(
            tf.zeros((0, self.image_size, self.image_size, 3), tf.float32)
        ).map(lambda images: _fail(
            images,
            f"Too few of the {self.n_files} image files decode to make the {n_batches} "
            f"batches of an epoch, even from {_MORE_PASSES} more passes over them; remove "
            "or replace the damaged files (an UnreadableImageWarning named each)."
        ))
        dataset = first.concatenate(more).concatenate(too_few).take(n_batches)
        return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(
            tf.data.AUTOTUNE
        )

    def _keys(self, offset: int) -> tf.data.Dataset:
        """One key per iteration (epoch)."""
        if not self.shuffle:
            return tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
        seed = None if self.seed is None else self.seed + offset
        return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)

    def _order(self, key, number):
        """The indices of the files in pass `number` of the epoch with `key`."""
        indices = tf.range(self.n_files, dtype=tf.int64)
        if not self.shuffle:
            return indices
        seed = tf.stack([key, tf.cast(number, tf.int64)])
        return tf.random.experimental.stateless_shuffle(indices, seed=seed)

    def _pass(self, key, number):
        """`(key, position, file index)` of each file of one pass, as vectors."""
        return (
            tf.fill([self.n_files], key),
            tf.range(self.n_files, dtype=tf.int64),
            self._order(key, number),
        )

    def _decoded(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """`(key, position, image)`, in order; files that fail to decode are dropped."""
        return dataset.map(
            lambda key, position, index: (
                key,
                position,
                load_image(tf.gather(self.files, index), self.image_size, self.crop_size),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,  # in order, so that a skipped position shows
        ).ignore_errors()

    def _check(self, state, batch):
        """Names the files whose positions a batch of the first pass skips
        (once per file), raises if the whole pass failed, drops the sentinel.

        `state`: the last position seen, the epoch's key and the images so far.
        """
        last, key, count = state
        keys, positions, images = batch
        real = tf.reduce_sum(tf.cast(positions < self.n_files, tf.int64))  # the sentinel is last
        key = tf.where(real > 0, keys[0], key)  # a batch of just the sentinel keeps it
        count += real
        top = positions[-1]

        def report():
            expected = tf.range(last + 1, top + 1)
            missing = tf.sets.difference(expected[None], positions[None]).values
            names = tf.gather(self.files, tf.gather(self._order(key, 0), missing))
            nothing_read = (top == self.n_files) & (count == 0)
            return tf.numpy_function(self.report, [names, nothing_read], tf.int64)

        skipped = top - last > tf.size(positions, out_type=tf.int64)
        reported = tf.cond(skipped, report, lambda: tf.constant(0, tf.int64))
        with tf.control_dependencies([reported]):
            images = tf.identity(images[:real])
        return (top, key, count), images
