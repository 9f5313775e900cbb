import keras
import numpy as np
import pytest
from conftest import run_roundtrip_test

from betavae_tf.networks import build_conv_decoder, build_conv_encoder, conv_bottleneck_shape
from betavae_tf.presets import CONV_PRESETS, build_conv_beta_vae, conv_preset

IMAGE_SHAPES = {"mnist": (28, 28, 1), "dsprites": (64, 64, 1), "faces": (64, 64, 3)}
LATENT_SIZES = {"mnist": 32, "dsprites": 16, "faces": 128}


def layers_of(network, kind):
    return [layer for layer in network.layers if type(layer).__name__ == kind]


def filters_of(network, kind):
    return [layer.filters for layer in layers_of(network, kind)]


def images(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, *shape)).astype("float32")


@pytest.fixture(scope="module")
def full_size_models():
    """The three presets at their default sizes, built once."""
    keras.utils.set_random_seed(0)
    return {name: build_conv_beta_vae(name, seed=0) for name in CONV_PRESETS}


@pytest.mark.parametrize("name", sorted(IMAGE_SHAPES))
def test_full_size_presets_have_the_documented_shapes(full_size_models, name):
    model, shape, latent = full_size_models[name], IMAGE_SHAPES[name], LATENT_SIZES[name]
    x = images(shape)
    assert model.feature_shape == shape and model.encoding_dim == latent
    z_mean, z_log_var = model.encode(x)
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (2, latent)
    logits = model.decoder(z_mean)
    assert tuple(logits.shape) == (2, *shape)
    reconstruction = keras.ops.convert_to_numpy(model(x))
    assert reconstruction.shape == (2, *shape)
    # Linear decoder output read as logits: decode squashes them into (0, 1).
    assert model.likelihood.name == "bernoulli"
    assert model.decoder.get_layer("reconstruction").activation.__name__ == "linear"
    np.testing.assert_allclose(reconstruction, keras.ops.sigmoid(model.decoder(z_mean)), rtol=1e-5)
    assert tuple(model.sample(3, seed=1).shape) == (3, *shape)


@pytest.mark.parametrize(
    "name, encoder_filters, decoder_filters, batch_norms, activation, dropout",
    [
        ("mnist", [32, 64], [32, 1], (0, 0), "ReLU", None),
        ("dsprites", [32, 64, 128], [64, 32, 1], (3, 2), "LeakyReLU", 0.2),
        ("faces", [32, 64, 128, 256], [128, 64, 32, 3], (4, 3), "LeakyReLU", None),
    ],
)
def test_presets_follow_the_seed_architectures(
    full_size_models, name, encoder_filters, decoder_filters, batch_norms, activation, dropout
):
    encoder, decoder = full_size_models[name].encoder, full_size_models[name].decoder
    assert filters_of(encoder, "Conv2D") == encoder_filters
    assert not layers_of(encoder, "Conv2DTranspose") and not layers_of(decoder, "Conv2D")
    # One transposed convolution per encoder convolution, the last one the output.
    assert filters_of(decoder, "Conv2DTranspose") == decoder_filters
    assert len(layers_of(encoder, "BatchNormalization")) == batch_norms[0]
    assert len(layers_of(decoder, "BatchNormalization")) == batch_norms[1]
    other = {"ReLU": "LeakyReLU", "LeakyReLU": "ReLU"}[activation]
    for network in (encoder, decoder):
        assert layers_of(network, activation) and not layers_of(network, other)
        rates = {layer.rate for layer in layers_of(network, "Dropout")}
        assert rates == (set() if dropout is None else {dropout})
    assert all(layer.kernel_size == (conv_preset(name)["kernel_size"],) * 2
               for layer in layers_of(encoder, "Conv2D") + layers_of(decoder, "Conv2DTranspose"))
    if name == "mnist":  # conv → dense → (μ, log σ²); dense → transposed convs
        assert encoder.get_layer("enc_dense").units == decoder.get_layer("dec_dense").units == 256
    else:  # seeds 002/004: convolutions straight into the latent heads
        assert [layer.name for layer in layers_of(decoder, "Dense")] == ["dec_project"]


def test_decoder_feature_maps_mirror_the_encoders(full_size_models):
    model = full_size_models["dsprites"]
    encoder_maps = [tuple(layer.output.shape[1:]) for layer in layers_of(model.encoder, "Conv2D")]
    decoder_maps = [tuple(model.decoder.get_layer("dec_reshape").output.shape[1:])] + [
        tuple(layer.output.shape[1:]) for layer in layers_of(model.decoder, "Conv2DTranspose")]
    assert encoder_maps == [(32, 32, 32), (16, 16, 64), (8, 8, 128)]
    assert decoder_maps == encoder_maps[::-1] + [(64, 64, 1)]


def test_overrides_replace_preset_keys_and_bad_names_are_listed():
    model = build_conv_beta_vae(
        "dsprites", beta=3.0, likelihood="mse", seed=7, encoding_dim=8,
        filters=(4, 8), batch_norm=False, activation="relu", dropout_rate=0.0, kernel_size=3,
    )
    assert (model.encoding_dim, model.beta, model.seed, model.likelihood.name) == (8, 3.0, 7, "mse")
    assert filters_of(model.encoder, "Conv2D") == [4, 8]
    assert filters_of(model.decoder, "Conv2DTranspose") == [4, 1]
    assert tuple(model.decoder.get_layer("dec_reshape").output.shape[1:]) == (16, 16, 8)
    assert not layers_of(model.encoder, "BatchNormalization") + layers_of(model.encoder, "Dropout")
    assert layers_of(model.encoder, "ReLU") and not layers_of(model.encoder, "LeakyReLU")
    assert conv_preset("dsprites")["encoding_dim"] == 16  # the preset itself is untouched
    preset = conv_preset("mnist")
    preset["filters"] = (1,)
    assert CONV_PRESETS["mnist"]["filters"] == (32, 64)

    with pytest.raises(ValueError, match=r"Unknown preset 'cifar'; choose one of \['dsprites', 'faces', 'mnist'\]"):
        build_conv_beta_vae("cifar")
    with pytest.raises(ValueError, match=r"Unknown override\(s\) \['latent'\].*'encoding_dim'"):
        build_conv_beta_vae("mnist", latent=4)


@pytest.mark.parametrize(
    "name, filters",
    [("mnist", (4, 8)), ("dsprites", (4, 4, 8)), ("faces", (2, 4, 4, 8))],
)
def test_small_conv_models_roundtrip(tmp_path, name, filters):
    model = build_conv_beta_vae(name, beta=2.0, seed=1, filters=filters, encoding_dim=3,
                                dense_units=None if name != "mnist" else 8)
    shape = IMAGE_SHAPES[name]
    x = images(shape, n=3)
    clone = run_roundtrip_test(model, x, (3, *shape), len(model.weights), tmp_path)
    assert clone.feature_shape == shape and clone.encoding_dim == 3 and clone.beta == 2.0
    assert filters_of(clone.encoder, "Conv2D") == list(filters)
    assert len(layers_of(clone.encoder, "BatchNormalization")) == (0 if name == "mnist" else len(filters))


def test_a_tiny_conv_model_trains_on_binary_images():
    rng = np.random.default_rng(0)
    probabilities = np.zeros((28, 28, 1))
    probabilities[6:22, 10:18] = 0.9  # a noisy bar on a black background
    x = (rng.uniform(size=(128, 28, 28, 1)) < probabilities).astype("float32")
    model = build_conv_beta_vae("mnist", beta=1.0, seed=0, filters=(4, 8), dense_units=16, encoding_dim=4)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)["total_loss"]
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    after = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)["total_loss"]
    assert np.isfinite(history["loss"]).all()
    assert history["loss"][1] < history["loss"][0]
    assert after < 0.8 * before


def test_conv_builders_standalone_and_their_errors():
    encoder = build_conv_encoder((32, 48, 2), encoding_dim=5, filters=(4, 8, 8), kernel_size=4,
                                 dense_units=6, batch_norm=True, activation="leaky_relu", dropout_rate=0.1)
    assert [tuple(o.shape) for o in encoder.outputs] == [(None, 5), (None, 5)]
    assert tuple(encoder.get_layer("enc_conv_3").output.shape) == (None, 4, 6, 8)
    assert not encoder.get_layer("enc_conv_1").use_bias  # BatchNorm supplies the shift
    decoder = build_conv_decoder((32, 48, 2), encoding_dim=5, filters=(8, 8, 4), kernel_size=4, strides=2)
    assert tuple(decoder.output.shape) == (None, 32, 48, 2)
    assert tuple(decoder.get_layer("dec_reshape").output.shape) == (None, 4, 6, 8)
    assert tuple(build_conv_decoder((27, 27, 1), 2, filters=(4,), strides=3).output.shape) == (None, 27, 27, 1)
    assert conv_bottleneck_shape((64, 64, 3), 4) == (4, 4)

    with pytest.raises(ValueError, match=r"Image size 30x30 is not divisible by 4 = strides\*\*len\(filters\) = 2\*\*2"):
        build_conv_decoder((30, 30, 1), filters=(8, 4))
    with pytest.raises(ValueError, match=r"Image size 28x28 is not divisible by 8"):
        build_conv_beta_vae("mnist", filters=(4, 8, 16))
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'leaky_relu'\]"):
        build_conv_encoder((28, 28, 1), activation="tanh")
    with pytest.raises(ValueError, match=r"filters must be a non-empty sequence of integers >= 1"):
        build_conv_encoder((28, 28, 1), filters=())
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, channels\)"):
        build_conv_encoder((784,))
    with pytest.raises(ValueError, match=r"dropout_rate must be a finite number >= 0.0 and < 1.0"):
        build_conv_decoder((28, 28, 1), dropout_rate=1.0)


def test_the_spatial_broadcast_network_roundtrips_and_learns(tmp_path):
    """The MLP encoder + spatial broadcast decoder of the MIG result in docs/disentanglement.md:
    saves and reloads without Lambda layers (so safe_mode loads it), and its
    loss falls on a small dSprites sample."""
    from betavae_tf import BetaVAE, build_mlp_encoder, build_spatial_broadcast_decoder, train_vae
    from betavae_tf.datasets import DSprites

    shape = (64, 64, 1)
    model = BetaVAE(encoder=build_mlp_encoder(shape, 4, units=16),
                    decoder=build_spatial_broadcast_decoder(shape, 4, units=8),
                    likelihood="bernoulli", seed=0, objective="tcvae", tcvae_estimator="mss")
    _, x = DSprites().sample(256, np.random.RandomState(0))
    x = x.astype("float32")
    run_roundtrip_test(model, x[:3], (3, *shape), len(model.weights), tmp_path)
    history, _ = train_vae(model, x, None, epochs=3, batch_size=32, save_path=None, verbose=0,
                           lr_scheduler=None, patience=None)
    assert history.history["reconstruction_loss"][-1] < history.history["reconstruction_loss"][0]


def _decoders(shape, encoding_dim, **kwargs):
    """The fast and the legacy spatial broadcast decoder, built after the same seed."""
    from betavae_tf import build_spatial_broadcast_decoder

    built = {}
    for fast in (True, False):
        keras.utils.set_random_seed(0)
        built[fast] = build_spatial_broadcast_decoder(shape, encoding_dim, fast=fast, **kwargs)
    return built[True], built[False]


@pytest.mark.parametrize("shape, hidden_layers", [((64, 64, 1), 2), ((12, 10, 3), 1)])
def test_the_fast_spatial_broadcast_decoder_is_the_legacy_one(shape, hidden_layers):
    """Same layer names, weights (shapes, names, order and initial values) and,
    to float tolerance, the same outputs; weights move between the two forms."""
    fast, legacy = _decoders(shape, 5, units=8, hidden_layers=hidden_layers)
    assert layers_of(legacy, "SpatialBroadcast") and layers_of(legacy, "Conv2D")
    assert layers_of(fast, "SpatialBroadcastDense") and layers_of(fast, "PixelDense")
    assert not layers_of(fast, "SpatialBroadcast") and not layers_of(fast, "Conv2D")
    assert [w.path for w in fast.weights] == [w.path for w in legacy.weights]
    assert [w.path for w in fast.weights][-2:] == ["reconstruction/kernel", "reconstruction/bias"]
    assert len(fast.weights) == 2 * (hidden_layers + 1)
    for a, b in zip(fast.get_weights(), legacy.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same starting point
    rng = np.random.default_rng(0)
    legacy.set_weights([rng.standard_normal(w.shape).astype("float32") for w in legacy.weights])
    fast.set_weights(legacy.get_weights())
    z = rng.standard_normal((4, 5)).astype("float32")
    expected = np.asarray(legacy(z))
    assert expected.shape == (4, *shape)
    np.testing.assert_allclose(np.asarray(fast(z)), expected, rtol=1e-5, atol=1e-5)


def test_a_legacy_h5_model_file_loads_its_weights_into_the_fast_decoder(tmp_path):
    from betavae_tf import BetaVAE, build_mlp_encoder

    shape = (16, 16, 1)
    fast_decoder, legacy_decoder = _decoders(shape, 3, units=4)
    models = [BetaVAE(encoder=build_mlp_encoder(shape, 3, units=8), decoder=decoder,
                      likelihood="bernoulli") for decoder in (legacy_decoder, fast_decoder)]
    legacy, fast = models
    legacy.save(tmp_path / "legacy.h5")
    fast.load_weights(tmp_path / "legacy.h5")
    x = images(shape, n=3)
    np.testing.assert_allclose(fast.predict(x, verbose=0), legacy.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_training_with_the_fast_decoder_gives_the_legacy_losses():
    """The study's model (β-TCVAE, MSS, Bernoulli) trained from the same
    weights, noise and batches: the same losses and weights, to float tolerance."""
    from betavae_tf import BetaVAE, build_mlp_encoder, train_vae

    shape = (16, 16, 1)
    x = (np.random.default_rng(0).random((96, *shape)) > 0.7).astype("float32")
    runs = {}
    for fast, decoder in zip((True, False), _decoders(shape, 4, units=8)):
        keras.utils.set_random_seed(1)
        model = BetaVAE(encoder=build_mlp_encoder(shape, 4, units=16), decoder=decoder,
                        likelihood="bernoulli", beta=6.0, objective="tcvae",
                        tcvae_estimator="mss", seed=0)
        history, model = train_vae(model, x, None, batch_size=32, epochs=3, save_path=None,
                                   lr_scheduler=None, patience=None, verbose=0, seed=0)
        runs[fast] = history.history, model.get_weights()
    (fast_history, fast_weights), (legacy_history, legacy_weights) = runs[True], runs[False]
    assert set(fast_history) == set(legacy_history)
    for key in ("loss", "reconstruction_loss", "kl_loss", "total_correlation"):
        np.testing.assert_allclose(fast_history[key], legacy_history[key], rtol=1e-4, atol=1e-6,
                                   err_msg=key)
    assert fast_history["loss"][-1] < fast_history["loss"][0]
    for a, b in zip(fast_weights, legacy_weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
