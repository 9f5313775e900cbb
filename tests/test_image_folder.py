import numpy as np
import pytest
import tensorflow as tf

from betavae_tf.datasets import image_folder_dataset
from betavae_tf.datasets.image_folder import list_image_files

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
    images = np.concatenate(collect(image_folder_dataset(folder, 8, batch_size=5, seed=0)))
    assert images.shape == (10, 8, 8, 3)


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
