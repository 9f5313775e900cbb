"""The speed options change how fast training runs, never what it computes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import BetaVAE, CyclicalAnnealing, train_vae
from betavae_tf.losses import kl_divergence
from betavae_tf.training import _resolve_steps_per_execution


def _fit(x, x_val, epochs=2, **options):
    keras.utils.set_random_seed(0)
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0, dropout_rate=0.0)
    history, model = train_vae(model, x, x_val, epochs=epochs, save_path=None, shuffle=False,
                               verbose=0, lr_scheduler=None, patience=None, seed=0, **options)
    return history.history, model


@pytest.fixture(scope="module")
def reference(digits):
    x, x_val = digits
    return _fit(x, x_val, steps_per_execution=1, jit_compile=False)


@pytest.mark.parametrize("options, rtol", [
    ({"steps_per_execution": 7, "jit_compile": False}, 1e-5),
    ({"steps_per_execution": "auto", "jit_compile": False}, 1e-5),
    ({"endless_loop": False}, 1e-5),
    ({"fused_adam": False}, 1e-5),
], ids=["spe7", "spe-auto", "keras-loop", "keras-adam"])
def test_same_losses_and_weights_with_and_without_steps_per_execution(digits, reference, options, rtol):
    x, x_val = digits
    history, model = _fit(x, x_val, **options)
    ref_history, ref_model = reference
    assert history.keys() == ref_history.keys()
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_loss"):
        np.testing.assert_allclose(history[key], ref_history[key], rtol=rtol)
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=100 * rtol, atol=100 * rtol)


def test_xla_computes_the_same_losses_and_gradients(digits):
    """The loss terms and their gradients of a fixed batch with a fixed z, with
    and without XLA. (XLA draws Sampling's noise with another random
    algorithm, so whole runs agree only statistically: see the next test.)"""
    x = tf.constant(digits[0][:64])
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0, dropout_rate=0.0)
    epsilon = tf.random.stateless_normal((64, 4), seed=(1, 2))

    def losses_and_gradients(x):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = model.encoder(x, training=True)
            z = z_mean + tf.exp(0.5 * z_log_var) * epsilon
            reconstruction = tf.reduce_mean(model.negative_log_likelihood(x, model.decoder(z, training=True)))
            kl = tf.reduce_mean(kl_divergence(z_mean, z_log_var))
            total = reconstruction + model.beta_variable * kl
        return [total, reconstruction, kl], tape.gradient(total, model.trainable_weights)

    plain = tf.function(losses_and_gradients, jit_compile=False)(x)
    fused = tf.function(losses_and_gradients, jit_compile=True)(x)
    for a, b in zip(tf.nest.flatten(plain), tf.nest.flatten(fused)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_training_with_xla_reaches_the_same_losses(digits, reference):
    x, x_val = digits
    history, _ = _fit(x, x_val, jit_compile=True)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], reference[0][key], rtol=0.02)


def test_auto_steps_per_execution_runs_an_epoch_per_call_on_small_data(digits):
    x, x_val = digits
    _, model = _fit(x, x_val, epochs=1)
    assert model.steps_per_execution == -(-len(x) // 64) == 23  # the whole epoch per call


@pytest.mark.parametrize("steps, expected", [(23, 23), (32, 32), (936, 26), (938, 32), (None, 32)])
def test_auto_steps_per_execution_tiles_the_epoch_when_it_can(steps, expected):
    assert _resolve_steps_per_execution("auto", None, steps) == expected
    assert _resolve_steps_per_execution(5, None, steps) == 5


def test_a_per_step_beta_schedule_runs_one_step_per_call(digits):
    x, x_val = digits
    schedule = CyclicalAnnealing(0.0, 1.0, cycle_length=4, n_cycles=1, update="step")
    _, model = _fit(x[:256], x_val, epochs=1, kl_scheduler=schedule)
    assert model.steps_per_execution == 1
    with pytest.raises(ValueError, match="needs steps_per_execution=1.*Received: steps_per_execution=4"):
        _fit(x[:256], x_val, epochs=1, kl_scheduler=CyclicalAnnealing(0.0, 1.0, cycle_length=4, n_cycles=1, update="step"),
             steps_per_execution=4)


@pytest.mark.parametrize("options, message", [
    ({"jit_compile": "yes"}, "jit_compile must be True, False or 'auto'"),
    ({"steps_per_execution": 0}, "steps_per_execution"),
    ({"seed": -1}, "seed"),
    ({"endless_loop": "no"}, "endless_loop must be True or False. Received: endless_loop='no'"),
    ({"fused_adam": 1}, "fused_adam must be True or False"),
])
def test_bad_speed_options_are_refused_before_training(digits, options, message):
    x, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    with pytest.raises(ValueError, match=message):
        train_vae(model, x, x_val, epochs=1, save_path=None, verbose=0, **options)
    assert not model.compiled


@pytest.mark.parametrize("options, optimizer, loop_module", [
    ({}, "FusedAdam", "betavae_tf.train_loop"),
    ({"fused_adam": False, "endless_loop": False}, "Adam", "keras"),
])
def test_the_fast_defaults_and_their_off_switches(digits, options, optimizer, loop_module):
    x, x_val = digits
    _, model = _fit(x[:256], x_val, epochs=1, **options)
    assert type(model.optimizer).__name__ == optimizer
    assert model.train_function.__module__.startswith(loop_module)
