import os

import keras
import numpy as np
import pytest

from betavae_tf import BestModelCheckpoint, BetaVAE, DelayedReduceLROnPlateau, KLAnnealing, load_vae


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


def test_compiled_loss_follows_the_annealed_beta_every_epoch():
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=0.0, seed=0)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    schedule = KLAnnealing(0.0, 2.0, n_epochs=4)
    logs = model.fit(x, epochs=6, batch_size=16, callbacks=[schedule], verbose=0).history

    assert logs["beta"] == pytest.approx([schedule.get_beta(e) for e in range(6)])
    for total, reconstruction, kl, beta in zip(
        logs["loss"], logs["reconstruction_loss"], logs["kl_loss"], logs["beta"]
    ):
        assert total == pytest.approx(reconstruction + beta * kl, rel=1e-5)
    assert model.beta == 2.0


def test_kl_annealing_needs_a_beta_vae():
    inputs = keras.Input((2,))
    plain = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="KLAnnealing needs a model with a beta variable"):
        plain.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[KLAnnealing()], verbose=0)


def run_checkpoint(model, path, values, start_from_epoch=0):
    callback = BestModelCheckpoint(path, monitor="val_loss", start_from_epoch=start_from_epoch)
    callback.set_model(model)
    saved = []
    for epoch, value in enumerate(values):
        model.beta = float(epoch)  # tags the file with the epoch it came from
        before = os.path.getmtime(path) if os.path.exists(path) else None
        callback.on_epoch_end(epoch, {"val_loss": value})
        if os.path.exists(path) and os.path.getmtime(path) != before:
            saved.append(epoch)
    return callback, saved


@pytest.mark.parametrize("extension", ["h5", "keras"])
def test_checkpoint_keeps_only_improvements_and_never_a_nan(tmp_path, extension):
    model = BetaVAE(input_dim=4, encoding_dim=2)
    path = str(tmp_path / f"best.{extension}")
    callback, _ = run_checkpoint(model, path, [5.0, 3.0, 4.0, float("nan"), float("inf"), 3.5])
    assert callback.best == 3.0 and callback.best_epoch == 1
    assert load_vae(path).beta == 1.0  # the file written at epoch 1
    assert os.listdir(tmp_path) == [f"best.{extension}"]  # no temporary files left


def test_checkpoint_ignores_epochs_before_start(tmp_path):
    model = BetaVAE(input_dim=4, encoding_dim=2)
    path = str(tmp_path / "best.h5")
    callback, _ = run_checkpoint(model, path, [1.0, 2.0, 3.0, 2.5], start_from_epoch=2)
    assert callback.best_epoch == 3 and load_vae(path).beta == 3.0


def test_delayed_plateau_waits_for_the_warmup_and_logs_the_learning_rate():
    model = BetaVAE(input_dim=4, encoding_dim=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    callback = DelayedReduceLROnPlateau(start_from_epoch=3, monitor="val_loss", patience=1, factor=0.5)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    # Rising losses during the warm-up change nothing; afterwards one bad epoch
    # (epoch 4) halves the rate, which the next epoch's logs show.
    assert rates == pytest.approx([1e-2] * 5 + [5e-3])
