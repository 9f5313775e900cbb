"""The compiled epoch trains as the uncompiled path does, only faster.

What is checked, and how strongly:

* `xla_random` inside XLA against TensorFlow's CPU kernels outside it:
  Philox words, uniforms and dropout outputs bit for bit; normals within
  3 ulp (Box–Muller's log, sine and cosine are not correctly rounded in
  glibc nor in XLA);
* whole runs (shuffled, dropout, a per-epoch β schedule, validation): the
  same losses to rtol 1e-5 and weights to 1e-4 after three epochs, the same
  number of optimizer steps and *identical* seed-generator states (the
  same number of noise draws and permutations);
* resume: an interrupted compiled run resumed from its backup ends as the
  uninterrupted one.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import (
    BetaVAE,
    KLAnnealing,
    SigmoidAnnealing,
    keras_internals,
    train_vae,
    xla_random,
)
from betavae_tf.epoch_loop import (
    AUTO_MIN_STEPS,
    ArrayEpochs,
    is_small_dense,
    resolve_compiled_epoch,
)
from betavae_tf.presets import build_conv_beta_vae


def _ulps(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(np.float32)))


@pytest.mark.parametrize("shape", [(64, 16), (30, 64), (7,), (3, 5)])
def test_xla_random_draws_tensorflows_cpu_numbers(shape):
    seed = tf.constant([12345, 678], tf.int32)
    n = int(np.prod(shape))
    key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
    bits = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=[n], key=key, counter=counter, alg=1, dtype=tf.uint32)
    ones = tf.ones(shape)

    @tf.function(jit_compile=True)
    def compiled():
        return (xla_random.philox_bits(n, seed), xla_random.uniform(shape, seed),
                xla_random.normal(shape, seed), xla_random.dropout(ones, 0.3, seed))

    got_bits, uniform, normal, dropout = compiled()
    np.testing.assert_array_equal(got_bits, bits)
    np.testing.assert_array_equal(uniform, tf.random.stateless_uniform(shape, seed=seed))
    np.testing.assert_array_equal(
        dropout, tf.nn.experimental.stateless_dropout(ones, rate=0.3, seed=seed))
    assert _ulps(normal, tf.random.stateless_normal(shape, seed=seed)) <= 3


def test_keras_random_is_rebuilt_only_inside_the_block():
    before = keras_internals.tensorflow_random_functions()
    reference, generator = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
    expected = keras.random.normal((4, 3), seed=reference)

    @tf.function(jit_compile=True)
    def draw():
        with xla_random.keras_backend_random():
            return keras.random.normal((4, 3), seed=generator)

    assert _ulps(draw(), expected) <= 3
    np.testing.assert_array_equal(generator.state.numpy(), reference.state.numpy())
    assert keras_internals.tensorflow_random_functions() == before


def _train(x, x_val, compiled_epoch, epochs=3, **kwargs):
    keras.utils.set_random_seed(0)
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)  # dropout 0.2: noise in every layer kind
    history, model = train_vae(
        model, x, x_val, epochs=epochs, save_path=None, verbose=0, lr_scheduler=None,
        patience=None, kl_scheduler=KLAnnealing(0.0, 1.0, n_epochs=2), seed=0,
        compiled_epoch=compiled_epoch, **kwargs)
    return history.history, model


@pytest.fixture(scope="module")
def runs(digits):
    x, x_val = digits
    return _train(x, x_val, False), _train(x, x_val, True)


def test_compiled_epochs_train_as_the_uncompiled_path(runs):
    (reference, plain), (history, compiled) = runs
    assert history.keys() == reference.keys()
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_loss"):
        np.testing.assert_allclose(history[key], reference[key], rtol=1e-5)
    assert history["beta"] == reference["beta"] == pytest.approx([0.0, 0.5, 1.0])
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert int(compiled.optimizer.iterations) == int(plain.optimizer.iterations) == 3 * 23
    for a, b in zip(keras_internals.seed_generators(compiled), keras_internals.seed_generators(plain)):
        np.testing.assert_array_equal(a.state.numpy(), b.state.numpy())


class _InterruptAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):  # once per compiled epoch
        if self.model.optimizer.iterations.numpy() > self.epoch * 23:
            raise KeyboardInterrupt


def test_an_interrupted_compiled_run_resumes_as_the_uninterrupted_one(digits, runs, tmp_path):
    x, x_val = digits
    (_, _), (full, full_model) = runs
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _train(x, x_val, True, backup_dir=backup, callbacks=[_InterruptAtEpoch(2)])
    assert json.loads((backup / "state.json").read_text())["epoch"] == 2
    history, resumed = _train(x, x_val, True, backup_dir=backup)
    np.testing.assert_allclose(history["loss"], full["loss"], rtol=1e-6)
    np.testing.assert_allclose(history["val_loss"], full["val_loss"], rtol=1e-6)
    for a, b in zip(resumed.get_weights(), full_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_with_array_epochs_runs_whole_epochs_and_leaves_keras_functions(digits, runs):
    x, _ = digits
    model = runs[1][1]
    source = ArrayEpochs(x, 64, seed=1)
    with pytest.raises(ValueError, match="pass no steps_per_epoch"):
        model.fit(source, steps_per_epoch=5, verbose=0)

    class StopAfterOneEpoch(keras.callbacks.Callback):
        batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    stop = StopAfterOneEpoch()
    steps = int(model.optimizer.iterations)
    spe = model.steps_per_execution
    history = model.fit(source, epochs=3, verbose=0, callbacks=[stop], shuffle=False)
    assert len(history.history["loss"]) == 1 and stop.batches == 1
    assert int(model.optimizer.iterations) == steps + 23
    assert model.steps_per_execution == spe and model.train_function is None
    assert np.isfinite(model.train_on_batch(x[:64], return_dict=True)["loss"])


def test_auto_compiles_epochs_only_for_long_runs_of_small_dense_networks():
    dense = BetaVAE(input_dim=64, encoding_dim=4)
    conv = build_conv_beta_vae("mnist")
    assert is_small_dense(dense) and not is_small_dense(conv)
    common = dict(array_input=True, strategy=None, per_step_schedule=False,
                  steps_per_execution="auto", jit_compile="auto")
    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert resolve_compiled_epoch("auto", dense, planned_steps=AUTO_MIN_STEPS, **common) is not gpu
    assert not resolve_compiled_epoch("auto", dense, planned_steps=AUTO_MIN_STEPS - 1, **common)
    assert not resolve_compiled_epoch("auto", conv, planned_steps=10**9, **common)
    assert not resolve_compiled_epoch(False, dense, planned_steps=10**9, **common)
    assert resolve_compiled_epoch(True, conv, planned_steps=1, **common)
    for change, words in [({"array_input": False}, "tf.data.Dataset"),
                          ({"per_step_schedule": True}, "per-step"),
                          ({"steps_per_execution": 7}, "steps_per_execution=7")]:
        assert not resolve_compiled_epoch("auto", dense, planned_steps=10**9, **{**common, **change})
        with pytest.raises(ValueError, match=words):
            resolve_compiled_epoch(True, dense, planned_steps=10**9, **{**common, **change})


def test_train_vae_refuses_a_bad_compiled_epoch(digits):
    x, _ = digits
    with pytest.raises(ValueError, match="compiled_epoch must be"):
        train_vae(BetaVAE(input_dim=64), x, save_path=None, compiled_epoch="yes")
    with pytest.raises(ValueError, match="per-step"):
        train_vae(BetaVAE(input_dim=64), x, save_path=None, compiled_epoch=True,
                  kl_scheduler=SigmoidAnnealing(duration=25, update="step"))


@pytest.mark.parametrize("flag, value", [("auto", "auto"), ("on", True), ("off", False)])
def test_cli_compiled_epoch_flag_reaches_train_vae(flag, value):
    from betavae_tf.cli.commands import _speed
    from betavae_tf.cli.parser import build_parser

    args = build_parser().parse_args(["train", "--compiled-epoch", flag])
    assert _speed(args)["compiled_epoch"] == value
    assert build_parser().parse_args(["train"]).compiled_epoch == "auto"
