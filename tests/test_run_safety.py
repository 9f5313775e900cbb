"""A training run never loses a user's data: its folders, its lock, signals, leftovers.

These reproduce what an outside attack on the command line found: a fresh run
deleting a user's folder, two runs in one folder, signals ending in
tracebacks, a divergence message lost, damaged state and summary files.
The processes, signals and locks are real.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from betavae_tf import BetaVAE, train_vae
from betavae_tf.backup import discard_backup, read_backup_state
from betavae_tf.cli import main
from betavae_tf.interrupts import TrainingInterrupted, interruptible
from betavae_tf.run_lock import FolderInUseError, folder_lock, remove_stale_partials
from betavae_tf.saving import write_atomically

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
TRAIN = [sys.executable, "-m", "betavae_tf", "train", "--verbose", "0"]


def _cli_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("betavae-tf: error: "), lines
    return lines[0]


@contextlib.contextmanager
def held_by_another_process(folder, what="folder"):
    """Holds `folder`'s run lock from another process (a live run) for the block.

    (The lock is re-entrant within one process, so the test process itself
    cannot play the other run.)"""
    script = ("import sys, time; from betavae_tf.run_lock import folder_lock\n"
              "with folder_lock(sys.argv[1], sys.argv[2]):\n"
              "    print('locked', flush=True); time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(folder), what], env=ENV,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def _user_folder(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / "thesis.tex").write_text("years of work")
    (path / "data").mkdir(exist_ok=True)
    (path / "data" / "x.csv").write_text("1,2\n")
    return path


# ------------------------------------------------------- never delete a user's folder
def test_a_fresh_run_refuses_a_backup_dir_that_is_a_users_folder(tmp_path, capsys):
    user = _user_folder(tmp_path / "user")
    line = _cli_error(capsys, ["train", "--epochs", "1", "--output-dir", str(tmp_path / "out"),
                               "--backup-dir", str(user)])
    assert "not a betavae_tf training backup" in line and "nothing was deleted" in line
    assert (user / "thesis.tex").read_text() == "years of work" and (user / "data" / "x.csv").exists()


def test_a_fresh_run_refuses_the_current_folder_and_the_output_folder_as_backup(tmp_path, capsys,
                                                                               monkeypatch):
    user = _user_folder(tmp_path / "cwd")
    monkeypatch.chdir(user)
    _cli_error(capsys, ["train", "--epochs", "1", "--output-dir", "out", "--backup-dir", "."])
    line = _cli_error(capsys, ["train", "--epochs", "1", "--output-dir", str(user),
                               "--backup-dir", str(user)])
    assert "is the output folder itself" in line
    _cli_error(capsys, ["train", "--epochs", "1", "--output-dir", str(user),
                        "--backup-dir", str(user / "checkpoints")])
    assert sorted(os.listdir(user)) == ["data", "out", "thesis.tex"] or sorted(
        os.listdir(user)) == ["checkpoints", "data", "out", "thesis.tex"]
    assert (user / "thesis.tex").read_text() == "years of work"


def test_discard_backup_removes_only_a_backups_own_files(digits, tmp_path):
    x, x_val = digits
    backup = tmp_path / "backup"
    train_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), x[:256], x_val, epochs=1,
              save_path=None, backup_dir=backup, verbose=0, patience=None)
    assert read_backup_state(backup)["format"].startswith("betavae_tf.TrainingBackup")
    (backup / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"'notes.txt'\); nothing was deleted"):
        discard_backup(backup)
    assert len(os.listdir(backup)) == 3  # state, weights, notes
    (backup / "notes.txt").unlink()
    (backup / ".epoch-9.partial-123.weights.h5").write_bytes(b"half")  # a killed save
    assert discard_backup(backup) and not backup.exists()
    assert not discard_backup(backup)  # nothing there: nothing to do
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        discard_backup(tmp_path / "file")


def test_a_foreign_state_json_is_not_taken_for_a_backup(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"app": "something else"}))
    with pytest.raises(ValueError, match="unreadable \\(no 'epoch'\\)"):
        discard_backup(tmp_path)
    assert (tmp_path / "state.json").exists()


# --------------------------------------------------------------- damaged state files
def _state(**changes):
    state = {"epoch": 2, "finished": False, "weights": "epoch-2.weights.h5", "best_weights": None,
             "history": {"loss": [2.0, 1.0]}, "callbacks": [{"wait": 0, "best": 1.0}],
             "seed_states": [[1, 2]]}
    state.update(changes)
    return {k: v for k, v in state.items() if v != "DROP"}


@pytest.mark.parametrize("state, reason", [
    (_state(epoch="DROP"), "no 'epoch'"),
    (_state(epoch="2"), "'epoch' is '2', not a int"),
    (_state(finished=1), "'finished' is 1, not a bool"),
    (_state(history={"loss": [2.0]}), "history 'loss' has 1 entries for 2 epochs"),
    (_state(history={"loss": ["a", 1]}), "history 'loss' is not a list of numbers"),
    (_state(callbacks=[{"wait": "x"}]), "'callbacks' is not a list"),
    (_state(seed_states=[[1.5]]), "'seed_states' is not a list of lists of integers"),
    (_state(epoch=-1, history={}), "'epoch' is -1"),
    ([1, 2], "a JSON list"),
])
def test_a_damaged_backup_state_is_refused_in_one_line(tmp_path, state, reason):
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError) as error:
        read_backup_state(tmp_path)
    assert reason in str(error.value) and "\n" not in str(error.value)
    assert "delete the backup folder" in str(error.value)


def test_a_backup_with_more_epochs_than_asked_is_refused(digits, tmp_path):
    x, x_val = digits
    backup = tmp_path / "backup"
    model = BetaVAE(input_dim=64, encoding_dim=2, seed=0)
    train_vae(model, x[:256], x_val, epochs=3, save_path=None, backup_dir=backup, verbose=0,
              patience=None)
    with pytest.raises(ValueError, match="has 3 epochs done but this run asks for 2"):
        train_vae(model, x[:256], x_val, epochs=2, save_path=None, backup_dir=backup, verbose=0)


def test_a_run_killed_while_writing_its_final_backup_is_marked_finished_on_resume(digits, tmp_path):
    x, x_val = digits
    backup = tmp_path / "backup"

    def run():
        keras.utils.set_random_seed(0)
        model = BetaVAE(input_dim=64, encoding_dim=2, seed=0)
        return train_vae(model, x[:256], x_val, epochs=2, save_path=None, backup_dir=backup,
                         verbose=0, patience=None, seed=0)

    run()
    state = read_backup_state(backup)
    # What a kill during the final save leaves: the last epoch's state, not finished.
    state.update(finished=False, weights="epoch-2.weights.h5")
    os.replace(backup / "epoch-2-final.weights.h5", backup / "epoch-2.weights.h5")
    (backup / "state.json").write_text(json.dumps(state))
    history, _ = run()
    assert len(history.history["loss"]) == 2
    after = read_backup_state(backup)
    assert after["finished"] and after["epoch"] == 2
    assert sorted(os.listdir(backup)) == ["epoch-2-final.weights.h5", "state.json"]


def test_a_damaged_training_summary_gives_one_line(tmp_path, capsys, digits):
    x, _ = digits
    model = BetaVAE(input_dim=64, encoding_dim=2, seed=0)
    from betavae_tf import save_vae

    path = save_vae(model, tmp_path / "best_vae.h5")
    summary = tmp_path / "train_summary.json"
    for content in ('{"config": {"data": "nowhere:/x"}}', '{"config": {"n_samples": "many"}}',
                    '{"config": [1]}', "{not json", '{"config": {"standardize": "yes"}}'):
        summary.write_text(content)
        line = _cli_error(capsys, ["reconstruct", "--model-path", path, "--output-dir",
                                   str(tmp_path / "pictures")])
        assert "training summary" in line and "is damaged" in line


# ---------------------------------------------------------------------- leftovers
def test_temporary_files_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / ".best_vae.partial-999999999.h5"
    live = tmp_path / f".best_vae.partial-{os.getpid()}.h5"
    mine = tmp_path / "best_vae.h5"
    for path in (dead, live, mine):
        path.write_bytes(b"x")
    assert remove_stale_partials(tmp_path) == [dead.name]
    assert live.exists() and mine.exists() and not dead.exists()


def test_the_next_run_cleans_up_what_a_killed_run_left(digits, tmp_path):
    x, x_val = digits
    checkpoints, backup = tmp_path / "checkpoints", tmp_path / "backup"
    checkpoints.mkdir()
    backup.mkdir()
    (checkpoints / ".best_vae.partial-999999999.h5").write_bytes(os.urandom(1000))
    (backup / ".epoch-4.partial-999999999.weights.h5").write_bytes(os.urandom(1000))
    (backup / "epoch-3.weights.h5").write_bytes(b"an orphan of an older backup")
    train_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), x[:256], x_val, epochs=1,
              save_path=checkpoints / "best_vae.h5", backup_dir=backup, verbose=0, patience=None)
    assert sorted(os.listdir(checkpoints)) == ["best_vae.h5"]
    assert sorted(os.listdir(backup)) == ["epoch-1-final.weights.h5", "state.json"]


# ----------------------------------------------------------------- one run per folder
def test_a_second_run_in_a_locked_folder_is_refused_naming_the_holder(tmp_path, capsys):
    with held_by_another_process(tmp_path / "out" / "checkpoints") as holder:
        line = _cli_error(capsys, ["train", "--epochs", "1", "--output-dir", str(tmp_path / "out")])
    assert f"is in use by another betavae-tf run (PID {holder.pid}" in line
    assert str(tmp_path / "out") in line
    with held_by_another_process(tmp_path / "backup", "backup folder"):
        with pytest.raises(FolderInUseError, match="backup folder"):
            train_vae(BetaVAE(input_dim=4, encoding_dim=2), np.zeros((8, 4), "float32"),
                      epochs=1, batch_size=4, save_path=None, backup_dir=tmp_path / "backup", verbose=0)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    script = ("import sys, time; from betavae_tf.run_lock import folder_lock\n"
              "with folder_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=ENV,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(FolderInUseError, match=f"PID {holder.pid}"):
        with folder_lock(tmp_path):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with folder_lock(tmp_path):  # the OS released it with the process
        pass


def _start_and_wait_for_epoch(command, state_path, epoch=2):
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        try:
            if json.loads(state_path.read_text())["epoch"] >= epoch:
                return process
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"the run ended before epoch {epoch}: {process.stderr.read()[-2000:]}")


def test_two_cli_runs_in_one_folder_and_signals(tmp_path):
    """A second `train` in a running run's folder is refused; SIGTERM and
    SIGINT then stop the first with one line, exit 143 / 130, and `--resume`
    finishes it."""
    command = TRAIN + ["--epochs", "300", "--patience", "1000", "--output-dir", str(tmp_path)]
    state_path = tmp_path / "checkpoints" / "backup" / "state.json"
    done = 0
    for signal_number, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        resume = ["--resume"] if signal_number == signal.SIGINT else []
        first = _start_and_wait_for_epoch(command + resume, state_path, epoch=done + 2)
        if signal_number == signal.SIGTERM:
            second = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
            assert second.returncode == 2
            assert f"in use by another betavae-tf run (PID {first.pid}" in second.stderr
            assert "Traceback" not in second.stderr
        first.send_signal(signal_number)
        _, stderr = first.communicate(timeout=120)
        assert first.returncode == code, stderr[-2000:]
        assert "Traceback" not in stderr
        ours = [line for line in stderr.splitlines() if line.startswith("betavae-tf:")]
        state = read_backup_state(tmp_path / "checkpoints" / "backup")
        assert state["epoch"] >= done + 2
        done = state["epoch"]
        assert ours == [
            f"betavae-tf: {signal.Signals(signal_number).name} stopped training; the backup of "
            f"epoch {state['epoch']} in {tmp_path / 'checkpoints' / 'backup'} is intact: run the "
            "same command with --resume to continue."
        ]
        assert not [n for n in os.listdir(state_path.parent) if ".partial-" in n]
    finished = subprocess.run(TRAIN + ["--epochs", str(state["epoch"] + 1), "--output-dir",
                                       str(tmp_path), "--resume"],
                              env=ENV, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert f"Epochs run: {state['epoch'] + 1} of" in finished.stdout


def test_a_signal_during_a_save_waits_for_the_save(tmp_path):
    path = tmp_path / "file.txt"

    def write(temporary):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-write
        with open(temporary, "w") as handle:
            handle.write("complete")

    with pytest.raises(TrainingInterrupted) as error, interruptible():
        write_atomically(path, write)
    assert error.value.exit_code == 143 and path.read_text() == "complete"
    assert os.listdir(tmp_path) == ["file.txt"]


# ------------------------------------------------------------------- divergence
def test_the_cli_reports_a_divergence_with_its_own_message(tmp_path, capsys):
    code = main(["train", "--learning-rate", "10", "--epochs", "5", "--verbose", "0",
                 "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("betavae-tf:")]
    assert len(lines) == 1 and lines[0].startswith("betavae-tf: error: Training diverged in epoch ")
    assert "No finite" not in err
    summary = json.loads((tmp_path / "checkpoints" / "train_summary.json").read_text())
    assert summary["diverged"].startswith("Training diverged")


# ------------------------------------------------- found by the second outside attack
def test_a_fresh_run_refused_on_a_backup_dir_in_use_deletes_nothing_of_the_live_run(
        digits, tmp_path, capsys):
    """A second fresh `train` with another --output-dir but the --backup-dir of
    a live run must be refused before it touches that backup. It used to
    discard the live run's backup (state, weights and the temporary file the
    live run was writing) and only then hit the lock: the attack saw the live
    run die with "No such file or directory: '.../.state.partial-PID.json'",
    and the second run then train in its place."""
    x, x_val = digits
    backup = tmp_path / "backup"
    train_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), x[:256], x_val, epochs=1,
              save_path=None, backup_dir=backup, verbose=0, patience=None)
    writing = backup / f".state.partial-{os.getpid()}.json"  # the live run, mid-save
    writing.write_text("{}")
    before = sorted(os.listdir(backup))
    with held_by_another_process(backup, "backup folder"):  # the live run holds its backup
        line = _cli_error(capsys, ["train", "--epochs", "1", "--verbose", "0",
                                   "--output-dir", str(tmp_path / "second"),
                                   "--backup-dir", str(backup)])
        assert "is in use by another betavae-tf run" in line
        assert sorted(n for n in os.listdir(backup) if n != ".betavae_tf.lock") == before
    assert read_backup_state(backup)["epoch"] == 1


def test_a_killed_runs_temporary_loss_plot_is_removed_by_the_next_run(tmp_path, capsys):
    """SIGKILL while `vae_loss_plot.png` is written leaves
    `.vae_loss_plot.partial-PID.png` in OUTPUT_DIR (attack: 1 of 1 kills timed
    there); the resumed run finished with exit 0 but left it, although the
    guide promises no temporary file after a killed run is resumed."""
    (tmp_path / ".vae_loss_plot.partial-999999999.png").write_bytes(os.urandom(1000))
    assert main(["train", "--epochs", "1", "--verbose", "0", "--output-dir", str(tmp_path),
                 "--resume"]) == 0
    assert not [n for n in os.listdir(tmp_path) if ".partial-" in n]


@pytest.mark.parametrize("tamper", [
    lambda state: state.update(seed_states=[[10 ** 30, 1] for _ in state["seed_states"]]),
    lambda state: state.update(seed_states=[[1, 2, 3] for _ in state["seed_states"]]),
    lambda state: state.update(best_weights=state["weights"]),
    lambda state: state.update(seed_states=state["seed_states"] + [[1, 2]]),
    lambda state: state.update(seed_states=[]),
], ids=["seed state beyond int64", "seed state of 3 numbers", "best_weights naming the .h5",
        "one seed state too many", "no seed states"])
def test_a_tampered_backup_state_is_refused_in_one_line_naming_the_file(digits, tmp_path, tamper):
    """Damaged `state.json` values that `read_backup_state` let through: an
    integer beyond int64 in seed_states crashed `train --resume` with an
    OverflowError traceback (exit 1); a seed state of the wrong length gave
    Keras's "The shape of the target variable ..." and best_weights naming the
    weights file NumPy's "This file contains pickled (object) data. If you trust
    the file you can load it unsafely using the `allow_pickle=` keyword", neither
    naming the file. The guide promises a one-line error naming the file and
    what is wrong."""
    x, x_val = digits
    backup = tmp_path / "backup"

    def run():
        return train_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), x[:256], x_val, epochs=2,
                         save_path=None, backup_dir=backup, verbose=0, patience=2)

    run()
    state = json.loads((backup / "state.json").read_text())
    assert state["best_weights"] and state["seed_states"]
    state["finished"] = False
    tamper(state)
    (backup / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError) as error:
        run()
    message = str(error.value)
    assert "state.json" in message and "\n" not in message and "allow_pickle" not in message


def test_a_summary_seed_beyond_int64_is_reported_as_a_damaged_summary(tmp_path, capsys):
    """`"seed": 2**70` passes `recorded_data_settings` (only `seed >= 0` is
    checked); `generate` then failed with "Can't convert Python sequence with
    out-of-range integer to Tensor.", which names neither the summary nor the
    fix. The guide promises "The training summary '…' is damaged (...)"."""
    from betavae_tf import save_vae

    path = save_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), tmp_path / "best_vae.h5")
    (tmp_path / "train_summary.json").write_text(json.dumps({"config": {"seed": 2 ** 70}}))
    line = _cli_error(capsys, ["generate", "--model-path", path, "--n", "2",
                               "--output-dir", str(tmp_path / "pictures")])
    assert "training summary" in line and "is damaged" in line


def test_resume_into_a_users_folder_deletes_none_of_its_files(tmp_path, capsys):
    """`--resume --backup-dir USER` where USER holds no backup: the run said
    "No backup in ...; starting a new run.", wrote its backup among the user's
    files and deleted the user's own `epoch-7.weights.h5` (Keras's usual
    weights suffix) as a "leftover". A fresh run refuses such a folder
    ("nothing was deleted"); --resume must not delete a user's file either."""
    user = _user_folder(tmp_path / "user")
    (user / "epoch-7.weights.h5").write_bytes(b"my own Keras weights")
    try:
        main(["train", "--epochs", "1", "--verbose", "0", "--output-dir", str(tmp_path / "out"),
              "--backup-dir", str(user), "--resume"])
    except SystemExit:
        pass  # a refusal is fine; deleting the user's file is not
    assert (user / "epoch-7.weights.h5").read_bytes() == b"my own Keras weights"
    assert (user / "thesis.tex").read_text() == "years of work"


def test_a_divergence_before_any_checkpoint_does_not_claim_one_was_kept(tmp_path, capsys):
    """With learning rate 10 the digits diverge in epoch 1, before the first
    checkpoint is written, yet the one error line said "The best checkpoint
    '.../checkpoints/best_vae.h5' was kept" for a file that does not exist."""
    code = main(["train", "--learning-rate", "10", "--epochs", "5", "--verbose", "0",
                 "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Training diverged in epoch 1" in err
    path = tmp_path / "checkpoints" / "best_vae.h5"
    assert not path.exists()
    assert f"The best checkpoint '{path}' was kept" not in err


def test_files_planted_as_symlinks_in_an_output_folder_do_not_lead_writes_outside(tmp_path,
                                                                                  capsys):
    """A run folder someone else prepared may hold symbolic links. `train`
    wrote `checkpoints/train_summary.json` and `standardizer.npz` with plain
    `open`/`np.savez`, and `generate` its `generated_images/sample_NNNN.png`
    with PIL, all through such links: files appeared outside the output folder
    (and an existing target was overwritten). The guide: "output names cannot
    leave their folder"; `samples.png` and the loss plot, written by
    `write_atomically`, replace the link instead."""
    from betavae_tf import save_vae

    outside = tmp_path / "outside"
    outside.mkdir()
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "train_summary.json").symlink_to(outside / "summary.json")
    (run / "checkpoints" / "standardizer.npz").symlink_to(outside / "standardizer.npz")
    assert main(["train", "--epochs", "1", "--verbose", "0", "--output-dir", str(run)]) == 0
    pictures = tmp_path / "pictures"
    (pictures / "generated_images").mkdir(parents=True)
    (pictures / "generated_images" / "sample_0000.png").symlink_to(outside / "sample.png")
    path = save_vae(BetaVAE(input_dim=64, encoding_dim=2, seed=0), tmp_path / "model.h5")
    try:
        main(["generate", "--model-path", path, "--n", "2", "--output-dir", str(pictures)])
    except SystemExit:
        pass  # a refusal is fine; writing outside is not
    assert sorted(os.listdir(outside)) == []


def test_the_run_lock_is_re_entrant_in_one_process_and_follows_symlinks(tmp_path):
    """`train_run` holds the output and backup folders and then `train_vae`
    takes the backup folder's lock again: the same process may; a symbolic
    link to a held folder is the same folder."""
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with folder_lock(tmp_path / "real"):
        with folder_lock(tmp_path / "link"):  # the same folder, the same process
            assert (tmp_path / "real" / ".betavae_tf.lock").exists()
        assert (tmp_path / "real" / ".betavae_tf.lock").exists()  # still held by the outer one
    assert not (tmp_path / "real" / ".betavae_tf.lock").exists()
    with held_by_another_process(tmp_path / "real"):
        with pytest.raises(FolderInUseError, match="in use by another betavae-tf run"):
            with folder_lock(tmp_path / "link"):
                pass


def test_a_lock_taken_on_a_file_its_holder_just_removed_is_taken_again(tmp_path, monkeypatch):
    """Review: a run that opened `.betavae_tf.lock` just before its holder
    removed it (at the end of the holder's run) locked the deleted file, and a
    third run then locked the new file too: two owners. The lock must be on the
    file that is at the path."""
    from betavae_tf import run_lock

    real_flock, calls = run_lock.fcntl.flock, []

    def flock_then_the_holder_removes_the_file(fd, operation):
        real_flock(fd, operation)
        calls.append(fd)
        if len(calls) == 1:  # the old holder lets go: the file we locked is unlinked
            os.remove(tmp_path / run_lock.LOCK_FILE)

    monkeypatch.setattr(run_lock.fcntl, "flock", flock_then_the_holder_removes_the_file)
    with run_lock.folder_lock(tmp_path) as path:
        assert len(calls) == 2  # it locked again, the file now at the path
        with open(path, encoding="utf-8") as handle:
            assert f"PID {os.getpid()}" in handle.read()
