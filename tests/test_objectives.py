"""The training objectives of BetaVAE: "beta", "capacity", "tcvae", free bits."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_roundtrip_test
from keras import ops

from betavae_tf import BetaVAE, load_vae
from betavae_tf.losses import free_bits_kl, kl_divergence, tcvae_decomposition
from betavae_tf.models import OBJECTIVES
from betavae_tf.objectives.base import Posterior, _kl_term

BASE_LOGS = {"loss", "total_loss", "reconstruction_loss", "kl_loss", "beta"}


def data(n=32, d=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def replayed(model, x, state):
    """`compute_losses` in inference mode with the sampling noise set to `state`."""
    model.sampling.seed_generator.state.assign(state)
    return {k: float(v) for k, v in model.compute_losses(x, training=False).items()}


def posterior_and_sample(model, x, state):
    """`(z_mean, z_log_var, z)` exactly as `compute_losses` draws them from `state`."""
    z_mean, z_log_var = model.encode(x)
    model.sampling.seed_generator.state.assign(state)
    return z_mean, z_log_var, model.sampling((z_mean, z_log_var))


def noise_state(model):
    return ops.convert_to_numpy(model.sampling.seed_generator.state)


def test_registry_and_unknown_objective_lists_the_names():
    assert sorted(OBJECTIVES) == ["annealed", "beta", "capacity", "dip1", "dip2", "factor", "tcvae"]
    with pytest.raises(ValueError, match=r"Unknown objective 'betta'; choose one of \['annealed', 'beta', 'capacity', 'dip1', 'dip2', 'factor', 'tcvae'\]"):
        BetaVAE(input_dim=4, objective="betta")


def test_beta_objective_is_bit_for_bit_the_original_loss():
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=2.5, seed=1)
    x = data()
    state = noise_state(model)
    model.sampling.seed_generator.state.assign(state)
    losses = model.compute_losses(x, training=False)
    # The loss as it was before objectives existed, on the same noise.
    model.sampling.seed_generator.state.assign(state)
    z_mean, z_log_var = model.encoder(x, training=False)
    z = model.sampling((z_mean, z_log_var))
    reconstruction = ops.mean(model.negative_log_likelihood(x, model.decoder(z, training=False)))
    kl = ops.mean(kl_divergence(z_mean, z_log_var))
    assert sorted(losses) == ["kl_loss", "reconstruction_loss", "total_loss"]
    for key, value in (("total_loss", reconstruction + model.beta_variable * kl),
                       ("reconstruction_loss", reconstruction), ("kl_loss", kl)):
        np.testing.assert_array_equal(ops.convert_to_numpy(losses[key]), ops.convert_to_numpy(value))
    assert [w.path.split("/")[-1] for w in model.non_trainable_weights if "batchnorm" not in w.path] == ["beta"]
    assert model.capacity is None


# ------------------------------------------------------------------ capacity
def test_capacity_objective_follows_the_step_counter_in_the_compiled_step():
    model = BetaVAE(input_dim=8, encoding_dim=3, objective="capacity", gamma=10.0,
                    capacity_max=3.0, capacity_steps=4, dropout_rate=0.0, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights stay put
    x = data()
    logs = model.fit(x, validation_data=(x,), epochs=6, batch_size=32, shuffle=False, verbose=0).history
    assert set(logs) == (BASE_LOGS | {"capacity"}) | {f"val_{k}" for k in BASE_LOGS | {"capacity"}}
    # One step per epoch: epoch e trains with C = 3·e/4, capped at 3.
    assert logs["capacity"] == pytest.approx([0.0, 0.75, 1.5, 2.25, 3.0, 3.0])
    assert logs["val_capacity"] == pytest.approx([0.75, 1.5, 2.25, 3.0, 3.0, 3.0])
    for total, reconstruction, kl, capacity in zip(
        logs["loss"], logs["reconstruction_loss"], logs["kl_loss"], logs["capacity"]
    ):
        assert total == pytest.approx(reconstruction + 10.0 * abs(kl - capacity), rel=1e-5)
    assert int(model.step_counter) == 6 and model.capacity == 3.0


def test_capacity_loss_and_gamma_variable_match_the_formula():
    model = BetaVAE(input_dim=8, encoding_dim=3, objective="capacity", gamma=5.0,
                    capacity_max=10.0, capacity_steps=100, seed=2)
    x = data(seed=1)
    state = noise_state(model)
    model.step_counter.assign(30)
    first = replayed(model, x, state)
    assert first["capacity"] == pytest.approx(3.0) == model.capacity
    assert first["total_loss"] == pytest.approx(
        first["reconstruction_loss"] + 5.0 * abs(first["kl_loss"] - 3.0), rel=1e-5)
    model.gamma = 0.5  # assigned to the variable
    assert float(model.gamma_variable) == 0.5
    second = replayed(model, x, state)
    assert second["total_loss"] == pytest.approx(
        first["reconstruction_loss"] + 0.5 * abs(first["kl_loss"] - 3.0), rel=1e-5)


# ----------------------------------------------------------------- free bits
@pytest.mark.parametrize("objective", ["beta", "capacity"])
def test_free_bits_enter_the_objective_but_not_the_logged_kl(objective):
    model = BetaVAE(input_dim=8, encoding_dim=3, beta=2.0, objective=objective, gamma=3.0,
                    capacity_max=0.5, capacity_steps=0, free_bits=1.0, seed=3)
    x = data(seed=2)
    state = noise_state(model)
    losses = replayed(model, x, state)
    z_mean, z_log_var, _ = posterior_and_sample(model, x, state)
    true_kl = float(ops.mean(kl_divergence(z_mean, z_log_var)))
    floored = float(free_bits_kl(z_mean, z_log_var, 1.0))
    assert losses["kl_loss"] == pytest.approx(true_kl, rel=1e-5)
    assert floored > true_kl  # an untrained encoder's KL is far below 1 nat per dimension
    weighted = 2.0 * floored if objective == "beta" else 3.0 * abs(floored - 0.5)
    assert losses["total_loss"] == pytest.approx(losses["reconstruction_loss"] + weighted, rel=1e-5)


def test_free_bits_give_no_kl_gradient_to_dimensions_below_the_floor():
    model = BetaVAE(input_dim=8, encoding_dim=3, free_bits=5.0, seed=4)
    x = data(seed=3)
    z_mean_layer = model.encoder.get_layer("z_mean").kernel
    with tf.GradientTape() as tape:
        z_mean, z_log_var = model.encode(x)
        posterior = Posterior(None, z_mean, z_log_var, ops.mean(kl_divergence(z_mean, z_log_var)))
        term = _kl_term(posterior, model.free_bits)
    gradient = tape.gradient(term, z_mean_layer)
    assert float(term) == pytest.approx(15.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(gradient), 0.0)


# --------------------------------------------------------------------- tcvae
@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tcvae_loss_is_the_weighted_sum_of_its_three_terms(estimator):
    model = BetaVAE(input_dim=8, encoding_dim=3, objective="tcvae", beta=6.0, alpha=0.5,
                    gamma_dw=2.0, dataset_size=1000, tcvae_estimator=estimator, seed=5)
    x = data(seed=4)
    state = noise_state(model)
    losses = replayed(model, x, state)
    z_mean, z_log_var, z = posterior_and_sample(model, x, state)
    mi, tc, dw = (float(ops.mean(t)) for t in tcvae_decomposition(z, z_mean, z_log_var, 1000, estimator))
    assert losses["mutual_information"] == pytest.approx(mi, rel=1e-5)
    assert losses["total_correlation"] == pytest.approx(tc, rel=1e-5)
    assert losses["dimension_wise_kl"] == pytest.approx(dw, rel=1e-5)
    assert losses["total_loss"] == pytest.approx(
        losses["reconstruction_loss"] + 0.5 * mi + 6.0 * tc + 2.0 * dw, rel=1e-5)
    assert losses["kl_loss"] == pytest.approx(float(ops.mean(kl_divergence(z_mean, z_log_var))), rel=1e-5)


def test_tcvae_logs_its_terms_and_the_compiled_step_reads_alpha_from_its_variable():
    model = BetaVAE(input_dim=8, encoding_dim=3, objective="tcvae", dataset_size=32,
                    dropout_rate=0.0, seed=6)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    x = data(seed=5)
    state = noise_state(model)
    first = model.fit(x, validation_data=(x,), epochs=1, batch_size=32, verbose=0).history
    terms = {"mutual_information", "total_correlation", "dimension_wise_kl"}
    assert set(first) == (BASE_LOGS | terms) | {f"val_{k}" for k in BASE_LOGS | terms}
    assert [m.name for m in model.metrics] == [
        "total_loss", "reconstruction_loss", "kl_loss",
        "mutual_information", "total_correlation", "dimension_wise_kl"]
    compiled = model.train_function
    model.alpha = 4.0
    model.sampling.seed_generator.state.assign(state)
    second = model.fit(x, epochs=1, batch_size=32, verbose=0).history
    assert model.train_function is compiled
    assert second["mutual_information"][0] == pytest.approx(first["mutual_information"][0], rel=1e-6)
    delta = second["loss"][0] - first["loss"][0]
    assert delta == pytest.approx(3.0 * first["mutual_information"][0], rel=1e-4)


def test_tcvae_without_a_dataset_size_explains_what_to_pass():
    model = BetaVAE(input_dim=8, encoding_dim=3, objective="tcvae")
    with pytest.raises(ValueError, match=r"'tcvae' objective needs the number of training examples.*dataset_size=N"):
        model.compute_losses(data())


# --------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gamma": -1}, r"gamma must be a finite number >= 0.0. Received: gamma=-1"),
        ({"capacity_max": float("inf")}, r"capacity_max must be a finite number >= 0.0"),
        ({"capacity_steps": -5}, r"capacity_steps must be an integer >= 0. Received: capacity_steps=-5"),
        ({"free_bits": -0.5}, r"free_bits must be a finite number >= 0.0. Received: free_bits=-0.5"),
        ({"dataset_size": 0}, r"dataset_size must be an integer >= 1. Received: dataset_size=0"),
        ({"alpha": -2.0}, r"alpha must be a finite number >= 0.0. Received: alpha=-2.0"),
        ({"gamma_dw": float("nan")}, r"gamma_dw must be a finite number"),
        ({"tcvae_estimator": "exact"}, r"Unknown tcvae_estimator 'exact'; choose one of \['mss', 'mws'\]"),
        ({"objective": "tcvae", "free_bits": 0.5},
         r"free_bits works with the 'beta' and 'capacity' objectives, not 'tcvae'. Received: free_bits=0.5"),
    ],
)
def test_bad_objective_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        BetaVAE(input_dim=4, **kwargs)
    assert "\n" not in str(error.value)


def test_setting_a_weight_is_validated_and_unused_weights_stay_in_the_config():
    model = BetaVAE(input_dim=4, gamma=3.0)  # "beta": gamma is unused but kept
    assert model.gamma_variable is None and model.gamma == 3.0
    model.gamma = 4.0
    assert model.get_config()["gamma"] == 4.0
    with pytest.raises(ValueError, match=r"alpha must be a finite number >= 0.0. Received: alpha=-1"):
        model.alpha = -1


# -------------------------------------------------------------- round trips
@pytest.mark.parametrize(
    "kwargs, extra_weights",
    [
        ({"objective": "beta", "free_bits": 0.25}, 0),
        ({"objective": "capacity", "gamma": 100.0, "capacity_max": 5.0, "capacity_steps": 10,
          "free_bits": 0.1}, 2),
        ({"objective": "tcvae", "beta": 6.0, "alpha": 0.5, "gamma_dw": 2.0, "dataset_size": 500,
          "tcvae_estimator": "mss"}, 2),
    ],
)
def test_every_objective_roundtrips_with_its_weights(kwargs, extra_weights, tmp_path):
    model = BetaVAE(input_dim=6, encoding_dim=2, seed=7, **kwargs)
    plain = BetaVAE(input_dim=6, encoding_dim=2)
    assert len(model.weights) == len(plain.weights) + extra_weights
    if model.step_counter is not None:
        model.step_counter.assign(4)  # saved with the model: the ramp continues
    if model.alpha_variable is not None:
        model.alpha = 0.75
    x = data(n=9, d=6, seed=6)
    state = noise_state(model)
    expected = replayed(model, x, state)

    clone = run_roundtrip_test(model, x, (9, 6), len(model.weights), tmp_path)
    assert clone.objective.name == kwargs["objective"]
    for key in set(kwargs) - {"objective"}:
        assert getattr(clone, key) == getattr(model, key), key
    for extension in ("h5", "keras"):
        reloaded = load_vae(tmp_path / f"roundtrip.{extension}")
        assert reloaded.get_config() == model.get_config()
        assert replayed(reloaded, x, state) == expected, extension
