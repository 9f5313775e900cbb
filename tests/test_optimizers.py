"""FusedAdam: the same updates as keras.optimizers.Adam, through one kernel per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import BetaVAE, load_vae, save_vae, train_vae
from betavae_tf.optimizers import FusedAdam

RNG = np.random.default_rng(0)
WEIGHTS = [RNG.normal(size=(5, 3)).astype("float32"), RNG.normal(size=(3,)).astype("float32")]
GRADIENTS = [[RNG.normal(size=w.shape).astype("float32") for w in WEIGHTS] for _ in range(25)]


def _train(optimizer, jit_compile=False):
    """Applies GRADIENTS to fresh copies of WEIGHTS; returns (weights, optimizer variables)."""
    weights = [keras.Variable(w) for w in WEIGHTS]

    @tf.function(jit_compile=jit_compile)
    def step(gradients):
        optimizer.apply(gradients, weights)

    for gradients in GRADIENTS:
        step(gradients)
    return [w.numpy() for w in weights], [v.numpy() for v in optimizer.variables]


def _assert_close(fused, reference, atol):
    assert len(fused[1]) == len(reference[1])  # same slots, same iteration counter
    for got, want in zip(fused[0] + fused[1], reference[0] + reference[1]):
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"clipnorm": 0.5},
        {"global_clipnorm": 0.5},
        {"weight_decay": 0.01},
        {"use_ema": True},
        {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.05, 5, 0.5)},
        {"gradient_accumulation_steps": 2},
    ],
    ids=lambda options: ",".join(options) or "default",
)
def test_same_updates_as_keras_adam(options):
    options = {"learning_rate": 0.01, **options}
    reference = _train(keras.optimizers.Adam(**options))
    fused = _train(FusedAdam(**options))
    assert np.abs(fused[0][0] - WEIGHTS[0]).max() > 1e-3  # the weights did move
    _assert_close(fused, reference, atol=1e-5)


def test_fused_kernel_replaces_kerass_update_ops():
    weights = [keras.Variable(w) for w in WEIGHTS]

    def update_ops(optimizer):
        optimizer.build(weights)
        graph = tf.function(lambda g: optimizer.apply(g, weights)).get_concrete_function(
            [tf.TensorSpec(w.shape) for w in WEIGHTS]
        ).graph
        return [op.type for op in graph.get_operations()]

    fused = update_ops(FusedAdam(0.01))
    assert fused.count("ResourceApplyAdam") == len(WEIGHTS)
    assert "ResourceApplyAdam" not in update_ops(keras.optimizers.Adam(0.01))
    assert "ResourceApplyAdam" not in update_ops(FusedAdam(0.01, amsgrad=True))


def test_amsgrad_falls_back_to_keras_update_exactly():
    reference = _train(keras.optimizers.Adam(0.01, amsgrad=True))
    _assert_close(_train(FusedAdam(0.01, amsgrad=True)), reference, atol=0)


def test_same_updates_under_xla():
    reference = _train(keras.optimizers.Adam(0.01))
    _assert_close(_train(FusedAdam(0.01), jit_compile=True), reference, atol=1e-5)


def test_sparse_gradients_fall_back():
    rows = tf.constant([0, 2])

    def train(optimizer):
        variable = keras.Variable(WEIGHTS[0])
        for _ in range(5):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.gather(variable, rows) ** 2)
            gradient = tape.gradient(loss, variable)
            assert isinstance(gradient, tf.IndexedSlices)
            optimizer.apply([gradient], [variable])
        return variable.numpy()

    np.testing.assert_allclose(
        train(FusedAdam(0.1)), train(keras.optimizers.Adam(0.1)), rtol=0, atol=1e-6
    )


def test_config_round_trip():
    optimizer = FusedAdam(learning_rate=0.003, beta_1=0.8, clipnorm=1.0)
    config = optimizer.get_config()
    assert config == {**keras.optimizers.Adam(**{
        k: config[k] for k in ("learning_rate", "beta_1", "clipnorm")}).get_config(),
        "name": config["name"]}
    copy = FusedAdam.from_config(config)
    assert isinstance(copy, FusedAdam) and copy.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert type(restored) is FusedAdam


def test_train_vae_uses_it_and_trains_like_keras_adam(digits):
    x_train, _ = digits
    x = x_train[:512]

    def fit(optimizer):
        keras.utils.set_random_seed(0)
        model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
        history, model = train_vae(model, x, batch_size=64, epochs=3, save_path=None,
                                   patience=None, lr_scheduler=None, verbose=0,
                                   optimizer=optimizer, seed=0)
        return history.history["loss"], model

    fused_losses, fused_model = fit(None)
    assert type(fused_model.optimizer) is FusedAdam
    keras_losses, keras_model = fit(keras.optimizers.Adam(1e-3))
    assert fused_losses[-1] < fused_losses[0]
    np.testing.assert_allclose(fused_losses, keras_losses, rtol=1e-4)
    for got, want in zip(fused_model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_saved_optimizer_reloads_as_fused_adam(digits, tmp_path, extension):
    x_train, _ = digits
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    _, model = train_vae(model, x_train[:256], batch_size=64, epochs=2, save_path=None,
                         patience=None, lr_scheduler=None, verbose=0)
    path = tmp_path / f"model{extension}"
    save_vae(model, path)
    reloaded = load_vae(path)
    assert type(reloaded.optimizer) is FusedAdam
    assert int(reloaded.optimizer.iterations) == int(model.optimizer.iterations) == 8
    for got, want in zip(reloaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
