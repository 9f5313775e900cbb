import gzip

import numpy as np
import pytest
from conftest import real_mnist_dir

from betavae_tf.datasets import load_mnist
from betavae_tf.datasets.mnist import IMAGES_MAGIC, LABELS_MAGIC, read_idx


def write_idx(path, array, magic=None, compress=None):
    """Writes a uint8 array as an IDX file (gzipped when the name ends in .gz)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(data)
    return path


def write_tiny_mnist(folder, gz, n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), array)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_tiny_idx_files_are_read_back_exactly(tmp_path, gz):
    arrays = write_tiny_mnist(tmp_path, gz)
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path)
    assert x_train.shape == (5, 28, 28, 1) and x_test.shape == (3, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(
        np.rint(x_train[..., 0] * 255).astype(np.uint8), arrays["train-images-idx3-ubyte"]
    )
    np.testing.assert_array_equal(
        np.rint(x_test[..., 0] * 255).astype(np.uint8), arrays["t10k-images-idx3-ubyte"]
    )
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0


def test_read_idx_parses_header_dims(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.gz", array), IMAGES_MAGIC), array)
    labels = np.array([3, 1, 4], np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l", labels), LABELS_MAGIC), labels)


def test_env_var_may_point_at_a_folder_holding_mnist(tmp_path, monkeypatch):
    arrays = write_tiny_mnist(tmp_path / "mnist", gz=True, n_train=4, n_test=2)
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path))
    (x_train, y_train), (x_test, _) = load_mnist()
    assert x_train.shape == (4, 28, 28, 1) and x_test.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path / "mnist"))
    assert load_mnist()[0][0].shape == (4, 28, 28, 1)


def test_truncated_files_are_refused_naming_the_file(tmp_path):
    write_tiny_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)
    path.write_bytes(path.read_bytes()[:6])  # cut inside the header
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)


def test_truncated_gzip_is_refused_naming_the_file(tmp_path):
    write_tiny_mnist(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*truncated or corrupt"):
        load_mnist(tmp_path)


def test_wrong_magic_is_refused(tmp_path):
    write_tiny_mnist(tmp_path, gz=False)
    # Labels where images belong: magic 0x801 instead of 0x803.
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte' has IDX magic number 0x00000801, expected 0x00000803"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "x", np.zeros(5, np.uint8), magic=0x12345601)
    with pytest.raises(ValueError, match="magic number 0x12345601"):
        read_idx(tmp_path / "x")


def test_mismatched_counts_and_bad_labels_are_refused(tmp_path):
    write_tiny_mnist(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(5, 12, np.uint8))
    with pytest.raises(ValueError, match="label 12, but MNIST labels are 0..9"):
        load_mnist(tmp_path)


def test_missing_folder_or_file_says_how_to_fix(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"does not exist; pass data_dir=.* or set BETAVAE_DATA_DIR"):
        load_mnist(tmp_path / "nowhere")
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"from BETAVAE_DATA_DIR"):
        load_mnist()
    with pytest.raises(FileNotFoundError, match=r"No train-images-idx3-ubyte\[\.gz\]"):
        load_mnist(tmp_path)
    write_tiny_mnist(tmp_path, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"No t10k-labels-idx1-ubyte\[\.gz\]"):
        load_mnist(tmp_path)


def test_real_mnist():
    folder = real_mnist_dir()
    if folder is None:
        pytest.skip("real MNIST not available (set BETAVAE_DATA_DIR)")
    (x_train, y_train), (x_test, y_test) = load_mnist(folder)
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert y_test[0] == 7 and y_train[0] == 5
    assert 0.12 < x_train.mean() < 0.14  # MNIST's mean intensity is 0.1307
