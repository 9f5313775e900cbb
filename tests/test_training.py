import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import (
    BetaVAE,
    KLAnnealing,
    TrainingDivergedError,
    custom_objects,
    load_vae,
    save_vae,
    train_vae,
)
from betavae_tf.callbacks import CyclicalAnnealing, SigmoidAnnealing
from betavae_tf.training import warmup_epochs


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
        "zero clipnorm": ({"clipnorm": 0}, r"clipnorm must be a finite number > 0.0. Received: clipnorm=0"),
        "negative clipvalue": ({"clipvalue": -1.0}, r"clipvalue must be a finite number > 0.0. Received: clipvalue=-1.0"),
        "both clips": ({"clipnorm": 1.0, "clipvalue": 1.0}, r"Pass at most one of clipnorm and clipvalue"),
        "clip with own optimizer": ({"clipnorm": 1.0, "optimizer": keras.optimizers.SGD()},
                                    r"clipnorm applies to the default Adam; set it on your optimizer instead"),
        "per-step schedule on data of unknown length": (
            {"X_train": tf.data.Dataset.from_tensor_slices(x).filter(lambda v: True).batch(4),
             "kl_scheduler": SigmoidAnnealing(update="step")},
            r"dataset of unknown length, so the per-step SigmoidAnnealing cannot know its warm-up"),
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
    with pytest.raises(TrainingDivergedError, match=r"Training diverged in epoch \d+, batch(es)? [\d-]+: .*loss.* became NaN/Inf") as error:
        train_vae(diverging, x_train * 1e4, x_val, epochs=5, learning_rate=1e4,
                  save_path=path, verbose=0, lr_scheduler=None)
    assert not np.isfinite(error.value.history.history["loss"][-1])
    np.testing.assert_array_equal(load_vae(path).predict(x_val, verbose=0), good)


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"clipvalue": 0.01}])
def test_gradient_clipping_is_set_on_adam(clip, digits):
    x_train, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    history, _ = train_vae(model, x_train[:128], x_val, epochs=1, save_path=None, verbose=0, **clip)
    (name, value), = clip.items()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert getattr(model.optimizer, name) == value
    assert np.isfinite(history.history["loss"]).all()


def test_unclipped_by_default(digits):
    x_train, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4)
    train_vae(model, x_train[:128], x_val, epochs=1, save_path=None, verbose=0)
    assert model.optimizer.clipnorm is None and model.optimizer.clipvalue is None


def test_tcvae_gets_its_dataset_size_from_array_data_and_logs_its_terms(digits):
    x_train, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4, objective="tcvae", beta=6.0, seed=0)
    history, _ = train_vae(model, x_train[:200], x_val, epochs=2, save_path=None, verbose=0)
    assert model.dataset_size == 200 and model.get_config()["dataset_size"] == 200
    for key in ("mutual_information", "total_correlation", "dimension_wise_kl", "kl_loss"):
        assert np.isfinite(history.history[key]).all() and f"val_{key}" in history.history


def test_tcvae_on_a_dataset_needs_an_explicit_dataset_size(digits):
    x_train, _ = digits
    train = tf.data.Dataset.from_tensor_slices(x_train).batch(64)
    model = BetaVAE(input_dim=64, encoding_dim=4, objective="tcvae")
    with pytest.raises(ValueError, match=r"'tcvae' objective needs the number of training examples.*dataset_size=N"):
        train_vae(model, train, epochs=1, save_path=None, verbose=0)
    assert not model.compiled
    sized = BetaVAE(input_dim=64, encoding_dim=4, objective="tcvae", dataset_size=len(x_train))
    history, _ = train_vae(sized, train, epochs=1, save_path=None, verbose=0)
    assert np.isfinite(history.history["total_correlation"]).all()


def test_capacity_model_continues_its_ramp_after_reloading(digits, tmp_path):
    x_train, x_val = digits
    path = str(tmp_path / "capacity.keras")
    model = BetaVAE(input_dim=64, encoding_dim=4, objective="capacity", gamma=10.0,
                    capacity_max=5.0, capacity_steps=20, seed=0)
    history, model = train_vae(model, x_train[:256], x_val, epochs=3, batch_size=64, save_path=None,
                               patience=None, lr_scheduler=None, verbose=0)
    assert history.history["capacity"] == pytest.approx([0.75, 1.75, 2.75])  # C of each epoch's last step
    reloaded = load_vae(save_vae(model, path))
    assert int(reloaded.step_counter) == int(model.step_counter) and reloaded.capacity == model.capacity
    # A fresh optimizer (train_vae builds one) does not restart the ramp.
    more, _ = train_vae(reloaded, x_train[:256], x_val, epochs=1, batch_size=64, save_path=None, verbose=0)
    assert more.history["capacity"][0] > history.history["capacity"][-1]


def test_per_step_schedules_get_their_steps_and_delay_the_watchers(digits, tmp_path):
    x_train, x_val = digits
    schedule = CyclicalAnnealing(0.0, 1.0, cycle_length=6, n_cycles=1, ratio=1.0, update="step")
    model = BetaVAE(input_dim=64, encoding_dim=4, beta=0.0, seed=0)
    history, _ = train_vae(model, x_train[:256], x_val, epochs=4, batch_size=64, kl_scheduler=schedule,
                           save_path=str(tmp_path / "m.h5"), verbose=0)
    assert schedule.steps_per_epoch == 4
    assert schedule.n_epochs == warmup_epochs(schedule, 4) == 2  # β settles during epoch 2
    # The epoch logs show the β of each epoch's last step: 3/6, 1, 1, 1.
    assert history.history["beta"] == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert load_vae(tmp_path / "m.h5").beta == 1.0  # nothing saved before the warm-up ended


def test_array_dataset_covers_every_example_once_per_pass_and_reshuffles():
    from betavae_tf.datasets.pipeline import array_dataset, batches_per_pass

    x = np.arange(10, dtype="float32")[:, None]
    dataset = array_dataset(x, 4, shuffle=True, seed=0, repeat=True)
    batches = [b.numpy()[:, 0] for b in dataset.take(2 * batches_per_pass(10, 4))]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)  # a new order every pass
    plain = np.concatenate([b.numpy()[:, 0] for b in array_dataset(x, 4)])
    np.testing.assert_array_equal(plain, np.arange(10))  # in order, one pass


def test_array_dataset_knows_its_length_reshuffles_per_iterator_and_follows_its_seed():
    from betavae_tf.datasets.pipeline import array_dataset

    x = np.arange(50, dtype="float32")[:, None]
    for shuffle in (False, True):
        assert int(array_dataset(x, 8, shuffle=shuffle).cardinality()) == 7
        assert array_dataset(x, 8, shuffle=shuffle, repeat=True).cardinality() == tf.data.INFINITE_CARDINALITY

    def one_pass(dataset):
        return np.concatenate([b.numpy()[:, 0] for b in dataset])

    dataset = array_dataset(x, 8, shuffle=True, seed=3)
    first, second = one_pass(dataset), one_pass(dataset)  # a new iterator, a new order
    assert sorted(first) == sorted(second) == list(range(50))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(one_pass(array_dataset(x, 8, shuffle=True, seed=3)), first)
    assert not np.array_equal(one_pass(array_dataset(x, 8, shuffle=True, seed=4)), first)


class _CountingBetaVAE(BetaVAE):
    """Counts (at trace time) the train_step calls Keras's own loop makes."""

    traced_train_steps = 0

    def train_step(self, data):
        type(self).traced_train_steps += 1
        return super().train_step(data)


def test_endless_input_trains_through_the_lean_loop_and_finite_input_through_keras(digits):
    from betavae_tf.datasets.pipeline import array_dataset

    x = digits[0][:256]
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    model.compile(optimizer="adam", steps_per_execution=2)
    model.fit(array_dataset(x, 64, repeat=True), steps_per_epoch=4, epochs=1, verbose=0, shuffle=False)
    assert model.train_function.__name__ == "train_function"  # betavae_tf.train_loop's
    lean = model.train_function
    model.fit(array_dataset(x, 64), epochs=1, verbose=0, shuffle=False)  # finite: Keras's loop again
    assert model.train_function is not lean
    assert model.train_function.__module__.startswith("keras")
    assert int(model.optimizer.iterations) == 8

    # A subclass that overrides train_step keeps Keras's loop, which calls it.
    counting = _CountingBetaVAE(input_dim=64, encoding_dim=4, seed=0)
    counting.compile(optimizer="adam", steps_per_execution=2)
    counting.fit(array_dataset(x, 64, repeat=True), steps_per_epoch=4, epochs=1, verbose=0, shuffle=False)
    assert _CountingBetaVAE.traced_train_steps >= 1
    assert counting.train_function.__module__.startswith("keras")


def test_lean_loop_gives_kerass_losses_and_weights(digits):
    import betavae_tf.train_loop as models  # where BetaVAE.fit picks its loop
    from betavae_tf.datasets.pipeline import array_dataset

    x = digits[0][:320]

    def fit(lean):
        keras.utils.set_random_seed(0)
        model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
        model.compile(optimizer="adam", steps_per_execution=5)
        original = models.uses_endless_loop
        models.uses_endless_loop = original if lean else (lambda model: False)
        try:
            history = model.fit(array_dataset(x, 64, shuffle=True, seed=1, repeat=True),
                                steps_per_epoch=5, epochs=3, verbose=0, shuffle=False).history
        finally:
            models.uses_endless_loop = original
        return history, model

    (lean_history, lean_model), (keras_history, keras_model) = fit(True), fit(False)
    assert lean_model.train_function is not None and keras_model.train_function is not None
    assert lean_history.keys() == keras_history.keys()
    for key in lean_history:
        np.testing.assert_allclose(lean_history[key], keras_history[key], rtol=1e-6)
    assert lean_history["loss"][-1] < lean_history["loss"][0]
    for a, b in zip(lean_model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
