import keras
import numpy as np
import pytest

from betavae_tf import Sampling
from conftest import run_roundtrip_test


def test_sampling_is_reparameterised_draw_with_seeded_noise():
    z_mean = np.array([[0.0, 1.0, -2.0]] * 4, "float32")
    z_log_var = np.array([[0.0, np.log(4.0), np.log(0.25)]] * 4, "float32")
    layer = Sampling(seed=3)
    state = keras.ops.convert_to_numpy(layer.seed_generator.state)
    z = keras.ops.convert_to_numpy(layer((z_mean, z_log_var)))

    layer.seed_generator.state.assign(state)  # replay the same eps
    eps = keras.ops.convert_to_numpy(
        keras.random.normal(z_mean.shape, seed=layer.seed_generator)
    )
    np.testing.assert_allclose(z, z_mean + np.exp(0.5 * z_log_var) * eps, rtol=1e-6)


def test_same_seed_same_z_and_different_seed_different_z():
    inputs = (np.zeros((5, 4), "float32"), np.zeros((5, 4), "float32"))
    first = keras.ops.convert_to_numpy(Sampling(seed=7)(inputs))
    again = keras.ops.convert_to_numpy(Sampling(seed=7)(inputs))
    other = keras.ops.convert_to_numpy(Sampling(seed=8)(inputs))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_successive_draws_differ_and_have_the_posterior_moments():
    layer = Sampling(seed=0)
    inputs = (np.full((20000, 2), 3.0, "float32"), np.full((20000, 2), np.log(0.25), "float32"))
    a = keras.ops.convert_to_numpy(layer(inputs))
    b = keras.ops.convert_to_numpy(layer(inputs))
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a.mean(axis=0), 3.0, atol=0.02)
    np.testing.assert_allclose(a.std(axis=0), 0.5, atol=0.02)


def test_sampling_roundtrip(tmp_path):
    inputs = (np.random.rand(3, 4).astype("float32"), np.random.rand(3, 4).astype("float32"))
    clone = run_roundtrip_test(Sampling(seed=5, name="s"), inputs, (3, 4), 0, tmp_path)
    assert clone.seed == 5 and clone.name == "s"


def test_spatial_broadcast_tiles_z_and_appends_coordinates(tmp_path):
    from betavae_tf.layers import SpatialBroadcast

    z = np.array([[1.0, -2.0], [0.5, 3.0]], dtype="float32")
    clone = run_roundtrip_test(SpatialBroadcast(3, 4, name="b"), z, (2, 3, 4, 4), 0, tmp_path)
    out = keras.ops.convert_to_numpy(clone(z))
    np.testing.assert_array_equal(out[1, :, :, :2], np.broadcast_to(z[1], (3, 4, 2)))
    np.testing.assert_allclose(out[0, 0, :, 2], [-1, -1 / 3, 1 / 3, 1], rtol=1e-6)  # x along width
    np.testing.assert_allclose(out[0, :, 0, 3], [-1, 0, 1])  # y along height
    with pytest.raises(ValueError, match="height and width must be >= 1"):
        SpatialBroadcast(0, 4)
