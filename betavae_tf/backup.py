"""`TrainingBackup`: the whole training state, backed up every epoch and restored.

Also `read_backup_state` (the checked `state.json`) and `discard_backup`,
which deletes a backup and nothing else.
"""

from __future__ import annotations

import functools
import math
import os
import re
import zipfile

import keras
import numpy as np

from betavae_tf import keras_internals
from betavae_tf.atomic import write_atomically, write_json
from betavae_tf.run_lock import LOCK_FILE, remove_stale_partials
from betavae_tf.saving import check_room_for, checkpoint_size_estimate
from betavae_tf.validation import check_inside, read_json_object

__all__ = ['TrainingBackup', 'read_backup_state', 'discard_backup', 'STATE_FILE']

# Attributes that make up the state of the stateful Keras callbacks train_vae
# wires, so a resumed run continues exactly where the interrupted one was.
_CALLBACK_STATE = (
    (keras.callbacks.EarlyStopping, ("wait", "best", "best_epoch", "stopped_epoch")),
    (keras.callbacks.ReduceLROnPlateau, ("wait", "best", "cooldown_counter")),
)
# Our own callbacks name their state in a `state_attributes` class attribute.


def _json_number(value):
    """Python/NumPy numbers as JSON-able floats/ints (None stays None)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    return float(value)


STATE_FILE = "state.json"
BACKUP_FORMAT = "betavae_tf.TrainingBackup/1"
# The files a TrainingBackup writes: the state, weights, early stopping's best
# weights, and the temporary files of write_atomically.
_BACKUP_FILE = re.compile(
    r"(state\.json|epoch-\d+(-final)?\.weights\.h5|best-epoch-\d+\.npz"
    r"|\.(state|epoch-\d+(-final)?|best-epoch-\d+)\.partial-\d+\..*)"
)



class TrainingBackup(keras.callbacks.Callback):
    """Backs up the whole training state each epoch; restores it when training starts.

    What `keras.callbacks.BackupAndRestore` does, plus what a resumed β-VAE
    run also needs: the history so far, the state of early stopping, the
    LR-on-plateau scheduler and `BestModelCheckpoint` (including early
    stopping's best weights), and every source of randomness: the seed
    generators of `Sampling` and `Dropout` and those passed as
    `seed_generators` (`train_vae` passes its data pipeline's shuffling). The
    model's weights hold the optimizer state (with the learning rate), β and
    the capacity step counter, so the β schedule and learning rate continue
    where they were: an interrupted run resumed from its backup, even in a new
    process, ends with the weights an uninterrupted run would have.

    Every file is written under a temporary name and renamed; `state.json`,
    renamed last, names the files of the latest complete backup, so a run
    killed at any moment (even mid-save) leaves a consistent backup. Leftovers
    of a killed run (temporary files, files of an older backup) are removed
    when the next run starts. An epoch whose losses are NaN/Inf is never
    backed up. When training ends normally the backup is marked finished: a
    resumed finished run trains no more epochs and returns the saved history.
    `discard_backup` removes a backup (and nothing else).

    Place it after the callbacks whose state it keeps (`train_vae` does).
    A copy with `writes = False` restores the backup but never writes one:
    `fit_distributed` gives one to every worker but the chief, which all
    read the chief's `backup_dir` (it must be on a shared file system).

    Args:
        backup_dir: folder for the backup (created if missing).
        history: the run's `keras.callbacks.History`, whose records are saved
            and put back (pass the same object in `fit`'s callbacks).
        callbacks: stateful callbacks to save and restore (EarlyStopping,
            ReduceLROnPlateau, BestModelCheckpoint; others are ignored).
        seed_generators: `keras.random.SeedGenerator`s outside the model
            whose state must continue too, e.g. the data pipeline's
            `shuffle_seeds` (see `betavae_tf.datasets.pipeline.array_dataset`).
    """

    STATE_FILE = STATE_FILE

    def __init__(self, backup_dir: str | os.PathLike, history: keras.callbacks.History | None = None,
                 callbacks=(), seed_generators=()):
        super().__init__()
        self.backup_dir = os.fspath(backup_dir)
        self.history = history
        self.stateful = [c for c in callbacks if c is not None and self._attributes(c)]
        self.seed_generators = list(seed_generators)
        self.resumed_from_epoch = None
        self.writes = True
        self._state = None  # the latest backup, as read or written by this run
        self._diverged = False

    @staticmethod
    def _attributes(callback) -> tuple:
        for kind, names in _CALLBACK_STATE:
            if isinstance(callback, kind):
                return names
        return tuple(getattr(callback, "state_attributes", ()))

    @property
    def state_path(self) -> str:
        return os.path.join(self.backup_dir, self.STATE_FILE)

    def read_state(self) -> dict | None:
        """The latest backup's `state.json` as a dict, or `None` if there is none.

        The state is checked (keys, types, file names inside `backup_dir`,
        one history entry per epoch), so a damaged or tampered state gives a
        one-line `ValueError` instead of a nonsense run, and can neither load
        nor delete files elsewhere.
        """
        return read_backup_state(self.backup_dir)

    def _generators(self) -> list:
        return keras_internals.seed_generators(self.model) + self.seed_generators

    def on_train_begin(self, logs=None):
        state = self._state = self.read_state()
        if state is None:
            if self.writes:
                _remove_leftovers(self.backup_dir, None)
            return
        epochs = (self.params or {}).get("epochs")
        if epochs is not None and state["epoch"] > epochs:
            raise ValueError(
                f"The training backup in {self.backup_dir!r} has {state['epoch']} epochs done "
                f"but this run asks for {epochs}; ask for at least {state['epoch']} epochs, "
                "or start over without the backup."
            )
        weights = os.path.join(self.backup_dir, state["weights"])
        try:
            self.model.load_weights(weights)
        except Exception as error:  # noqa: BLE001 - h5py/Keras raise many kinds
            raise ValueError(
                f"Cannot restore the training backup in {self.backup_dir!r} into this "
                f"model ({type(error).__name__}: {str(error).splitlines()[0][:200]}); it "
                "belongs to another model or is corrupt: delete the folder to start over."
            ) from None
        for callback, saved in zip(self.stateful, state["callbacks"]):
            for name, value in saved.items():
                if name in self._attributes(callback):
                    setattr(callback, name, value)
            if isinstance(callback, keras.callbacks.EarlyStopping) and state.get("best_weights"):
                callback.best_weights = self._best_weights(state["best_weights"])
        self._restore_seed_states(state.get("seed_states", []))
        if self.writes:  # restored: what the state does not name is an older backup's
            _remove_leftovers(self.backup_dir, state)
        if self.history is not None:
            self.history.history = {key: list(values) for key, values in state["history"].items()}
        epoch = self.params.get("epochs", state["epoch"]) if state["finished"] else state["epoch"]
        keras_internals.set_initial_epoch(self.model, epoch)  # Keras's BackupAndRestore hook
        self.resumed_from_epoch = state["epoch"]

    def _unusable(self, what: str) -> ValueError:
        return ValueError(
            f"The training backup {self.state_path!r} is unusable ({what}); delete the backup "
            "folder to start over."
        )

    def _best_weights(self, name: str) -> list:
        try:
            with np.load(os.path.join(self.backup_dir, name), allow_pickle=False) as arrays:
                return [arrays[f"w{i}"] for i in range(len(arrays.files))]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise self._unusable(f"its best weights {name!r} cannot be read: "
                                 f"{' '.join(str(error).split())[:120]}") from None

    def _restore_seed_states(self, seed_states: list) -> None:
        generators = self._generators()
        # betavae_tf 0.1 saved the model's generators only (its shuffles were not resumable)
        if len(seed_states) not in (len(generators), len(keras_internals.seed_generators(self.model))):
            raise self._unusable(f"it holds {len(seed_states)} random-generator states and this "
                                 f"run has {len(generators)} (was it made with other settings, "
                                 "e.g. dropout or the objective?)")
        for generator, value in zip(generators, seed_states):
            shape, dtype = tuple(generator.state.shape), np.dtype(generator.state.dtype)
            limits = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
            if len(value) != int(np.prod(shape)) or (
                    limits is not None and not all(limits.min <= v <= limits.max for v in value)):
                raise self._unusable(f"a seed state {value!r} does not fit a {shape} {dtype} "
                                     "random generator")
            generator.state.assign(np.asarray(value, dtype=dtype).reshape(shape))

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes:
            return
        if all(np.ndim(v) or math.isfinite(float(v)) for v in (logs or {}).values()):
            self._save(epoch + 1, finished=False)
        else:
            self._diverged = True

    def on_train_end(self, logs=None):
        # Also when this run trained no epoch: a run killed while writing the
        # final backup is marked finished by its resumption.
        state = self._state
        if self.writes and state is not None and not state["finished"] and not self._diverged:
            self._save(state["epoch"], finished=True)

    def _save(self, epoch: int, finished: bool) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        previous = self._state or {}
        weights = f"epoch-{epoch}{'-final' if finished else ''}.weights.h5"
        try:
            check_room_for(self.state_path, checkpoint_size_estimate(self.model))
        except OSError as error:
            raise OSError(
                f"Cannot back up the training state to {self.backup_dir!r} after epoch "
                f"{epoch} ({error.strerror}); the previous backup is intact. Free disk "
                "space or pass another backup_dir."
            ) from error
        self._write(weights, lambda path: self.model.save_weights(path))
        state = {
            "format": BACKUP_FORMAT,
            "epoch": epoch,
            "finished": finished,
            "weights": weights,
            "best_weights": None,
            "history": self._history_records(),
            "seed_states": [  # Sampling/Dropout noise and shuffling: not part of save_weights
                np.asarray(g.state.numpy()).tolist() for g in self._generators()
            ],
            "callbacks": [
                {name: _json_number(getattr(c, name, None)) for name in self._attributes(c)}
                for c in self.stateful
            ],
        }
        for callback in self.stateful:
            if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best_weights:
                # named by its epoch, so it is written again only when it changes
                state["best_weights"] = f"best-epoch-{callback.best_epoch}.npz"
                if state["best_weights"] != previous.get("best_weights"):
                    arrays = {f"w{i}": np.asarray(w) for i, w in enumerate(callback.best_weights)}
                    self._write(state["best_weights"], functools.partial(np.savez, **arrays))
        write_json(os.path.join(self.backup_dir, self.STATE_FILE), state, indent=None)
        self._state = state
        for name in (previous.get("weights"), previous.get("best_weights")):
            if name and name not in (state["weights"], state["best_weights"]):
                try:
                    os.remove(os.path.join(self.backup_dir, name))
                except FileNotFoundError:
                    pass

    def _history_records(self) -> dict:
        if self.history is None:
            return {}
        return {
            key: [_json_number(v) for v in values] for key, values in self.history.history.items()
        }

    def _write(self, name: str, write) -> None:
        write_atomically(os.path.join(self.backup_dir, name), write)


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def read_backup_state(backup_dir: str | os.PathLike) -> dict | None:
    """The `state.json` of the backup in `backup_dir`, checked, or `None` if there is none.

    Raises:
        ValueError: (one line) if the state is unreadable, damaged (a key
            missing or of the wrong type, a history that does not have one
            entry per epoch), or names files outside `backup_dir`.
    """
    backup_dir = os.fspath(backup_dir)
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.isfile(path):
        return None

    def damaged(what: str):
        return ValueError(
            f"The training backup {path!r} is unreadable ({what}); delete the backup folder "
            "to start over."
        )

    state = read_json_object(path, damaged)
    expected = {"epoch": int, "finished": bool, "weights": str, "history": dict, "callbacks": list}
    for key, kind in expected.items():
        if key not in state:
            raise damaged(f"no {key!r}")
        value = state[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise damaged(f"{key!r} is {value!r}, not a {kind.__name__}")
    if state["epoch"] < 0:
        raise damaged(f"'epoch' is {state['epoch']}")
    if not isinstance(state.get("best_weights"), (str, type(None))):
        raise damaged(f"'best_weights' is {state['best_weights']!r}")
    for key, values in state["history"].items():
        if not isinstance(values, list) or not all(_number_or_none(v) for v in values):
            raise damaged(f"history {key!r} is not a list of numbers")
        if len(values) != state["epoch"]:
            raise damaged(f"history {key!r} has {len(values)} entries for {state['epoch']} epochs")
    if not all(isinstance(c, dict) and all(_number_or_none(v) for v in c.values())
               for c in state["callbacks"]):
        raise damaged("'callbacks' is not a list of objects of numbers")
    seed_states = state.get("seed_states", [])
    if not isinstance(seed_states, list) or not all(
        isinstance(s, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in s)
        for s in seed_states
    ):
        raise damaged("'seed_states' is not a list of lists of integers")
    best = state.get("best_weights")
    for name in (state["weights"], best):
        if name is not None:
            check_inside(backup_dir, name, f"The backup file named in {path!r},")
    if not _BACKUP_FILE.fullmatch(state["weights"]) or not state["weights"].endswith(".weights.h5"):
        raise damaged(f"'weights' is {state['weights']!r}, not a backup's weights file")
    if best is not None and (not _BACKUP_FILE.fullmatch(best) or not best.endswith(".npz")):
        raise damaged(f"'best_weights' is {best!r}, not a backup's best-weights file")
    for name in (state["weights"], best):
        if name is not None and not os.path.isfile(os.path.join(backup_dir, name)):
            raise damaged(f"the file {name!r} it names is missing")
    return state


def _remove_leftovers(backup_dir: str, state: dict | None) -> None:
    """Removes what killed runs left in `backup_dir`: temporary files of dead
    processes, and backup files that the current `state` does not name. With
    no state, backup-named files are removed only from a folder that holds
    nothing else (a user's folder keeps its files)."""
    if not os.path.isdir(backup_dir):
        return
    remove_stale_partials(backup_dir)
    names = os.listdir(backup_dir)
    if state is None and any(not _BACKUP_FILE.fullmatch(n) and n != LOCK_FILE for n in names):
        return
    keep = {STATE_FILE} | ({state["weights"], state.get("best_weights")} if state else set())
    for name in names:
        if name not in keep and not name.startswith(".") and _BACKUP_FILE.fullmatch(name):
            try:
                os.remove(os.path.join(backup_dir, name))
            except (FileNotFoundError, IsADirectoryError, PermissionError):
                pass


def discard_backup(backup_dir: str | os.PathLike) -> bool:
    """Deletes the training backup in `backup_dir`, and nothing else.

    Only the files a `TrainingBackup` writes are removed, then the folder if
    that leaves it empty. A folder holding anything else is refused: it is
    not a backup (a user's folder, or the output folder itself).

    Returns:
        `True` if a backup was removed, `False` if there was none (no folder,
        or an empty one).

    Raises:
        ValueError: (one line, nothing deleted) if `backup_dir` is a file or
            holds files a backup does not have, or its state is damaged.
    """
    backup_dir = os.fspath(backup_dir)
    if not os.path.lexists(backup_dir):
        return False
    if not os.path.isdir(backup_dir) or os.path.islink(backup_dir):
        raise ValueError(
            f"The backup folder {backup_dir!r} is not a folder; pass a folder of its own "
            "for the training backup."
        )
    names = os.listdir(backup_dir)
    foreign = sorted(n for n in names if not _BACKUP_FILE.fullmatch(n) and n != LOCK_FILE)
    if foreign:
        raise ValueError(
            f"The backup folder {backup_dir!r} holds files that are not a betavae_tf "
            f"training backup ({', '.join(repr(n) for n in foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); nothing was deleted. Pass an empty "
            "or new folder of its own for the backup."
        )
    if os.path.isfile(os.path.join(backup_dir, STATE_FILE)):
        state = read_backup_state(backup_dir)  # a foreign state.json is refused here
        if state.get("format", BACKUP_FORMAT) != BACKUP_FORMAT:
            raise ValueError(
                f"{os.path.join(backup_dir, STATE_FILE)!r} is not a betavae_tf training backup "
                f"(format {state.get('format')!r}); nothing was deleted."
            )
    removed = False
    for name in names:
        if _BACKUP_FILE.fullmatch(name):
            try:
                os.remove(os.path.join(backup_dir, name))
                removed = True
            except FileNotFoundError:  # other workers may be removing it too
                pass
    try:
        os.rmdir(backup_dir)
    except OSError:  # not empty (a lock file, a file that appeared) or already gone
        pass
    return removed
