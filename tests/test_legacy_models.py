"""Files saved by the released betavae_tf 0.1.0 keep loading.

The fixtures were written by `tests/fixtures/legacy_models/make_legacy_models.py`
with the release's code; every model must come back with identical outputs,
the same β and objective weights, its optimizer state, and train on.
"""

import json
import pathlib

import keras
import numpy as np
import pytest

from betavae_tf import load_vae

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "legacy_models"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
OUTPUTS = np.load(FIXTURES / "outputs.npz")
CASES = [(name, extension) for name in MANIFEST["models"] for extension in ("h5", "keras")]


@pytest.mark.parametrize("name, extension", CASES)
def test_a_released_model_loads_to_identical_outputs_and_trains_on(name, extension):
    expected = MANIFEST["models"][name]
    model = load_vae(FIXTURES / f"{name}.{extension}")
    x = OUTPUTS[f"{name}/x"]
    np.testing.assert_array_equal(model.predict(x, verbose=0), OUTPUTS[f"{name}/predict"])
    z_mean, z_log_var = model.encode(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(z_mean), OUTPUTS[f"{name}/z_mean"])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(z_log_var), OUTPUTS[f"{name}/z_log_var"]
    )
    assert model.beta == expected["beta"]
    assert model.objective.name == expected["objective"]
    assert model.likelihood.name == expected["likelihood"]
    for weight in ("gamma", "alpha", "gamma_dw", "free_bits", "capacity"):
        assert getattr(model, weight) == pytest.approx(expected[weight]), weight
    assert type(model.optimizer).__name__ == expected["optimizer"]
    assert int(model.optimizer.iterations.numpy()) == expected["iterations"]

    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, epochs=1, batch_size=5, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert int(model.optimizer.iterations.numpy()) == expected["iterations"] + 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("extension", ["h5", "keras"])
def test_a_released_spatial_broadcast_model_keeps_its_layers_and_its_weights_fit_the_fast_decoder(
        extension):
    """The released file loads through `SpatialBroadcast` + `Conv2D` (identical
    outputs, above); its decoder's weights, moved into today's fast decoder,
    give the same outputs to float tolerance."""
    from betavae_tf import BetaVAE, build_spatial_broadcast_decoder

    model = load_vae(FIXTURES / f"spatial_broadcast.{extension}")
    kinds = [type(layer).__name__ for layer in model.decoder.layers]
    assert kinds == ["InputLayer", "SpatialBroadcast", "Conv2D", "Conv2D"]
    fast_decoder = build_spatial_broadcast_decoder((16, 16, 1), 3, units=4, hidden_layers=1)
    assert "PixelDense" in [type(layer).__name__ for layer in fast_decoder.layers]
    fast_decoder.set_weights(model.decoder.get_weights())
    fast = BetaVAE(encoder=model.encoder, decoder=fast_decoder, likelihood="bernoulli")
    x = OUTPUTS["spatial_broadcast/x"]
    np.testing.assert_allclose(fast.predict(x, verbose=0), OUTPUTS["spatial_broadcast/predict"],
                               rtol=1e-5, atol=1e-6)
