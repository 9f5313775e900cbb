import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import BetaVAE, KLAnnealing, TrainingDivergedError, custom_objects, load_vae, train_vae


@pytest.fixture(scope="module", params=["h5", "keras"])
def trained(request, digits, tmp_path_factory):
    """A dense β-VAE trained briefly on the digits, with its best checkpoint."""
    keras.utils.set_random_seed(0)
    x_train, x_val = digits
    path = str(tmp_path_factory.mktemp("run") / f"best_vae.{request.param}")
    model = BetaVAE(input_dim=64, encoding_dim=8, beta=0.5, seed=0)
    history, model = train_vae(
        model, x_train, x_val, epochs=8, save_path=path, verbose=0,
        kl_scheduler=KLAnnealing(0.0, 0.5, n_epochs=2),
    )
    return model, history, path, x_val


def test_training_lowers_validation_loss_and_logs_every_term(trained):
    _, history, _, _ = trained
    logs = history.history
    for key in ("loss", "total_loss", "reconstruction_loss", "kl_loss", "beta"):
        assert key in logs and f"val_{key}" in logs
    assert logs["beta"] == pytest.approx([0.0, 0.25] + [0.5] * 6)
    # Compare at the final beta only: earlier epochs used a smaller one.
    assert logs["val_loss"][-1] < logs["val_loss"][2]
    assert logs["val_reconstruction_loss"][-1] < logs["val_reconstruction_loss"][0]
    assert "learning_rate" in logs and len(logs["learning_rate"]) == len(logs["loss"])


def test_best_checkpoint_comes_from_after_the_warmup(trained):
    _, history, path, _ = trained
    # beta was 0 and 0.25 in the warm-up epochs; a file written then would say so.
    assert load_vae(path).beta == 0.5


@pytest.mark.parametrize("loader", ["load_vae", "keras"])
def test_checkpoint_reloads_to_identical_outputs_and_continues_training(trained, loader, tmp_path):
    model, history, path, x_val = trained
    if loader == "load_vae":
        reloaded = load_vae(path)
    else:
        reloaded = keras.models.load_model(path, custom_objects=custom_objects())
    # The checkpoint holds the best epoch, which EarlyStopping restored in memory.
    best_weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
    for saved, current in zip(reloaded.weights, best_weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(saved), current)
    np.testing.assert_array_equal(reloaded.predict(x_val, verbose=0), model.predict(x_val, verbose=0))
    for got, want in zip(reloaded.encode(x_val), model.encode(x_val)):
        np.testing.assert_array_equal(got, want)
    assert reloaded.beta == model.beta == 0.5
    assert int(reloaded.optimizer.iterations) > 0  # optimizer state came back too

    before = [keras.ops.convert_to_numpy(w) for w in reloaded.trainable_weights]
    more = reloaded.fit(x_val, epochs=1, batch_size=64, verbose=0).history
    assert np.isfinite(more["loss"]).all()
    assert any(not np.array_equal(b, keras.ops.convert_to_numpy(w))
               for b, w in zip(before, reloaded.trainable_weights))


def test_train_vae_accepts_tf_data(digits, tmp_path):
    x_train, x_val = digits
    train = tf.data.Dataset.from_tensor_slices(x_train).shuffle(512, seed=0).batch(64)
    val = tf.data.Dataset.from_tensor_slices((x_val, x_val)).batch(64)
    model = BetaVAE(input_dim=64, encoding_dim=4)
    history, _ = train_vae(model, train, val, epochs=2, save_path=str(tmp_path / "m.keras"), verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert os.path.exists(tmp_path / "m.keras")


def test_custom_lr_schedule_function_is_used(digits, tmp_path):
    x_train, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4)
    history, _ = train_vae(
        model, x_train[:256], x_val, epochs=3, save_path=None, verbose=0,
        lr_scheduler=lambda epoch, lr: 1e-3 / (epoch + 1),
    )
    assert history.history["learning_rate"] == pytest.approx([1e-3, 5e-4, 1e-3 / 3])


def test_bernoulli_models_refuse_data_outside_zero_one(digits, tmp_path):
    x_train, x_val = digits  # standardised: negative values
    model = BetaVAE(input_dim=64, encoding_dim=4, likelihood="bernoulli")
    with pytest.raises(ValueError, match=r"X_train has values in \[-.*\] but the bernoulli likelihood needs data in \[0, 1\]"):
        train_vae(model, x_train, x_val, epochs=1, save_path=None, verbose=0)


def bad_inputs(x):
    nan = x.copy()
    nan[3, 5] = np.nan
    inf = x.copy()
    inf[0, 0] = np.inf
    return {
        "wrong feature count": ({"X_train": x[:, :63]}, r"X_train has examples of shape \(63,\) but the model expects \(64,\)"),
        "NaN": ({"X_train": nan}, r"X_train contains NaN or Inf in 1 example\(s\) \(first at index 3\)"),
        "Inf in validation": ({"X_val": inf}, r"X_val contains NaN or Inf"),
        "empty": ({"X_train": x[:0]}, r"X_train has 0 examples but at least 2 are needed"),
        "single example": ({"X_train": x[:1]}, r"X_train has 1 examples but at least 2"),
        "1-D": ({"X_train": x[0]}, r"X_train must have shape \(examples, features...\)"),
        "text": ({"X_train": np.array([["a"] * 64] * 4)}, r"X_train must hold numbers"),
        "mismatched validation": ({"X_val": x[:, :32]}, r"X_val has examples of shape \(32,\)"),
        "batch larger than data": ({"X_train": x[:10], "batch_size": 64}, r"batch_size=64 is larger than the 10 examples"),
        "negative epochs": ({"epochs": 0}, r"epochs must be an integer >= 1. Received: epochs=0"),
        "bad learning rate": ({"learning_rate": 0.0}, r"learning_rate must be a finite number > 0.0"),
        "bad save path": ({"save_path": "model.pt"}, r"save_path must end in .h5 or .keras"),
        "unknown lr scheduler": ({"lr_scheduler": "cosine"}, r"Unknown lr_scheduler 'cosine'"),
        "unbatched dataset": ({"X_train": tf.data.Dataset.from_tensor_slices(x)}, r"is it batched\?"),
        "dataset of wrong width": ({"X_train": tf.data.Dataset.from_tensor_slices(x[:, :8]).batch(4)}, r"expects batches of shape \(None, 64\)"),
    }


@pytest.mark.parametrize("case", list(bad_inputs(np.zeros((20, 64), "float32"))))
def test_bad_input_is_refused_before_training(case, digits, tmp_path):
    x_train, x_val = digits
    overrides, message = bad_inputs(x_val[:20].copy())[case]
    arguments = {"X_train": x_train, "X_val": x_val, "epochs": 1, "verbose": 0,
                 "save_path": str(tmp_path / "best.h5"), **overrides}
    model = BetaVAE(input_dim=64, encoding_dim=4)
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    with pytest.raises(ValueError, match=message) as error:
        train_vae(model, **arguments)
    assert "\n" not in str(error.value)
    assert not model.compiled  # refused before compile/fit
    assert not os.path.exists(tmp_path / "best.h5")
    for b, w in zip(before, model.weights):
        np.testing.assert_array_equal(b, keras.ops.convert_to_numpy(w))


def test_divergence_stops_with_a_clear_error_and_keeps_the_best_checkpoint(digits, tmp_path):
    x_train, x_val = digits
    path = str(tmp_path / "best.h5")
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    train_vae(model, x_train, x_val, epochs=2, save_path=path, verbose=0)
    good = load_vae(path).predict(x_val, verbose=0)
    # Keep the good file, then train a second model with an absurd learning rate.
    diverging = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    with pytest.raises(TrainingDivergedError, match=r"Training diverged in epoch \d+: .*became NaN/Inf") as error:
        train_vae(diverging, x_train * 1e4, x_val, epochs=5, learning_rate=1e4,
                  save_path=path, verbose=0, lr_scheduler=None)
    assert not np.isfinite(error.value.history.history["loss"][-1])
    np.testing.assert_array_equal(load_vae(path).predict(x_val, verbose=0), good)
