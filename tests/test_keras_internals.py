"""Each private Keras API betavae_tf relies on still does what keras_internals says.

If a Keras upgrade breaks one, this file fails first, naming it."""

import keras
import numpy as np
import pytest

from betavae_tf import BetaVAE, FusedAdam, keras_internals


def test_the_checked_versions_include_the_installed_keras():
    if keras.__version__ not in keras_internals.CHECKED_KERAS_VERSIONS:
        pytest.skip(f"Keras {keras.__version__} is not among the checked versions "
                    f"{keras_internals.CHECKED_KERAS_VERSIONS}: run this file and add it")


def test_safe_mode_scope_refuses_lambdas_whatever_the_global_setting(tmp_path):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = str(tmp_path / "lambda.keras")
    model.save(path)
    with keras_internals.safe_mode_scope(True):
        with pytest.raises(ValueError, match="safe_mode"):
            keras.models.load_model(path, safe_mode=False)


def test_compile_config_kept_restores_what_the_h5_writer_pops(tmp_path):
    model = BetaVAE(input_dim=4, encoding_dim=2)
    model.compile(optimizer=FusedAdam(1e-3))
    model.save(str(tmp_path / "plain.h5"))
    assert "optimizer" not in model._compile_config.config  # what Keras does (the reason)
    model.compile(optimizer=FusedAdam(1e-3))
    with keras_internals.compile_config_kept(model):
        model.save(str(tmp_path / "kept.h5"))
    assert "optimizer" in model._compile_config.config


def test_seed_generators_lists_every_layers_generator_in_a_fixed_order():
    model = BetaVAE(input_dim=4, encoding_dim=2, seed=3)  # dropout layers have generators too
    generators = keras_internals.seed_generators(model)
    assert model.sampling.seed_generator in generators
    assert keras_internals.seed_generators(model) == generators
    assert len(generators) >= 3  # sampling, the prior's, two dropouts


def test_initial_epoch_round_trip_and_fit_honours_it():
    model = BetaVAE(input_dim=4, encoding_dim=2)
    model.compile(optimizer="adam")
    seen = []

    class SetStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            keras_internals.set_initial_epoch(self.model, 2)

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    model.fit(np.zeros((8, 4), "float32"), epochs=4, verbose=0, callbacks=[SetStart()])
    assert seen == [2, 3] and keras_internals.initial_epoch(model) == 2
    keras_internals.set_initial_epoch(model, None)
    assert keras_internals.initial_epoch(model) is None


def test_clip_gradients_and_adam_slots():
    optimizer = keras.optimizers.Adam(0.1, clipnorm=1.0)
    weight = keras.Variable(np.zeros(3, "float32"))
    optimizer.build([weight])
    clipped = keras_internals.clip_gradients(optimizer, [keras.ops.ones(3) * 10])
    assert float(keras.ops.norm(clipped[0])) == pytest.approx(1.0, rel=1e-5)
    optimizer.apply([np.ones(3, "float32")], [weight])
    m, v = keras_internals.adam_slots(optimizer, weight)
    np.testing.assert_allclose(m.numpy(), 0.1 * np.ones(3) / np.sqrt(3), rtol=1e-5)  # (1-β1)·clipped g
    assert v.shape == (3,)


def test_distribute_strategy_of_a_model_made_in_a_scope():
    import tensorflow as tf

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        layer_model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert keras_internals.distribute_strategy_of(layer_model) is strategy
