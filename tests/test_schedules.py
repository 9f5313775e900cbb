"""β schedules: linear (KLAnnealing), cyclical and sigmoid annealing, per epoch and per step."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import BetaVAE
from betavae_tf.callbacks import (
    BetaSchedule,
    CyclicalAnnealing,
    KLAnnealing,
    SigmoidAnnealing,
)


# ------------------------------------------------------------ pure schedules
@pytest.mark.parametrize(
    "epoch, expected",
    [(0, 0.5), (1, 0.5 + 3.5 * 0.25), (2, 2.25), (3, 0.5 + 3.5 * 0.75), (4, 4.0), (50, 4.0)],
)
def test_kl_annealing_schedule_start_middle_end_and_past_end(epoch, expected):
    assert KLAnnealing(0.5, 4.0, n_epochs=4).get_beta(epoch) == pytest.approx(expected)


def test_zero_annealing_epochs_means_target_from_the_start():
    assert KLAnnealing(0.0, 2.0, n_epochs=0).get_beta(0) == 2.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start_beta": -0.1}, "start_beta must be a finite number >= 0.0. Received: start_beta=-0.1"),
        ({"target_beta": float("inf")}, "target_beta must be a finite number"),
        ({"n_epochs": -1}, "n_epochs must be an integer >= 0. Received: n_epochs=-1"),
        ({"n_epochs": 2.5}, "n_epochs must be an integer"),
    ],
)
def test_kl_annealing_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KLAnnealing(**kwargs)


@pytest.mark.parametrize(
    "t, expected",
    [
        (0, 0.5),          # start of the first cycle
        (2, 0.5 + 3.5 * 0.5),  # middle of the first ramp (ramp = 4 of 8)
        (4, 4.0), (7, 4.0),  # end of the ramp, rest of the cycle at the target
        (8, 0.5),          # start of the second cycle
        (10, 2.25),
        (23, 4.0),         # end of the last cycle
        (24, 4.0), (1000, 4.0),  # past the end
    ],
)
def test_cyclical_schedule_start_middle_end_and_past_end(t, expected):
    schedule = CyclicalAnnealing(0.5, 4.0, cycle_length=8, n_cycles=3, ratio=0.5)
    assert schedule.get_beta(t) == pytest.approx(expected)


def test_cyclical_warmup_ends_where_the_last_ramp_reaches_the_target():
    schedule = CyclicalAnnealing(0.0, 1.0, cycle_length=8, n_cycles=3, ratio=0.5)
    assert schedule.n_epochs == 2 * 8 + 4
    betas = [schedule.get_beta(t) for t in range(40)]
    assert betas[schedule.n_epochs - 1] < 1.0
    assert all(b == 1.0 for b in betas[schedule.n_epochs:])
    # ratio · cycle_length rounds in floating point (0.3 · 10 = 3.0000000000000004).
    assert CyclicalAnnealing(cycle_length=10, n_cycles=1, ratio=0.3).n_epochs == 3
    assert CyclicalAnnealing(cycle_length=10, n_cycles=1, ratio=0.25).n_epochs == 3
    assert CyclicalAnnealing(cycle_length=5, n_cycles=2, ratio=1.0).n_epochs == 10


def test_one_full_ratio_cycle_is_a_linear_warmup_like_kl_annealing():
    cyclical = CyclicalAnnealing(0.5, 4.0, cycle_length=4, n_cycles=1, ratio=1.0)
    linear = KLAnnealing(0.5, 4.0, n_epochs=4)
    assert [cyclical.get_beta(t) for t in range(7)] == pytest.approx([linear.get_beta(t) for t in range(7)])
    assert cyclical.n_epochs == linear.n_epochs == 4


@pytest.mark.parametrize("t, expected", [(0, 1.0), (5, 2.0), (10, 3.0), (11, 3.0), (500, 3.0)])
def test_sigmoid_schedule_start_middle_end_and_past_end(t, expected):
    assert SigmoidAnnealing(1.0, 3.0, duration=10).get_beta(t) == pytest.approx(expected)


def test_sigmoid_schedule_is_monotonic_slow_at_the_ends_and_fast_in_the_middle():
    schedule = SigmoidAnnealing(0.0, 1.0, duration=100, steepness=10.0)
    betas = np.array([schedule.get_beta(t) for t in range(101)])
    assert (np.diff(betas) > 0).all()
    steps = np.diff(betas)
    assert steps[49] > 5 * steps[0] and steps[49] > 5 * steps[-1]
    assert schedule.n_epochs == 100
    assert SigmoidAnnealing(0.0, 2.0, duration=0).get_beta(0) == 2.0


def test_per_step_schedules_know_their_warmup_in_epochs_once_they_know_the_steps():
    schedule = SigmoidAnnealing(duration=25, update="step")
    with pytest.raises(ValueError, match=r"needs steps_per_epoch.*Received: steps_per_epoch=None"):
        _ = schedule.n_epochs
    schedule.steps_per_epoch = 10
    assert schedule.n_epochs == 3  # β settles during the third epoch
    assert CyclicalAnnealing(cycle_length=8, n_cycles=2, update="step", steps_per_epoch=4).n_epochs == 3


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (CyclicalAnnealing, {"update": "batch"}, r"Unknown update 'batch'; choose one of \['epoch', 'step'\]"),
        (CyclicalAnnealing, {"cycle_length": 0}, r"cycle_length must be an integer >= 1. Received: cycle_length=0"),
        (CyclicalAnnealing, {"n_cycles": 1.5}, r"n_cycles must be an integer >= 1. Received: n_cycles=1.5"),
        (CyclicalAnnealing, {"ratio": 0.0}, r"ratio must be a finite number > 0.0 and <= 1.0. Received: ratio=0.0"),
        (CyclicalAnnealing, {"ratio": 1.5}, r"ratio must be a finite number > 0.0 and <= 1.0"),
        (CyclicalAnnealing, {"start_beta": -1.0}, r"start_beta must be a finite number >= 0.0. Received: start_beta=-1.0"),
        (SigmoidAnnealing, {"duration": -1}, r"duration must be an integer >= 0. Received: duration=-1"),
        (SigmoidAnnealing, {"steepness": 0}, r"steepness must be a finite number > 0.0. Received: steepness=0"),
        (SigmoidAnnealing, {"steps_per_epoch": 0}, r"steps_per_epoch must be an integer >= 1"),
    ],
)
def test_schedules_refuse_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize(
    "schedule",
    [CyclicalAnnealing(0.1, 2.0, cycle_length=6, n_cycles=2, ratio=0.25, update="step", steps_per_epoch=3),
     SigmoidAnnealing(0.2, 5.0, duration=7, steepness=4.0, verbose=1)],
)
def test_schedules_are_configurable_callbacks(schedule):
    assert isinstance(schedule, BetaSchedule)
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    assert [clone.get_beta(t) for t in range(15)] == [schedule.get_beta(t) for t in range(15)]


# ---------------------------------------------------- in the compiled step
class BatchLogger(keras.callbacks.Callback):
    """Keeps every batch's logs (running means over the epoch, β as is)."""

    def on_train_begin(self, logs=None):
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append({k: float(v) for k, v in logs.items()})


def per_step_values(batches, key, steps_per_epoch):
    """Undoes Keras's running mean: the value of each step."""
    means = np.array([b[key] for b in batches], dtype="float64").reshape(-1, steps_per_epoch)
    counts = np.arange(1, steps_per_epoch + 1)
    sums = means * counts
    return np.diff(np.concatenate([np.zeros((len(sums), 1)), sums], axis=1), axis=1).ravel()


def test_compiled_loss_follows_a_per_step_beta():
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=0.0, dropout_rate=0.0, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights stay put
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    schedule = CyclicalAnnealing(0.0, 2.0, cycle_length=6, n_cycles=2, ratio=0.5, update="step")
    logger = BatchLogger()
    model.fit(x, epochs=3, batch_size=16, shuffle=False, callbacks=[schedule, logger], verbose=0)

    assert schedule.steps_per_epoch == 4  # from Keras's params["steps"]
    betas = [b["beta"] for b in logger.batches]
    assert betas == pytest.approx([schedule.get_beta(step) for step in range(12)])
    assert betas == pytest.approx([0, 2 / 3, 4 / 3, 2, 2, 2, 0, 2 / 3, 4 / 3, 2, 2, 2])
    total, reconstruction, kl = (per_step_values(logger.batches, key, 4)
                                 for key in ("loss", "reconstruction_loss", "kl_loss"))
    np.testing.assert_allclose(total, reconstruction + np.array(betas) * kl, rtol=1e-4)
    assert model.beta == 2.0


@pytest.mark.parametrize(
    "schedule, n, epochs, seed",
    [(KLAnnealing(0.0, 2.0, n_epochs=4), 64, 6, 0), (SigmoidAnnealing(0.0, 2.0, duration=4), 32, 5, 1)],
    ids=["linear", "sigmoid"],
)
def test_compiled_loss_follows_an_epoch_schedule(schedule, n, epochs, seed):
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=0.0, seed=0)
    model.compile(optimizer="adam")
    x = np.random.default_rng(seed).normal(size=(n, 8)).astype("float32")
    logs = model.fit(x, epochs=epochs, batch_size=16, callbacks=[schedule], verbose=0).history
    assert logs["beta"] == pytest.approx([schedule.get_beta(e) for e in range(epochs)])
    for total, reconstruction, kl_loss, beta in zip(
        logs["loss"], logs["reconstruction_loss"], logs["kl_loss"], logs["beta"]
    ):
        assert total == pytest.approx(reconstruction + beta * kl_loss, rel=1e-5)
    assert model.beta == 2.0


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_per_step_schedule_on_data_of_unknown_length_needs_steps_per_epoch():
    model = BetaVAE(input_dim=4, encoding_dim=2)
    model.compile(optimizer="adam")
    x = np.zeros((8, 4), "float32")
    unknown = tf.data.Dataset.from_tensor_slices(x).filter(lambda v: True).batch(4)
    assert int(unknown.cardinality()) < 0
    with pytest.raises(ValueError, match=r"cannot tell the steps per epoch.*pass steps_per_epoch"):
        model.fit(unknown, epochs=1, shuffle=False, callbacks=[SigmoidAnnealing(update="step")], verbose=0)
    schedule = SigmoidAnnealing(duration=3, update="step", steps_per_epoch=2)
    model.fit(unknown, epochs=2, shuffle=False, callbacks=[schedule], verbose=0)
    assert model.beta == 1.0 and math.isclose(schedule.get_beta(3), 1.0)


@pytest.mark.parametrize("schedule", [KLAnnealing, CyclicalAnnealing])
def test_schedules_need_a_beta_vae(schedule):
    inputs = keras.Input((2,))
    plain = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=f"{schedule.__name__} needs a model with a beta variable"):
        plain.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[schedule()], verbose=0)
