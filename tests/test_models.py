import keras
import numpy as np
import pytest
from conftest import run_roundtrip_test

from betavae_tf import BetaVAE, load_vae
from betavae_tf.layers import LearnedLogVariance


def dense(units, activation):
    return ("Dense", units, activation)


SEED_ENCODER = [
    ("InputLayer", None, None),
    dense(64, "relu"),
    ("BatchNormalization", None, None),
    ("Dropout", None, None),
    dense(32, "relu"),
    dense(16, "linear"),  # z_mean
    dense(16, "linear"),  # z_log_var
]
SEED_DECODER = [
    ("InputLayer", None, None),
    dense(32, "relu"),
    ("BatchNormalization", None, None),
    ("Dropout", None, None),
    dense(64, "relu"),
    dense(64, "linear"),
]


def describe(network):
    return [
        (
            type(layer).__name__,
            getattr(layer, "units", None),
            getattr(getattr(layer, "activation", None), "__name__", None),
        )
        for layer in network.layers
    ]


def test_architecture_and_parameter_count_match_the_seed_document():
    model = BetaVAE(input_dim=64, encoding_dim=16)
    assert describe(model.encoder) == SEED_ENCODER
    assert describe(model.decoder) == SEED_DECODER
    assert [layer.rate for layer in model.encoder.layers + model.decoder.layers
            if isinstance(layer, keras.layers.Dropout)] == [0.2, 0.2]
    encoder_trainable = (64 * 64 + 64) + 2 * 64 + (64 * 32 + 32) + 2 * (32 * 16 + 16)
    decoder_trainable = (16 * 32 + 32) + 2 * 32 + (32 * 64 + 64) + (64 * 64 + 64)
    moving_statistics = 2 * 64 + 2 * 32
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert trainable == encoder_trainable + decoder_trainable == 14304
    assert non_trainable == moving_statistics + 1  # + beta
    assert model.encoder.layers[1].input.shape[1] == 64


def randomise_weights(model, rng):
    for weight in model.weights:
        if weight.path.endswith("moving_variance"):
            weight.assign(rng.uniform(0.5, 2.0, weight.shape))
        elif weight.trainable or "moving" in weight.path:
            weight.assign(rng.normal(0, 0.3, weight.shape))


def numpy_dense_vae(model, x, eps):
    """The seed document's network, in NumPy, in inference mode."""

    def layer(network, name):
        return [keras.ops.convert_to_numpy(w) for w in network.get_layer(name).weights]

    def batchnorm(h, network, name):
        gamma, beta, mean, variance = layer(network, name)
        epsilon = network.get_layer(name).epsilon
        return gamma * (h - mean) / np.sqrt(variance + epsilon) + beta

    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    affine = lambda h, network, name: h @ layer(network, name)[0] + layer(network, name)[1]  # noqa: E731
    enc, dec = model.encoder, model.decoder
    h = batchnorm(relu(affine(x, enc, "enc_dense_64")), enc, "enc_batchnorm")
    h = relu(affine(h, enc, "enc_dense_32"))
    mu, log_var = affine(h, enc, "z_mean"), affine(h, enc, "z_log_var")
    z = mu + np.exp(0.5 * log_var) * eps
    h = batchnorm(relu(affine(z, dec, "dec_dense_32")), dec, "dec_batchnorm")
    out = affine(relu(affine(h, dec, "dec_dense_64")), dec, "reconstruction")
    reconstruction = np.mean(np.sum((x - out) ** 2, axis=1))
    kl = np.mean(-0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=1))
    return reconstruction, kl, mu, log_var, out


def test_losses_match_numpy_on_fixed_weights():
    rng = np.random.default_rng(0)
    model = BetaVAE(input_dim=10, encoding_dim=4, beta=2.5, seed=11)
    randomise_weights(model, rng)
    x = rng.normal(size=(16, 10)).astype("float32")

    state = keras.ops.convert_to_numpy(model.sampling.seed_generator.state)
    losses = {k: float(v) for k, v in model.compute_losses(x, training=False).items()}
    model.sampling.seed_generator.state.assign(state)  # replay the eps it drew
    eps = keras.ops.convert_to_numpy(keras.random.normal((16, 4), seed=model.sampling.seed_generator))

    reconstruction, kl, mu, log_var, _ = numpy_dense_vae(model, x, eps)
    assert losses["reconstruction_loss"] == pytest.approx(reconstruction, rel=1e-4)
    assert losses["kl_loss"] == pytest.approx(kl, rel=1e-4)
    assert losses["total_loss"] == pytest.approx(reconstruction + 2.5 * kl, rel=1e-4)
    z_mean, z_log_var = model.encode(x)
    np.testing.assert_allclose(z_mean, mu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(z_log_var, log_var, rtol=1e-4, atol=1e-5)


def test_inference_is_deterministic_from_z_mean_and_training_samples():
    model = BetaVAE(input_dim=8, encoding_dim=3, seed=0)
    x = np.random.rand(6, 8).astype("float32")
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, model.decode(model.encode(x)[0]), rtol=1e-6)
    assert not np.allclose(model(x, training=True), model(x, training=True))


def test_sample_decodes_prior_draws_reproducibly():
    model = BetaVAE(input_dim=8, encoding_dim=3, seed=0)
    a, b, c = model.sample(5, seed=1), model.sample(5, seed=1), model.sample(5, seed=2)
    assert tuple(a.shape) == (5, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    z = keras.random.normal((5, 3), seed=1)
    np.testing.assert_allclose(a, model.decode(z), rtol=1e-6)


def test_batchnorm_updates_in_training_only_and_weights_change_only_when_training():
    model = BetaVAE(input_dim=8, encoding_dim=3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 8)).astype("float32")
    moving_mean = model.encoder.get_layer("enc_batchnorm").moving_mean
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]

    model.evaluate(x, verbose=0)
    model.predict(x, verbose=0)
    after_eval = [keras.ops.convert_to_numpy(w) for w in model.weights]
    for old, new in zip(before, after_eval):
        np.testing.assert_array_equal(old, new)

    model.fit(x, epochs=1, batch_size=16, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(moving_mean), before[
        [w.path for w in model.weights].index(moving_mean.path)])
    changed = [not np.array_equal(old, keras.ops.convert_to_numpy(w))
               for old, w in zip(before, model.trainable_weights)]
    assert sum(changed) > 0


def test_dropout_is_active_in_the_training_step_and_not_in_evaluation():
    model = BetaVAE(input_dim=8, encoding_dim=3, dropout_rate=0.5, seed=0)
    x = np.random.rand(32, 8).astype("float32")
    state = keras.ops.convert_to_numpy(model.sampling.seed_generator.state)

    def losses(training):
        model.sampling.seed_generator.state.assign(state)  # same z noise each time
        return float(model.compute_losses(x, training=training)["total_loss"])

    assert losses(False) == losses(False)
    assert losses(True) != losses(True)  # dropout masks differ between calls


def test_beta_is_a_non_trainable_variable_with_a_float_view():
    model = BetaVAE(input_dim=4, beta=0.5)
    assert model.beta == 0.5
    assert any(w is model.beta_variable for w in model.non_trainable_weights)
    model.beta = 3.0
    assert float(keras.ops.convert_to_numpy(model.beta_variable)) == 3.0
    with pytest.raises(ValueError, match=r"beta must be a finite number >= 0.0. Received: beta=-1"):
        model.beta = -1


def test_history_logs_every_loss_and_beta():
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=0.7)
    model.compile(optimizer="adam")
    x = np.random.rand(32, 8).astype("float32")
    history = model.fit(x, validation_data=(x,), epochs=1, batch_size=16, verbose=0)
    expected = {"loss", "total_loss", "reconstruction_loss", "kl_loss", "beta"}
    assert set(history.history) == expected | {f"val_{k}" for k in expected}
    assert history.history["loss"] == history.history["total_loss"]
    assert history.history["beta"] == pytest.approx([0.7])


def test_changing_beta_changes_the_compiled_training_loss_by_delta_beta_times_kl():
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=0.5, dropout_rate=0.0, seed=3)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights stay put
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    state = keras.ops.convert_to_numpy(model.sampling.seed_generator.state)

    first = model.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0).history
    compiled = model.train_function
    model.beta = 3.0
    model.sampling.seed_generator.state.assign(state)  # the same z noise again
    second = model.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0).history

    assert model.train_function is compiled  # no retrace: beta is read from the variable
    assert second["kl_loss"][0] == pytest.approx(first["kl_loss"][0], rel=1e-6)
    assert second["reconstruction_loss"][0] == pytest.approx(first["reconstruction_loss"][0], rel=1e-6)
    delta = second["loss"][0] - first["loss"][0]
    assert delta == pytest.approx((3.0 - 0.5) * first["kl_loss"][0], rel=1e-5)
    assert delta > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_dim": 4, "beta": -1.0}, r"beta must be a finite number >= 0.0. Received: beta=-1.0"),
        ({"input_dim": 4, "beta": float("nan")}, r"beta must be a finite number"),
        ({"input_dim": 4, "encoding_dim": 0}, r"encoding_dim must be an integer >= 1. Received: encoding_dim=0"),
        ({"input_dim": None}, r"input_dim must be an integer >= 1"),
        ({"input_dim": 4, "dropout_rate": 1.0}, r"dropout_rate must be a finite number >= 0.0 and < 1.0"),
        ({"input_dim": 4, "likelihood": "laplace"}, r"Unknown likelihood 'laplace'"),
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BetaVAE(**kwargs)


def test_compile_refuses_a_loss():
    with pytest.raises(ValueError, match="call compile\\(\\) without loss="):
        BetaVAE(input_dim=4).compile(optimizer="adam", loss="mse")


def test_dense_model_roundtrip(tmp_path):
    model = BetaVAE(input_dim=12, encoding_dim=5, beta=2.0, seed=4)
    x = np.random.rand(7, 12).astype("float32")
    clone = run_roundtrip_test(model, x, (7, 12), len(model.weights), tmp_path)
    assert clone.beta == 2.0 and clone.encoding_dim == 5 and clone.seed == 4


def small_conv_networks(latent=2):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.Flatten()(h)
    encoder = keras.Model(inputs, [keras.layers.Dense(latent)(h), keras.layers.Dense(latent)(h)], name="enc")
    z = keras.Input((latent,))
    h = keras.layers.Reshape((4, 4, 4))(keras.layers.Dense(64, activation="relu")(z))
    outputs = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h)
    return encoder, keras.Model(z, outputs, name="dec")


def test_custom_networks_and_likelihood_plug_in_and_roundtrip(tmp_path):
    encoder, decoder = small_conv_networks()
    model = BetaVAE(encoder=encoder, decoder=decoder, likelihood="bernoulli", beta=4.0)
    assert model.feature_shape == (8, 8, 1) and model.encoding_dim == 2
    x = np.random.default_rng(0).uniform(size=(5, 8, 8, 1)).astype("float32")
    out = run_roundtrip_test(model, x, (5, 8, 8, 1), len(model.weights), tmp_path)
    reconstruction = keras.ops.convert_to_numpy(model(x))
    assert (reconstruction > 0).all() and (reconstruction < 1).all()  # probabilities
    assert out.likelihood.name == "bernoulli"
    model.compile(optimizer="adam")
    history = model.fit(x, epochs=2, batch_size=5, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_custom_networks_that_do_not_fit_are_refused():
    encoder, decoder = small_conv_networks(latent=2)
    _, other_decoder = small_conv_networks(latent=3)
    with pytest.raises(ValueError, match="decoder takes inputs of shape \\(3,\\)"):
        BetaVAE(encoder=encoder, decoder=other_decoder)
    with pytest.raises(ValueError, match="Pass both encoder and decoder"):
        BetaVAE(encoder=encoder)


# ------------------------------------------------------- "gaussian" likelihood
def seeded_losses(model, x, state):
    """`compute_losses` in inference mode with the sampling noise set to `state`."""
    model.sampling.seed_generator.state.assign(state)
    return {k: float(v) for k, v in model.compute_losses(x, training=False).items()}


def test_only_the_gaussian_likelihood_owns_a_trainable_log_variance():
    gaussian = BetaVAE(input_dim=6, encoding_dim=2, likelihood="gaussian")
    assert tuple(gaussian.log_variance.shape) == (6,)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gaussian.log_variance), 0.0)
    assert gaussian.log_variance.path.endswith("log_variance")
    assert any(w is gaussian.log_variance for w in gaussian.trainable_weights)
    for name in ("mse", "bernoulli"):
        other = BetaVAE(input_dim=6, encoding_dim=2, likelihood=name)
        assert other.log_variance is None
        assert len(other.weights) == len(gaussian.weights) - 1
    encoder, decoder = small_conv_networks()
    image_model = BetaVAE(encoder=encoder, decoder=decoder, likelihood="gaussian")
    assert tuple(image_model.log_variance.shape) == (8, 8, 1)


def test_gaussian_losses_match_numpy_and_decode_returns_the_mean():
    rng = np.random.default_rng(1)
    model = BetaVAE(input_dim=10, encoding_dim=4, beta=0.5, likelihood="gaussian", seed=5)
    randomise_weights(model, rng)  # log_variance included: it is trainable
    log_variance = keras.ops.convert_to_numpy(model.log_variance).astype("float64")
    assert np.ptp(log_variance) > 0.1
    x = rng.normal(size=(16, 10)).astype("float32")

    state = keras.ops.convert_to_numpy(model.sampling.seed_generator.state)
    losses = seeded_losses(model, x, state)
    model.sampling.seed_generator.state.assign(state)
    eps = keras.ops.convert_to_numpy(keras.random.normal((16, 4), seed=model.sampling.seed_generator))

    _, kl, mu, _, out = numpy_dense_vae(model, x, eps)
    nll = 0.5 * ((x - out) ** 2 / np.exp(log_variance) + log_variance + np.log(2 * np.pi))
    assert losses["reconstruction_loss"] == pytest.approx(np.mean(nll.sum(axis=1)), rel=1e-4)
    assert losses["total_loss"] == pytest.approx(np.mean(nll.sum(axis=1)) + 0.5 * kl, rel=1e-4)
    # decode returns the decoder's output, the mean μ, with no squashing.
    np.testing.assert_allclose(model.decode(mu), model.decoder(mu), rtol=1e-6)


def test_learned_log_variance_layer_roundtrip(tmp_path):
    layer = LearnedLogVariance((2, 3), name="log_variance")
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(2, 3)]
    x = np.random.rand(4, 2, 3).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), np.zeros((4, 2, 3)))
    clone = run_roundtrip_test(layer, x, (4, 2, 3), 1, tmp_path)
    assert clone.feature_shape == (2, 3)


def test_gaussian_model_roundtrip_keeps_the_learned_variance(tmp_path):
    rng = np.random.default_rng(2)
    model = BetaVAE(input_dim=7, encoding_dim=3, likelihood="gaussian", seed=6)
    model.log_variance.assign(rng.normal(-1.0, 0.5, size=(7,)))
    x = rng.normal(size=(9, 7)).astype("float32")
    state = keras.ops.convert_to_numpy(model.sampling.seed_generator.state)
    expected = seeded_losses(model, x, state)

    clone = run_roundtrip_test(model, x, (9, 7), len(model.weights), tmp_path)
    assert clone.likelihood.name == "gaussian" and tuple(clone.log_variance.shape) == (7,)
    for extension in ("h5", "keras"):
        reloaded = load_vae(tmp_path / f"roundtrip.{extension}")
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(reloaded.log_variance),
            keras.ops.convert_to_numpy(model.log_variance), err_msg=extension)
        assert seeded_losses(reloaded, x, state) == expected


def test_training_with_small_noise_learns_a_small_variance():
    rng = np.random.default_rng(3)
    signal = rng.normal(size=(512, 2)) @ rng.normal(size=(2, 8))  # rank-2 data
    x = (signal + rng.normal(0.0, 0.05, size=signal.shape)).astype("float32")
    model = BetaVAE(input_dim=8, encoding_dim=2, beta=0.1, dropout_rate=0.0,
                    likelihood="gaussian", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, epochs=8, batch_size=16, verbose=0).history
    log_variance = keras.ops.convert_to_numpy(model.log_variance)
    assert (log_variance < 0).all() and log_variance.mean() < -1.0
    assert np.isfinite(history["loss"]).all()
    assert history["reconstruction_loss"][-1] < 0.6 * history["reconstruction_loss"][0]
