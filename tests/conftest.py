"""Shared fixtures and the round-trip helper every layer and model goes through."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from betavae_tf import custom_objects  # noqa: E402
from betavae_tf.datasets import load_digits  # noqa: E402

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"
MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def real_mnist_dir():
    """The real MNIST folder from BETAVAE_DATA_DIR or ../shared/data/mnist, or None."""
    for candidate in (os.environ.get("BETAVAE_DATA_DIR"), SHARED_MNIST):
        if not candidate:
            continue
        for folder in (pathlib.Path(candidate), pathlib.Path(candidate) / "mnist"):
            if all((folder / name).is_file() or (folder / (name + ".gz")).is_file()
                   for name in MNIST_NAMES):
                return folder.resolve()
    return None


@pytest.fixture(autouse=True)
def fixed_seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def digits():
    """`(x_train, x_val)` of the standardised digits, float32 `(n, 64)`."""
    x_train, x_val, _ = load_digits(val_fraction=0.2, seed=0)
    return x_train, x_val


def assert_same_outputs(model, reloaded, x):
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))


def run_roundtrip_test(obj, inputs, expected_output_shape, expected_weight_count, tmp_path):
    """Output shape, weight count, `from_config(get_config())` and save -> load.

    `obj` is a layer or a model; layers are wrapped in a functional model for
    the save -> load step. Outputs must be identical after reloading from both
    `.h5` and `.keras`; files are saved before the first call of the saved
    model, so layers that draw seeded noise must reproduce it too.
    """
    outputs = obj(inputs)
    output = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    assert tuple(output.shape) == tuple(expected_output_shape)
    assert len(obj.weights) == expected_weight_count

    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert clone.get_config() == config

    if isinstance(obj, keras.Model):
        model = obj
    else:
        tensors = [keras.Input(shape=t.shape[1:]) for t in inputs] if isinstance(
            inputs, (tuple, list)) else keras.Input(shape=inputs.shape[1:])
        model = keras.Model(tensors, type(obj).from_config(config)(tensors))
    paths = [str(tmp_path / f"roundtrip.{extension}") for extension in ("h5", "keras")]
    for path in paths:
        model.save(path)
    expected = keras.ops.convert_to_numpy(model(inputs))
    for path in paths:
        reloaded = keras.models.load_model(path, custom_objects=custom_objects())
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(reloaded(inputs)), expected, err_msg=path
        )
    return clone
