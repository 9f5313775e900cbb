"""Data-parallel training (`betavae_tf.distribute`).

Two logical CPU devices must be configured before TensorFlow initialises its
devices, and a `MultiWorkerMirroredStrategy` before it runs anything, so those
runs happen in fresh processes that execute this file as a script (see the
bottom); the test functions compare what they write against one device.

The models here have no BatchNorm or dropout, and their encoder's log-variance
head is fixed at -40 (σ ≈ 2e-9), so the posterior noise is negligible and a
step on several replicas must equal a step on one device.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf.callbacks import BestModelCheckpoint, KLAnnealing
from betavae_tf.models import BetaVAE
from betavae_tf.training import train_vae

N_FEATURES = 6
SCRIPT_TIMEOUT = 240


def build_model(seed: int = 0, **kwargs) -> BetaVAE:
    """A small BetaVAE without BatchNorm/dropout and with (almost) no noise."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((N_FEATURES,))
    h = keras.layers.Dense(8, activation="tanh")(x)
    z_mean = keras.layers.Dense(2)(h)
    z_log_var = keras.layers.Dense(
        2, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(-40.0)
    )(h)
    z = keras.Input((2,))
    decoded = keras.layers.Dense(N_FEATURES)(keras.layers.Dense(8, activation="tanh")(z))
    return BetaVAE(
        encoder=keras.Model(x, [z_mean, z_log_var]), decoder=keras.Model(z, decoded),
        seed=3, **kwargs,
    )


def data(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, N_FEATURES)).astype("float32")


def wired_callbacks(save_path: str) -> list:
    """The callbacks train_vae wires: β warm-up, NaN guard, early stopping,
    best checkpoint, plateau LR."""
    return [
        KLAnnealing(0.0, 1.0, n_epochs=2),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True, start_from_epoch=2),
        BestModelCheckpoint(save_path, start_from_epoch=2),
        keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1),
    ]


def max_difference(a: list, b: list) -> float:
    return max(float(np.max(np.abs(np.asarray(u, float) - np.asarray(v, float)))) for u, v in zip(a, b))


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_script(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def finish(process: subprocess.Popen) -> str:
    try:
        output, _ = process.communicate(timeout=SCRIPT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    assert process.returncode == 0, output[-4000:]
    return output


# ------------------------------------------------------------ in this process
def test_resolve_strategy_names_and_errors(monkeypatch):
    from betavae_tf.distribute import (
        needs_custom_loop,
        resolve_strategy,
        strategy_scope,
    )

    assert resolve_strategy(None) is None and resolve_strategy("default") is None
    mirrored = tf.distribute.OneDeviceStrategy("/cpu:0")
    assert resolve_strategy(mirrored) is mirrored and not needs_custom_loop(mirrored)
    with strategy_scope(None):
        pass
    with pytest.raises(ValueError, match=r"^Unknown strategy 'tpu'; choose one of \['default', 'mirrored', 'multi-worker'\]"):
        resolve_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        resolve_strategy("multi-worker")
    for bad, message in [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG needs a 'cluster'"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "TF_CONFIG needs a 'task'"),
    ]:
        monkeypatch.setenv("TF_CONFIG", bad)
        with pytest.raises(ValueError, match=message) as error:
            resolve_strategy("multi-worker")
        assert "\n" not in str(error.value)


def test_custom_loop_matches_fit_on_one_device(tmp_path):
    """`fit_distributed` drives the callbacks exactly like `fit`."""
    from betavae_tf.distribute import fit_distributed

    x, x_val = data(10), data(5, seed=1)
    histories, models = [], []
    for name in ("fit", "arrays", "datasets"):
        model = build_model()
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        callbacks = wired_callbacks(str(tmp_path / f"{name}.h5"))
        if name == "fit":
            history = model.fit(x, validation_data=x_val, batch_size=4, epochs=7, shuffle=False,
                                callbacks=callbacks, verbose=0)
        elif name == "arrays":
            history = fit_distributed(model, x, x_val, strategy=None, batch_size=4, epochs=7,
                                      shuffle=False, callbacks=callbacks, verbose=0)
        else:  # batched datasets: each batch is a global batch
            history = fit_distributed(
                model, tf.data.Dataset.from_tensor_slices(x).batch(4),
                tf.data.Dataset.from_tensor_slices((x_val, x_val)).batch(4),
                strategy=None, batch_size=4, epochs=7, callbacks=callbacks, verbose=0)
        histories.append(history.history)
        models.append(model)
    fit = histories[0]
    assert fit["beta"][:3] == [0.0, 0.5, 1.0]
    for name, loop, model in zip(("arrays", "datasets"), histories[1:], models[1:]):
        assert sorted(fit) == sorted(loop) and len(fit["loss"]) == len(loop["loss"]), name
        for key in fit:
            np.testing.assert_allclose(loop[key], fit[key], rtol=1e-5, err_msg=f"{name} {key}")
        assert max_difference(models[0].get_weights(), model.get_weights()) < 1e-6, name
        assert (tmp_path / f"{name}.h5").is_file()


def test_custom_loop_shuffles_with_its_seed_and_stops_on_nan():
    from betavae_tf.distribute import fit_distributed

    x = data(12)
    runs = []
    for _ in range(2):
        model = build_model()
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        runs.append(fit_distributed(model, x, strategy=None, batch_size=5, epochs=2, seed=4,
                                    callbacks=[], verbose=0).history["loss"])
    assert runs[0] == runs[1]
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(1e30))  # diverges at once
    history = fit_distributed(model, x, strategy=None, batch_size=4, epochs=5,
                              callbacks=[keras.callbacks.TerminateOnNaN()], verbose=0)
    assert len(history.history["loss"]) == 1 and not np.isfinite(history.history["loss"][-1])


# ------------------------------------------------------ two logical CPU devices
def mirrored_script(out: str) -> None:
    """Writes to `out` the histories and weights of the same training on one
    device, with `fit` on two replicas, and with the custom loop on two."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from betavae_tf.distribute import (
        fit_distributed,
        replicate_model,
        replicate_optimizer,
        resolve_strategy,
        strategy_scope,
    )
    from betavae_tf.saving import load_vae

    start = time.time()
    strategy = resolve_strategy("mirrored")
    results = {"replicas": strategy.num_replicas_in_sync}
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}})
    try:  # too late for collective ops: a one-line error says what to do
        resolve_strategy("multi-worker")
    except (RuntimeError, ValueError) as error:
        results["late_multi_worker"] = str(error)
    # 9 rows in global batches of 4: the last batch leaves one replica empty.
    x, x_val = data(9), data(5, seed=1)
    # (The loop runs the same train_step as fit: clipping is checked with fit.)
    for case, optimizer_config, ways in [("sgd", {}, ("one", "fit", "loop")),
                                         ("clipnorm", {"clipnorm": 0.05}, ("one", "fit"))]:
        for how in ways:
            model = build_model()
            optimizer = keras.optimizers.SGD(0.05, **optimizer_config)
            if how != "one":
                model = replicate_model(model, strategy)
                optimizer = replicate_optimizer(optimizer, strategy)
            with strategy_scope(None if how == "one" else strategy):
                model.compile(optimizer=optimizer)
            path = os.path.join(os.path.dirname(out), f"{case}-{how}.h5")
            callbacks = wired_callbacks(path)
            if how == "loop":
                history = fit_distributed(model, x, x_val, strategy=strategy, batch_size=4, epochs=4,
                                          shuffle=False, callbacks=callbacks, verbose=0)
            else:
                history = model.fit(x, validation_data=x_val, batch_size=4, epochs=4, shuffle=False,
                                    callbacks=callbacks, verbose=0)
            reloaded = load_vae(path)
            print(f"{case}-{how} done at {time.time() - start:.1f}s", flush=True)
            results[f"{case}-{how}"] = {
                "history": history.history,
                "weights": [w.tolist() for w in model.get_weights()],
                "checkpoint_loss": float(reloaded.evaluate(x_val, batch_size=5, verbose=0, return_dict=True)["loss"]),
            }
    # Each replica draws its own posterior noise.
    model = replicate_model(BetaVAE(input_dim=N_FEATURES, encoding_dim=2, seed=1), strategy)
    from betavae_tf.replicas import draw_posterior_sample

    zeros = tf.zeros((3, 2))
    noise = strategy.run(tf.function(lambda: draw_posterior_sample(model.sampling, zeros, zeros)))
    first, second = (t.numpy() for t in strategy.experimental_local_results(noise))
    results["noise_differs"] = bool(np.abs(first - second).min() > 0)
    with open(out, "w") as handle:
        json.dump(results, handle)


def test_two_replicas_match_one_device(tmp_path):
    out = str(tmp_path / "mirrored.json")
    finish(run_script("mirrored", out))
    with open(out) as handle:
        results = json.load(handle)
    assert results["replicas"] == 2
    assert "before building or loading the model" in results["late_multi_worker"]
    assert results["noise_differs"]
    for case, ways in (("sgd", ("fit", "loop")), ("clipnorm", ("fit",))):
        one = results[f"{case}-one"]
        for how in ways:
            other = results[f"{case}-{how}"]
            assert sorted(other["history"]) == sorted(one["history"])
            for key, values in one["history"].items():
                np.testing.assert_allclose(other["history"][key], values, rtol=2e-5, err_msg=f"{case}-{how} {key}")
            assert max_difference(other["weights"], one["weights"]) < 1e-5, f"{case}-{how}"
            assert other["checkpoint_loss"] == np.float32(one["checkpoint_loss"]) or np.isclose(
                other["checkpoint_loss"], one["checkpoint_loss"], rtol=2e-5)
    # Training moved the weights: the comparison is not between two no-ops.
    assert max_difference(results["sgd-one"]["weights"], build_model().get_weights()) > 1e-2


# ------------------------------------------------------------ two workers
def worker_script(out: str, save_path: str) -> None:
    """One worker of a two-worker cluster (TF_CONFIG set by the test)."""
    from betavae_tf.distribute import (
        fit_distributed,
        is_chief,
        replicate_model,
        resolve_strategy,
        strategy_scope,
    )

    strategy = resolve_strategy("multi-worker")  # first, before any TF op
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    # Each worker builds different weights; replicate_model gives all worker 0's.
    model = replicate_model(build_model(seed=index), strategy)
    with strategy_scope(strategy):
        model.compile(optimizer=keras.optimizers.SGD(0.05))
    history = fit_distributed(
        model, data(9), data(5, seed=1), strategy=strategy, batch_size=4, epochs=4, seed=7,
        callbacks=wired_callbacks(save_path), verbose=2,
    )
    with open(out, "w") as handle:
        json.dump({"chief": is_chief(strategy), "replicas": strategy.num_replicas_in_sync,
                   "history": history.history, "weights": [w.tolist() for w in model.get_weights()]},
                  handle)


def run_two_workers(tmp_path, name: str, *arguments: str) -> tuple[list, list]:
    """Runs `name`'s script on a two-worker localhost cluster; returns both
    workers' JSON results and their outputs."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = [
        run_script(name, str(tmp_path / f"{name}{index}.json"), *arguments,
                   env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})})
        for index in range(2)
    ]
    try:
        outputs = [finish(process) for process in processes]
    finally:  # a failed worker leaves the other waiting in a collective
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    results = []
    for index in range(2):
        with open(tmp_path / f"{name}{index}.json") as handle:
            results.append(json.load(handle))
    return results, outputs


def test_two_workers_train_in_lock_step(tmp_path):
    from betavae_tf.distribute import fit_distributed
    from betavae_tf.saving import load_vae

    (tmp_path / "checkpoints").mkdir()
    save_path = str(tmp_path / "checkpoints" / "best.h5")
    workers, outputs = run_two_workers(tmp_path, "worker", save_path)
    assert [w["chief"] for w in workers] == [True, False]
    assert [w["replicas"] for w in workers] == [2, 2]
    assert workers[0]["history"] == workers[1]["history"]
    assert max_difference(workers[0]["weights"], workers[1]["weights"]) == 0.0
    assert "Epoch 1/4" in outputs[0] and "Epoch 1/4" not in outputs[1]  # chief's progress only

    # The same training on one device, from worker 0's initial weights and
    # with the same shuffling seed.
    model = build_model(seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    reference = fit_distributed(model, data(9), data(5, seed=1), strategy=None, batch_size=4, epochs=4,
                                seed=7, callbacks=wired_callbacks(str(tmp_path / "reference.h5")),
                                verbose=0).history
    assert sorted(reference) == sorted(workers[0]["history"])
    for key, values in reference.items():
        np.testing.assert_allclose(workers[0]["history"][key], values, rtol=2e-5, err_msg=key)
    assert max_difference(workers[0]["weights"], model.get_weights()) < 1e-5

    # One checkpoint, written by the chief, with the best weights.
    assert os.listdir(tmp_path / "checkpoints") == ["best.h5"]
    reloaded = load_vae(save_path)
    assert max_difference(reloaded.get_weights(), load_vae(str(tmp_path / "reference.h5")).get_weights()) < 1e-5


class InterruptAtEpoch(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) when epoch `epoch` (0-based) begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def backup_worker_script(out: str, backup_dir: str, epochs: str, interrupt_at: str) -> None:
    """One worker of a two-worker `train_vae(backup_dir=...)` run, optionally
    interrupted when epoch `interrupt_at` begins (0: never)."""
    from betavae_tf.distribute import is_chief, resolve_strategy

    strategy = resolve_strategy("multi-worker")  # first, before any TF op
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    model = build_model(seed=index)
    callbacks = [InterruptAtEpoch(int(interrupt_at))] if int(interrupt_at) else []
    result = {"chief": is_chief(strategy)}
    try:
        history, _ = train_vae(
            model, data(9), data(5, seed=1), batch_size=4, epochs=int(epochs), learning_rate=0.05,
            save_path=None, lr_scheduler=None, patience=None, kl_scheduler=KLAnnealing(0.0, 1.0, n_epochs=3),
            strategy=strategy, backup_dir=backup_dir, seed=7, callbacks=callbacks, verbose=0,
        )
        result["history"] = history.history
    except KeyboardInterrupt:
        result["history"] = None
    result["weights"] = [w.tolist() for w in model.get_weights()]
    with open(out, "w") as handle:
        json.dump(result, handle)


def test_two_workers_resume_from_the_chiefs_backup(tmp_path):
    backup = str(tmp_path / "backup")
    stopped, _ = run_two_workers(tmp_path, "backup-worker", backup, "4", "2")
    assert [w["history"] for w in stopped] == [None, None]  # both stopped when epoch 3 began
    state = json.loads((tmp_path / "backup" / "state.json").read_text())
    assert state["epoch"] == 2 and not state["finished"]
    assert sorted(os.listdir(backup)) == ["epoch-2.weights.h5", "state.json"]  # the chief's only

    resumed, _ = run_two_workers(tmp_path, "backup-worker", backup, "4", "0")
    assert [w["chief"] for w in resumed] == [True, False]
    assert resumed[0]["history"] == resumed[1]["history"]
    assert max_difference(resumed[0]["weights"], resumed[1]["weights"]) == 0.0
    history = resumed[0]["history"]
    assert history["beta"] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])  # the schedule went on
    assert history["loss"][:2] == state["history"]["loss"]  # the first two epochs were restored

    # The same run, never interrupted: the same epochs and weights.
    uninterrupted, _ = run_two_workers(tmp_path, "backup-worker", str(tmp_path / "other"), "4", "0")
    for key, values in uninterrupted[0]["history"].items():
        np.testing.assert_allclose(history[key], values, rtol=1e-5, err_msg=key)
    assert max_difference(resumed[0]["weights"], uninterrupted[0]["weights"]) < 1e-5


if __name__ == "__main__":
    role, *arguments = sys.argv[1:]
    {"mirrored": mirrored_script, "worker": worker_script,
     "backup-worker": backup_worker_script}[role](*arguments)


def test_train_vae_with_a_mirrored_strategy_matches_one_device(digits, tmp_path):
    """`train_vae(strategy="mirrored")` on this machine's one CPU: the model is
    copied into the scope, trained, and the caller's model gets the weights."""
    x, x_val = digits

    def run(strategy):
        keras.utils.set_random_seed(0)
        model = BetaVAE(input_dim=64, encoding_dim=4, seed=0, dropout_rate=0.0)
        history, trained = train_vae(model, x, x_val, epochs=2, save_path=str(tmp_path / "m.h5"),
                                     shuffle=False, verbose=0, seed=0, strategy=strategy)
        assert trained is model
        return history.history, model.get_weights()

    plain, mirrored = run(None), run("mirrored")
    np.testing.assert_allclose(mirrored[0]["loss"], plain[0]["loss"], rtol=1e-5)
    for a, b in zip(mirrored[1], plain[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_cli_trains_with_the_mirrored_strategy(tmp_path, capsys):
    from betavae_tf.cli import main

    assert main(["train", "--strategy", "mirrored", "--epochs", "2", "--anneal-epochs", "0",
                 "--verbose", "0", "--output-dir", str(tmp_path)]) == 0
    assert "Epochs run: 2 of 2" in capsys.readouterr().out
    summary = json.loads((tmp_path / "checkpoints" / "train_summary.json").read_text())
    assert summary["config"]["strategy"] == "mirrored"
