"""Faults a long run must survive: kills, interrupted saves, a full disk, divergence.

The kill and disk tests use real processes (SIGKILL, RLIMIT_FSIZE), not mocks.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from betavae_tf import (
    BetaVAE,
    KLAnnealing,
    TrainingBackup,
    TrainingDivergedError,
    load_vae,
    train_vae,
)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


class InterruptAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) in an epoch, at the first
    batch end from `batch` on (Keras reports every k-th batch with
    `steps_per_execution=k`), before the epoch ends."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at[0] and batch >= self.at[1]:
            raise KeyboardInterrupt


def _train(x, x_val, epochs, backup_dir=None, callbacks=(), **kwargs):
    keras.utils.set_random_seed(0)
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0, dropout_rate=0.0)
    history, model = train_vae(
        model, x, x_val, epochs=epochs, save_path=None, backup_dir=backup_dir,
        kl_scheduler=KLAnnealing(0.0, 1.0, n_epochs=3), shuffle=False, verbose=0,
        callbacks=list(callbacks), seed=0, **kwargs,
    )
    return history, model


def test_an_interrupted_run_resumes_to_the_same_result_as_an_uninterrupted_one(digits, tmp_path):
    x, x_val = digits
    full_history, full = _train(x, x_val, epochs=6)
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _train(x, x_val, epochs=6, backup_dir=backup, callbacks=[InterruptAt(3, 2)])
    state = json.loads((backup / "state.json").read_text())
    assert state["epoch"] == 3 and not state["finished"]
    history, resumed = _train(x, x_val, epochs=6, backup_dir=backup)
    # Same epochs, β schedule position, optimizer steps and weights as if never stopped.
    np.testing.assert_allclose(history.history["loss"], full_history.history["loss"], rtol=1e-5)
    assert history.history["beta"] == full_history.history["beta"]
    assert history.history["beta"] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0, 1.0, 1.0])
    assert int(resumed.optimizer.iterations) == int(full.optimizer.iterations)
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # A finished run "resumed" again trains nothing and returns its history.
    again, model = _train(x, x_val, epochs=6, backup_dir=backup)
    assert again.history["loss"] == history.history["loss"]
    np.testing.assert_array_equal(model.get_weights()[0], resumed.get_weights()[0])


def test_resume_restores_early_stopping_and_lr_scheduler_state(digits, tmp_path):
    x, x_val = digits
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _train(x, x_val, epochs=8, backup_dir=backup, callbacks=[InterruptAt(5, 0)],
               patience=2, lr_scheduler="plateau")
    saved = json.loads((backup / "state.json").read_text())
    restored = {}

    class Spy(keras.callbacks.Callback):  # reads the wired callbacks' state at epoch 6
        def on_epoch_begin(self, epoch, logs=None):
            if not restored:
                restored.update(epoch=epoch, lr=float(self.model.optimizer.learning_rate),
                                beta=self.model.beta)

    history, _ = _train(x, x_val, epochs=8, backup_dir=backup, callbacks=[Spy()],
                        patience=2, lr_scheduler="plateau")
    assert restored["epoch"] == saved["epoch"] == 5
    assert restored["lr"] == pytest.approx(saved["history"]["learning_rate"][-1])
    assert restored["beta"] == 1.0
    early_stopping, plateau = saved["callbacks"]  # the wired EarlyStopping, ReduceLROnPlateau
    assert early_stopping["best"] == pytest.approx(min(saved["history"]["val_loss"][3:]))
    assert plateau["best"] == early_stopping["best"]
    assert history.history["val_loss"][:5] == saved["history"]["val_loss"]


def test_a_backup_of_another_model_is_refused_clearly(digits, tmp_path):
    x, x_val = digits
    _train(x, x_val, epochs=1, backup_dir=tmp_path)
    state = json.loads((tmp_path / "state.json").read_text())
    state["finished"] = False
    (tmp_path / "state.json").write_text(json.dumps(state))
    other = BetaVAE(input_dim=64, encoding_dim=6, seed=0)
    with pytest.raises(ValueError, match="belongs to another model or is corrupt: delete the folder") as error:
        train_vae(other, x, x_val, epochs=2, save_path=None, backup_dir=tmp_path, verbose=0)
    assert "\n" not in str(error.value)


def _model_weights(path) -> list:
    import h5py

    arrays = []
    with h5py.File(path, "r") as file:
        file["model_weights"].visititems(
            lambda name, item: arrays.append((name, item[()])) if isinstance(item, h5py.Dataset) else None
        )
    return arrays


def test_cli_resume_after_sigkill_mid_training_ends_as_the_uninterrupted_run(tmp_path):
    """`betavae-tf train` (shuffling and dropout on, as by default) killed with
    SIGKILL mid-run in its own process, then `--resume` in a new one: the run
    finishes with the requested epochs, its history continues the one before
    the kill, and it ends with the uninterrupted run's history and best
    checkpoint, weight for weight."""
    def command(folder):
        return [sys.executable, "-m", "betavae_tf", "train", "--epochs", "25", "--patience", "100",
                "--anneal-epochs", "4", "--verbose", "0", "--output-dir", str(folder)]

    killed = tmp_path / "killed"
    state_path = killed / "checkpoints" / "backup" / "state.json"
    process = subprocess.Popen(command(killed), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        try:
            if json.loads(state_path.read_text())["epoch"] >= 3:
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = json.loads(state_path.read_text())
    assert 3 <= before["epoch"] < 25 and not before["finished"]

    resumed = subprocess.run(command(killed) + ["--resume"], env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Epochs run: 25 of 25" in resumed.stdout
    after = json.loads(state_path.read_text())
    assert after["finished"] and after["epoch"] == 25
    done = before["epoch"]
    assert after["history"]["loss"][:done] == before["history"]["loss"]
    assert after["history"]["beta"] == [0.0, 0.25, 0.5, 0.75] + [1.0] * 21

    whole = tmp_path / "whole"
    uninterrupted = subprocess.run(command(whole), env=ENV, capture_output=True, text=True, timeout=300)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    expected = json.loads((whole / "checkpoints" / "backup" / "state.json").read_text())
    assert expected["history"].keys() == after["history"].keys()
    for key, values in expected["history"].items():  # epoch means: last-bit noise at most
        np.testing.assert_allclose(after["history"][key], values, rtol=1e-6, err_msg=key)
    for (name, got), (_, want) in zip(_model_weights(killed / "checkpoints" / "best_vae.h5"),
                                      _model_weights(whole / "checkpoints" / "best_vae.h5")):
        np.testing.assert_array_equal(got, want, err_msg=name)


def _save_loop_script(path, ready):
    return textwrap.dedent(f"""
        import os
        import numpy as np
        import keras
        from betavae_tf import BetaVAE, save_vae
        keras.utils.set_random_seed(1)
        first = BetaVAE(input_dim=2000, encoding_dim=8, seed=1)
        save_vae(first, {str(path)!r})
        keras.utils.set_random_seed(2)
        second = BetaVAE(input_dim=2000, encoding_dim=8, seed=2)
        open({str(ready)!r}, "w").close()
        while True:  # the parent kills us during one of these saves
            save_vae(second, {str(path)!r})
    """)


def test_a_kill_during_a_checkpoint_save_leaves_a_loadable_checkpoint(tmp_path):
    path, ready = tmp_path / "best.h5", tmp_path / "ready"
    process = subprocess.Popen([sys.executable, "-c", _save_loop_script(path, ready)], env=ENV,
                               stderr=subprocess.PIPE)
    deadline, killed_mid_save = time.time() + 120, False
    while time.time() < deadline and process.poll() is None:
        if ready.exists() and any(".partial-" in name for name in os.listdir(tmp_path)):
            process.send_signal(signal.SIGKILL)
            killed_mid_save = True
            break
        time.sleep(0.001)
    process.wait()
    assert killed_mid_save, process.stderr.read().decode()[-2000:]
    model = load_vae(str(path))  # intact: one of the two complete models, never half of one
    x = np.random.default_rng(0).random((4, 2000), dtype=np.float32)
    candidates = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        candidates.append(BetaVAE(input_dim=2000, encoding_dim=8, seed=seed))
    z = keras.ops.convert_to_numpy(model.encode(x)[0])
    assert any(np.array_equal(z, keras.ops.convert_to_numpy(c.encode(x)[0])) for c in candidates)


def _run_with_file_size_limit(script: str) -> list[str]:
    """Runs `script` in a fresh process; returns its lines starting with ERROR:."""
    header = textwrap.dedent("""
        import resource, signal
        import numpy as np
        import keras
        from betavae_tf import BetaVAE, train_vae
        from betavae_tf.datasets import load_digits
        x, x_val, _ = load_digits(val_fraction=0.2, seed=0)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        def limit_file_size(limit):
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    """)
    result = subprocess.run([sys.executable, "-c", header + textwrap.dedent(script)], env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]


needs_file_size_limits = pytest.mark.skipif(
    not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file-size limits"
)


@needs_file_size_limits
def test_no_room_for_the_checkpoint_is_refused_before_training(tmp_path):
    """A file-size limit (`ulimit -f`) far below the checkpoint's size, as a
    nearly full disk would be, is found before the first epoch."""
    path = tmp_path / "best.h5"
    lines = _run_with_file_size_limit(f"""
        limit_file_size(50_000)
        model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
        try:
            train_vae(model, x, x_val, epochs=2, save_path={str(path)!r}, verbose=0)
        except OSError as error:
            print("ERROR:", error, "| compiled:", model.compiled)
    """)
    assert len(lines) == 1 and "No room for the checkpoint" in lines[0]
    assert "file-size limit" in lines[0] and lines[0].endswith("| compiled: False")
    assert not path.exists()


@needs_file_size_limits
def test_a_full_disk_mid_run_is_reported_and_keeps_the_previous_best(tmp_path):
    """After epoch 1's checkpoint, writes are limited to 4 KiB: epoch 2's save
    is refused with a clear error and epoch 1's checkpoint stays loadable.
    (HDF5 can crash the process when a write fails half way, so `.h5` saves
    are checked for room first.)"""
    path, reference = tmp_path / "best.h5", tmp_path / "epoch1.npy"
    lines = _run_with_file_size_limit(f"""
        class FillDisk(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:  # the model now holds the weights checkpointed after epoch 1
                    np.save({str(reference)!r}, keras.ops.convert_to_numpy(self.model.encode(x_val)[0]))
                    limit_file_size(4096)
        model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
        try:
            train_vae(model, x, x_val, epochs=3, save_path={str(path)!r}, verbose=0,
                      lr_scheduler=None, callbacks=[FillDisk()])
        except OSError as error:
            print("ERROR:", error)
    """)
    assert len(lines) == 1, lines
    assert "Could not write the best checkpoint" in lines[0] and "at epoch 2" in lines[0]
    assert "the previous best (epoch 1) is intact" in lines[0]
    x_val = load_digits_validation()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(load_vae(str(path)).encode(x_val)[0]), np.load(reference)
    )
    assert not [name for name in os.listdir(tmp_path) if ".partial-" in name]


def load_digits_validation():
    from betavae_tf.datasets import load_digits

    return load_digits(val_fraction=0.2, seed=0)[1]


def test_a_beta_that_overflows_the_loss_stops_with_the_term_named(digits, tmp_path):
    x, x_val = digits
    path = tmp_path / "best.h5"
    model = BetaVAE(input_dim=64, encoding_dim=4, beta=1e38, seed=0)
    with pytest.raises(TrainingDivergedError) as error:
        train_vae(model, x, x_val, epochs=3, save_path=str(path), verbose=0, lr_scheduler=None)
    message = str(error.value)
    assert re.match(r"Training diverged in epoch 1, batch(es 1-)?\d+: ", message)
    assert "loss, total_loss became NaN/Inf" in message and "\n" not in message
    assert len(error.value.history.history["loss"]) == 1
    assert not path.exists()  # no NaN model on disk


def test_backup_never_saves_a_diverged_epoch(digits, tmp_path):
    x, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    train_vae(model, x, x_val, epochs=1, save_path=None, backup_dir=tmp_path, verbose=0)
    state = json.loads((tmp_path / "state.json").read_text())
    state["finished"] = False
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(TrainingDivergedError):  # squared errors of 1e20 overflow float32
        train_vae(model, x * 1e20, x_val, epochs=3, save_path=None, backup_dir=tmp_path, verbose=0)
    after = json.loads((tmp_path / "state.json").read_text())
    assert after["epoch"] == 1 and np.isfinite(after["history"]["loss"]).all()


def test_unwritable_backup_dir_is_refused_before_training(digits, tmp_path):
    x, x_val = digits
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    with pytest.raises(OSError, match="Cannot create the backup folder .*pass a backup_dir"):
        train_vae(model, x, x_val, epochs=1, save_path=None, backup_dir=blocker / "backup", verbose=0)
    assert not model.compiled


def test_training_backup_reads_none_without_a_backup(tmp_path):
    assert TrainingBackup(tmp_path).read_state() is None
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable .*delete the backup folder"):
        TrainingBackup(tmp_path).read_state()


def test_fixed_seed_and_determinism_give_identical_runs(digits):
    from tensorflow.python.framework import config as tf_config  # no public "disable"

    x, x_val = digits
    try:
        runs = []
        for _ in range(2):
            keras.utils.set_random_seed(0)
            model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)  # dropout 0.2 stays on
            history, model = train_vae(model, x, x_val, epochs=3, save_path=None, verbose=0,
                                       seed=0, deterministic=True)
            runs.append((history.history, model.get_weights()))
        assert tf_config.is_op_determinism_enabled()
    finally:
        tf_config.disable_op_determinism()
    (h1, w1), (h2, w2) = runs
    for a, b in zip(w1, w2):  # bit-identical weights
        np.testing.assert_array_equal(a, b)
    # The logged epoch means can differ in the last float32 bit between runs
    # (seen even with op determinism and one thread); the weights never did.
    assert h1.keys() == h2.keys()
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-6)


def test_divergence_names_the_exact_batch_with_one_step_per_execution(digits):
    x, x_val = digits
    model = BetaVAE(input_dim=64, encoding_dim=4, seed=0)
    with pytest.raises(TrainingDivergedError, match=r"in epoch 1, batch \d+: .*kl_loss"):
        train_vae(model, x, x_val, epochs=2, save_path=None, verbose=0, learning_rate=10.0,
                  lr_scheduler=None, steps_per_execution=1)
