import math
import warnings

import numpy as np
import pytest
import tensorflow as tf

from betavae_tf.datasets import image_folder_dataset
from betavae_tf.datasets.image_folder import UnreadableImageWarning, list_image_files

SIZES = [(20, 30), (30, 20), (16, 16), (40, 25), (25, 40), (33, 17), (12, 50), (64, 48), (18, 18), (21, 35)]


def write_image(path, array):
    array = tf.constant(array, dtype=tf.uint8)
    encoded = tf.io.encode_png(array) if str(path).endswith(".png") else tf.io.encode_jpeg(array)
    tf.io.write_file(str(path), encoded)


@pytest.fixture
def folder(tmp_path):
    """10 images of various non-square sizes: 5 PNG, 5 JPEG, plus distractors."""
    rng = np.random.default_rng(0)
    for i, (height, width) in enumerate(SIZES):
        channels = 1 if i == 3 else 3  # one greyscale PNG
        extension = ".png" if i % 2 == 0 else (".JPG" if i == 1 else ".jpg")
        write_image(tmp_path / f"img_{i:02d}{extension}", rng.integers(0, 256, (height, width, channels)))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub" / "nested.png", np.zeros((8, 8, 3)))  # never read: no recursion
    return tmp_path


def collect(dataset):
    return [batch.numpy() for batch in dataset]


def damaged_files():
    """Files that pass the signature check (they start like a JPEG/PNG) but do not decode."""
    rng = np.random.default_rng(1)
    jpeg = tf.io.encode_jpeg(tf.constant(rng.integers(0, 256, (24, 24, 3)), tf.uint8)).numpy()
    return {
        "img_03_header_cut.jpg": jpeg[:40],  # cut inside its header
        "img_05_noise.jpg": b"\xff\xd8\xff" + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(),
        "img_07_garbled.png": b"\x89PNG\r\n\x1a\n this is not a png",
    }


def add_damaged(folder):
    for name, data in damaged_files().items():
        (folder / name).write_bytes(data)
    return sorted(damaged_files())


def distinct(images):
    return len(np.unique(np.round(images.sum(axis=(1, 2, 3)), 3)))


def test_batches_shapes_dtype_range_and_count(folder):
    assert len(list_image_files(folder)) == 10
    dataset = image_folder_dataset(folder, image_size=16, batch_size=4, seed=1)
    assert dataset.element_spec.shape.as_list() == [None, 16, 16, 3]
    assert dataset.element_spec.dtype == tf.float32
    batches = collect(dataset)
    assert [len(b) for b in batches] == [4, 4, 2]
    images = np.concatenate(batches)
    assert images.dtype == np.float32 and images.shape == (10, 16, 16, 3)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.std() > 0.05  # real pixel data, not blanks
    dropped = collect(image_folder_dataset(folder, image_size=16, batch_size=4, drop_remainder=True))
    assert [len(b) for b in dropped] == [4, 4]


def test_shuffle_is_seeded_and_unshuffled_order_is_sorted(folder):
    first = np.concatenate(collect(image_folder_dataset(folder, 8, batch_size=10, seed=3)))
    again = np.concatenate(collect(image_folder_dataset(folder, 8, batch_size=10, seed=3)))
    np.testing.assert_array_equal(first, again)
    ordered = np.concatenate(collect(image_folder_dataset(folder, 8, batch_size=10, shuffle=False)))
    assert not np.array_equal(first, ordered)
    # Same images, other order.
    np.testing.assert_allclose(np.sort(first.sum(axis=(1, 2, 3))), np.sort(ordered.sum(axis=(1, 2, 3))), rtol=1e-5)
    # Without shuffling, file 3 (greyscale) comes fourth and has equal channels.
    np.testing.assert_array_equal(ordered[3, ..., 0], ordered[3, ..., 2])


def test_corrupt_files_are_skipped(folder):
    (folder / "img_99.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (folder / "img_98.jpg").write_bytes(b"")
    assert len(list_image_files(folder)) == 12
    with pytest.warns(UnreadableImageWarning):
        batches = collect(image_folder_dataset(folder, 8, batch_size=5, seed=0))
    # The empty file is left out when the dataset is built; img_99.png starts
    # like a PNG, so the epoch counts it (ceil(11 / 5) = 3 batches). It fails
    # to decode, the 10 good images make only 2 batches, and the third comes
    # from the next pass. Every good image is there; no corrupt one is.
    assert len(batches) == 3
    images = np.concatenate(batches)
    assert images.shape == (15, 8, 8, 3)
    assert distinct(images) == 10
    assert images.std() > 0.05


def test_centre_crop_keeps_the_middle_of_wide_and_tall_images(tmp_path):
    wide = np.zeros((30, 90, 3), np.uint8)
    wide[:, 30:60] = 255  # black left and right thirds, white middle
    write_image(tmp_path / "a_wide.png", wide)
    tall = np.zeros((90, 30, 3), np.uint8)
    tall[30:60] = 255
    write_image(tmp_path / "b_tall.png", tall)
    images = collect(image_folder_dataset(tmp_path, image_size=10, batch_size=2, shuffle=False))[0]
    np.testing.assert_allclose(images, 1.0, atol=1e-6)  # the crop is exactly the white square
    # Without cropping, two thirds of the area would be black; a fixed crop_size
    # smaller than the image cuts out the centre too.
    wide[:, 40:50] = 0
    write_image(tmp_path / "a_wide.png", wide)
    centre = collect(image_folder_dataset(tmp_path, 10, 2, shuffle=False, crop_size=10))[0]
    np.testing.assert_allclose(centre[0], 0.0, atol=1e-6)


def test_validation_split_is_deterministic_and_disjoint(folder):
    def sums(split):
        dataset = image_folder_dataset(folder, 8, 20, seed=None, validation_fraction=0.3, split=split)
        return set(np.round(np.concatenate(collect(dataset)).sum(axis=(1, 2, 3)), 3))

    train, validation = sums("train"), sums("validation")
    assert len(train) == 7 and len(validation) == 3 and not train & validation
    assert validation == sums("validation")
    with pytest.raises(ValueError, match="split must be 'train' or 'validation'"):
        image_folder_dataset(folder, validation_fraction=0.3, split="test")
    with pytest.raises(ValueError, match="split='train' needs validation_fraction"):
        image_folder_dataset(folder, split="train")
    with pytest.raises(ValueError, match="leaves an empty split"):
        image_folder_dataset(folder, validation_fraction=0.01, split="train")


def test_missing_and_empty_folders_and_bad_arguments_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No image folder at .*nowhere"):
        image_folder_dataset(tmp_path / "nowhere")
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"holds no files ending in \.jpg, \.jpeg, \.png"):
        image_folder_dataset(tmp_path)
    write_image(tmp_path / "a.png", np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="image_size must be an integer >= 1. Received: image_size=0"):
        image_folder_dataset(tmp_path, image_size=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        image_folder_dataset(tmp_path, batch_size=2.5)


@pytest.mark.parametrize("batch_size, drop_remainder", [(4, False), (3, False), (4, True), (20, False)])
def test_cardinality_is_known_and_true_per_split(folder, batch_size, drop_remainder):
    def check(dataset, n_files):
        expected = n_files // batch_size if drop_remainder else math.ceil(n_files / batch_size)
        assert dataset.cardinality().numpy() == expected
        for _ in range(2):  # every epoch
            sizes = [len(batch) for batch in collect(dataset)]
            assert len(sizes) == expected and sum(sizes) == (
                expected * batch_size if drop_remainder else n_files
            )

    common = dict(image_size=8, batch_size=batch_size, drop_remainder=drop_remainder)
    check(image_folder_dataset(folder, seed=0, **common), 10)
    check(image_folder_dataset(folder, shuffle=False, **common), 10)
    check(image_folder_dataset(folder, validation_fraction=0.3, split="train", **common), 7)
    check(image_folder_dataset(folder, validation_fraction=0.3, split="validation",
                               shuffle=False, **common), 3)


@pytest.mark.parametrize("options", [
    dict(seed=0), dict(seed=None), dict(shuffle=False), dict(seed=1, drop_remainder=True),
    dict(validation_fraction=0.3, split="train", seed=2),
    dict(validation_fraction=0.3, split="validation", shuffle=False),
])
def test_an_epoch_yields_its_batches_even_when_damaged_files_are_dropped(folder, options):
    add_damaged(folder)  # 13 files: 10 good, 3 that start like images and do not decode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImageWarning)
        dataset = image_folder_dataset(folder, image_size=8, batch_size=4, **options)
        expected = dataset.cardinality().numpy()
        assert expected >= 1
        for _ in range(3):
            batches = collect(dataset)
            assert len(batches) == expected
            images = np.concatenate(batches)
            assert images.min() >= 0 and images.max() <= 1 and images.std() > 0.05
    if "split" not in options:
        assert expected == (13 // 4 if options.get("drop_remainder") else math.ceil(13 / 4))


def test_no_top_up_when_the_good_images_fill_the_batches(folder):
    (folder / "img_05_noise.jpg").write_bytes(damaged_files()["img_05_noise.jpg"])
    with pytest.warns(UnreadableImageWarning, match="img_05_noise.jpg"):
        batches = collect(image_folder_dataset(folder, image_size=8, batch_size=4, seed=3))
    # 11 files make 3 batches; the 10 good images still do: each comes once.
    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert distinct(np.concatenate(batches)) == 10


def test_the_warning_names_each_damaged_file_once(folder):
    names = add_damaged(folder)
    for options in (dict(seed=0), dict(shuffle=False)):
        dataset = image_folder_dataset(folder, image_size=8, batch_size=4, **options)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                collect(dataset)
        messages = [str(w.message) for w in caught if issubclass(w.category, UnreadableImageWarning)]
        for name in names:
            named = [m for m in messages if name in m]
            assert len(named) == 1, (name, messages)
            assert named[0].startswith(f"Skipping the damaged image {str(folder / name)!r}")
        assert len(messages) == len(names)


def test_a_pass_where_nothing_decodes_or_too_little_raises(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((4, 4, 3)))  # found readable when building
    add_damaged(tmp_path)
    dataset = image_folder_dataset(tmp_path, image_size=4, batch_size=2, shuffle=False)
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n gone bad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImageWarning)
        with pytest.raises(tf.errors.InvalidArgumentError, match="None of the 4 image files could be read in this pass"):
            collect(dataset)

    # One good image among 13 files cannot fill 13 batches of 1, even from ten more passes.
    write_image(tmp_path / "a.png", np.zeros((4, 4, 3)))
    for i in range(9):
        (tmp_path / f"z_{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    dataset = image_folder_dataset(tmp_path, image_size=4, batch_size=1, shuffle=False)
    assert dataset.cardinality().numpy() == 13
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImageWarning)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Too few of the 13 image files decode"):
            collect(dataset)


def test_training_from_the_cli_does_not_run_out_of_data(folder, tmp_path_factory):
    from betavae_tf.cli import main

    add_damaged(folder)
    output = tmp_path_factory.mktemp("run")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "--data", f"images:{folder}", "--model", "conv", "--image-size", "16",
                     "--epochs", "2", "--anneal-epochs", "0", "--batch-size", "4", "--verbose", "0",
                     "--output-dir", str(output)]) == 0
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "ran out of data" in m], messages
    assert [m for m in messages if "img_05_noise.jpg" in m]
