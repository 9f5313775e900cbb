import numpy as np
import pytest
import tensorflow as tf

from betavae_tf.data_sources import flatten, load_data_source, parse_source


def test_parse_source():
    assert parse_source("digits") == ("digits", None)
    assert parse_source("mnist") == ("mnist", None)
    assert parse_source("images:/data/faces") == ("images", "/data/faces")
    for bad, message in [("cifar", "not a data source"), ("csv", "needs a path"), ("digits:x", "takes no path")]:
        with pytest.raises(ValueError, match=message):
            parse_source(bad)


def test_digits_with_labels_for_pictures():
    data = load_data_source("digits", val_fraction=0.2, seed=0)
    assert data.train.shape == (1438, 64) and data.test.shape == (359, 64)
    assert data.test_labels.shape == (359,) and set(np.unique(data.test_labels)) == set(range(10))
    assert data.image_shape is None and data.standardizer is not None


def test_generated_dsprites_source_and_flatten():
    data = load_data_source("dsprites", n_samples=40, n_test=10, seed=1)
    assert data.train.shape == (32, 64, 64, 1) and data.validation.shape == (8, 64, 64, 1)
    assert data.test.shape == (10, 64, 64, 1) and data.label_name == "position_x"
    assert set(np.unique(data.train)) <= {0.0, 1.0}
    flat = flatten(data)
    assert flat.train.shape == (32, 4096) and flat.image_shape == (64, 64, 1)


def test_image_folder_source_streams(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(12):
        pixels = rng.integers(0, 255, size=(20, 24, 3), dtype=np.uint8)
        tf.io.write_file(str(tmp_path / f"{i:03d}.png"), tf.io.encode_png(pixels))
    data = load_data_source(f"images:{tmp_path}", val_fraction=0.25, image_size=16, batch_size=4, n_test=4)
    assert isinstance(data.train, tf.data.Dataset)
    assert sum(int(batch.shape[0]) for batch in data.train) == 9
    assert data.test.shape == (3, 16, 16, 3) and 0 <= data.test.min() and data.test.max() <= 1
    flat = flatten(data)
    assert next(iter(flat.train)).shape[1:] == (16 * 16 * 3,)
