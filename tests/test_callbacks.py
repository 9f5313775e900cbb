import os

import keras
import pytest

from betavae_tf import BestModelCheckpoint, BetaVAE, DelayedReduceLROnPlateau, load_vae


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
