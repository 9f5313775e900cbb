import keras
import numpy as np
import pytest
from conftest import run_roundtrip_test

from betavae_tf import Sampling


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


def _outputs_and_gradients(layer, inputs):
    """The layer's outputs and the gradients of a fixed function of them with
    respect to the inputs and the layer's weights."""
    import tensorflow as tf

    inputs = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
        loss = tf.reduce_sum(tf.sin(outputs))
    gradients = tape.gradient(loss, [inputs] + layer.trainable_weights)
    return [np.asarray(outputs)] + [np.asarray(g) for g in gradients]


def test_pixel_dense_is_a_1x1_conv2d_with_its_weights(tmp_path):
    from betavae_tf.layers import PixelDense

    x = np.random.default_rng(0).standard_normal((2, 4, 5, 6)).astype("float32")
    clone = run_roundtrip_test(PixelDense(3, activation="relu", name="p"), x, (2, 4, 5, 3), 2,
                               tmp_path)
    assert clone.filters == 3 and clone.name == "p"
    for filters, activation in ((3, "relu"), (3, None), (1, None)):  # 1: a bias without BiasAdd
        conv = keras.layers.Conv2D(filters, 1, activation=activation)
        conv.build(x.shape)
        conv.set_weights([np.random.default_rng(1).standard_normal(w.shape).astype("float32")
                          for w in conv.get_weights()])
        pixel = PixelDense(filters, activation=activation)
        pixel.build(x.shape)
        assert [w.shape for w in pixel.weights] == [w.shape for w in conv.weights]
        assert [w.name for w in pixel.weights] == [w.name for w in conv.weights] == ["kernel", "bias"]
        pixel.set_weights(conv.get_weights())
        for got, expected in zip(_outputs_and_gradients(pixel, x), _outputs_and_gradients(conv, x)):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert tuple(PixelDense(7)(x[0]).shape) == (4, 5, 7)  # any rank: per last axis


def test_spatial_broadcast_dense_is_spatial_broadcast_then_a_1x1_conv2d(tmp_path):
    from betavae_tf.layers import SpatialBroadcast, SpatialBroadcastDense, coordinate_grid

    z = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    clone = run_roundtrip_test(SpatialBroadcastDense(5, 6, 7, activation="relu", name="s"), z,
                               (3, 5, 6, 7), 2, tmp_path)
    assert (clone.height, clone.width, clone.filters) == (5, 6, 7)
    np.testing.assert_array_equal(  # SpatialBroadcast's coordinates, x along the width
        keras.ops.convert_to_numpy(SpatialBroadcast(5, 6)(z))[0, :, :, 4:],
        keras.ops.convert_to_numpy(coordinate_grid(5, 6)))
    conv = keras.layers.Conv2D(7, 1, activation="relu")
    conv.build((None, 5, 6, 6))
    conv.set_weights([np.random.default_rng(1).standard_normal(w.shape).astype("float32")
                      for w in conv.get_weights()])
    legacy = keras.Sequential([keras.Input((4,)), SpatialBroadcast(5, 6), conv])
    fast = SpatialBroadcastDense(5, 6, 7, activation="relu")
    fast.build(z.shape)
    assert [w.shape for w in fast.weights] == [w.shape for w in conv.weights]
    fast.set_weights(conv.get_weights())
    legacy_results = _outputs_and_gradients(legacy, z)
    for got, expected in zip(_outputs_and_gradients(fast, z), legacy_results):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.count_nonzero(legacy_results[0] == 0) > 0  # the ReLU cut some pixels
    with pytest.raises(ValueError, match="height and width must be >= 1"):
        SpatialBroadcastDense(4, 0, 2)
    with pytest.raises(ValueError, match="filters must be an integer >= 1"):
        SpatialBroadcastDense(4, 4, 0)
