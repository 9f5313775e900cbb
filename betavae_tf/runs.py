"""A training run in an output folder: what `betavae-tf train` does, for Python too.

`train_run` loads a data source, builds the model, trains it with
`train_vae` (best checkpoint, a backup to resume from, early stopping), and
writes the loss plot and `checkpoints/train_summary.json` — under a lock, so
one run owns its folder. The settings come in three small dataclasses whose
defaults are the command line's:

>>> settings = ModelSettings(objective="capacity", objective_arguments={"gamma": 10.0})
>>> settings.objective, ScheduleSettings().anneal_epochs
('capacity', 10)

Layout of `output_dir`: `vae_loss_plot.png` and `checkpoints/` with
`best_vae.h5` (or `.keras`), `train_summary.json`, `standardizer.npz` for
vector data, and `backup/` (the `TrainingBackup`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from betavae_tf.atomic import write_atomically, write_json
from betavae_tf.backup import discard_backup, read_backup_state
from betavae_tf.datasets.sources import (
    DATA_SOURCES,
    PreparedData,
    flatten,
    load_data_source,
    parse_source,
)
from betavae_tf.interrupts import TrainingInterrupted
from betavae_tf.models import BetaVAE
from betavae_tf.objectives import get_objective, objective_arguments
from betavae_tf.plots import plot_vae_history
from betavae_tf.presets import build_conv_beta_vae
from betavae_tf.run_lock import folder_lock, remove_stale_partials
from betavae_tf.schedules import CyclicalAnnealing, KLAnnealing, SigmoidAnnealing
from betavae_tf.training import TrainingDivergedError, best_epoch, train_vae, warmup_epochs
from betavae_tf.validation import check_choice, ensure_writable_folder, read_json_object

MODEL_KINDS = ("dense", "conv")
SCHEDULES = {"linear": KLAnnealing, "cyclical": CyclicalAnnealing, "sigmoid": SigmoidAnnealing}
MODEL_FORMATS = ("h5", "keras")


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """Which data, and how it is split (see `load_data_source`)."""

    data: str = "digits"
    val_fraction: float = 0.2
    standardize: bool = True
    n_samples: int = 20000
    image_size: int = 64
    seed: int = 0

    def load(self, batch_size: int = 64) -> PreparedData:
        return load_data_source(
            self.data, val_fraction=self.val_fraction, seed=self.seed,
            standardize=self.standardize, n_samples=self.n_samples,
            image_size=self.image_size, batch_size=batch_size,
        )


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """Which model: the dense network or the conv preset of the data, and its objective.

    Attributes:
        model: `"dense"` (the original Keras β-VAE's MLP) or `"conv"`.
        preset: conv preset; `None` takes the one that suits the data.
        likelihood: `None` takes `"mse"` for vectors, `"bernoulli"` for images.
        encoding_dim, dropout_rate: `None` takes 16 and 0.2 (dense) or the preset's.
        objective: a name in `betavae_tf.objectives.OBJECTIVES`.
        objective_arguments: that objective's arguments, e.g. `{"gamma": 10.0}`.
    """

    model: str = "dense"
    preset: str | None = None
    likelihood: str | None = None
    encoding_dim: int | None = None
    dropout_rate: float | None = None
    objective: str = "beta"
    objective_arguments: dict = dataclasses.field(default_factory=dict)

    def build(self, data: PreparedData, beta: float, seed: int | None,
              default_preset: str | None = None) -> tuple[BetaVAE, PreparedData]:
        """The model, and the data as that model takes it (flattened for dense).

        `default_preset` is the conv preset used when `preset` is `None`
        (`train_run` passes the data source's).
        """
        check_choice("model", self.model, MODEL_KINDS)
        objective = get_objective(self.objective)(**self._objective_arguments())
        if self.model == "dense":
            data = flatten(data)
            likelihood = self.likelihood or ("bernoulli" if data.image_shape else "mse")
            model = BetaVAE(
                input_dim=data.feature_shape[0], encoding_dim=self.encoding_dim or 16, beta=beta,
                dropout_rate=0.2 if self.dropout_rate is None else self.dropout_rate,
                likelihood=likelihood, seed=seed, objective=objective,
            )
            return model, data
        if data.image_shape is None:
            raise ValueError(
                "model=conv needs image data (mnist, dsprites, shapes3d, images:DIR, ...); "
                "use model=dense for vectors."
            )
        overrides = {"input_shape": tuple(data.feature_shape), "objective": objective}
        if self.encoding_dim is not None:
            overrides["encoding_dim"] = self.encoding_dim
        if self.dropout_rate is not None:
            overrides["dropout_rate"] = self.dropout_rate
        preset = self.preset or default_preset or "mnist"
        model = build_conv_beta_vae(preset, beta=beta, likelihood=self.likelihood, seed=seed, **overrides)
        return model, data

    def _objective_arguments(self) -> dict:
        known = objective_arguments(self.objective)
        unknown = sorted(set(self.objective_arguments) - set(known))
        if unknown:
            raise ValueError(
                f"The {self.objective!r} objective takes {sorted(known) or 'no arguments'}, not "
                f"{unknown}."
            )
        return dict(self.objective_arguments)


@dataclasses.dataclass(frozen=True)
class ScheduleSettings:
    """The β schedule: `anneal` from `start_beta` to the run's β over `anneal_epochs`."""

    anneal: str = "linear"
    start_beta: float = 0.0
    anneal_epochs: int = 10
    cycles: int = 4

    def make(self, target_beta: float):
        """The schedule callback, or `None` for `anneal_epochs=0`."""
        kind = check_choice("anneal", self.anneal, SCHEDULES)
        if self.anneal_epochs == 0:
            return None
        if kind is CyclicalAnnealing:
            return kind(self.start_beta, target_beta, cycle_length=self.anneal_epochs,
                        n_cycles=self.cycles)
        if kind is SigmoidAnnealing:
            return kind(self.start_beta, target_beta, duration=self.anneal_epochs)
        return kind(self.start_beta, target_beta, self.anneal_epochs)

    def first_beta(self, target_beta: float) -> float:
        return self.start_beta if self.anneal_epochs > 0 else target_beta


@dataclasses.dataclass
class RunResult:
    """What `train_run` did.

    Attributes:
        model: the trained model (best weights), or `None` if interrupted.
        history: the Keras `History` (epochs before a divergence included).
        summary: the dict written to `train_summary.json`.
        diverged: the `TrainingDivergedError`, or `None`.
    """

    model: BetaVAE | None
    history: Any
    summary: dict
    diverged: TrainingDivergedError | None = None


def run_paths(output_dir: str, backup_dir: str | None = None, model_format: str = "h5") -> dict:
    """The files and folders of a run in `output_dir` (absolute paths)."""
    output_dir = os.path.abspath(output_dir)
    checkpoints = os.path.join(output_dir, "checkpoints")
    return {
        "output_dir": output_dir,
        "checkpoints": checkpoints,
        "model": os.path.join(checkpoints, f"best_vae.{model_format}"),
        "plot": os.path.join(output_dir, "vae_loss_plot.png"),
        "summary": os.path.join(checkpoints, "train_summary.json"),
        "standardizer": os.path.join(checkpoints, "standardizer.npz"),
        "backup": os.path.abspath(backup_dir or os.path.join(checkpoints, "backup")),
    }


def train_run(
    output_dir: str | os.PathLike = ".",
    data: DataSettings = DataSettings(),
    model: ModelSettings = ModelSettings(),
    schedule: ScheduleSettings = ScheduleSettings(),
    beta: float = 1.0,
    epochs: int = 100,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int | None = 5,
    clipnorm: float | None = None,
    model_format: str = "h5",
    resume: bool = False,
    backup_dir: str | os.PathLike | None = None,
    verbose="auto",
    log: Callable[[str], None] = print,
    **speed,
) -> RunResult:
    """Trains a model in `output_dir` and writes its checkpoint, plot and summary.

    Args:
        output_dir: the run's folder (created if missing), locked while it runs.
        data, model, schedule: the settings (see the dataclasses).
        beta: the target β (the objective's weight of the KL / TC).
        epochs, batch_size, learning_rate, patience, clipnorm, verbose: as in
            `train_vae`.
        model_format: `"h5"` or `"keras"`, the checkpoint's format.
        resume: continue the backed-up run in `backup_dir`; without it an old
            backup there is discarded (only a betavae_tf backup: any other
            folder is refused).
        backup_dir: defaults to `output_dir/checkpoints/backup`.
        log: where the one-line messages go. Defaults to `print`.
        **speed: `train_vae`'s speed and determinism arguments
            (`jit_compile`, `steps_per_execution`, `endless_loop`,
            `fused_adam`, `compiled_epoch`, `deterministic`, `strategy`).

    Returns:
        A `RunResult`.

    Raises:
        ValueError, OSError: bad settings or folders (before training).
        FolderInUseError: another run holds the folder.
        TrainingInterrupted: SIGINT/SIGTERM under `interrupts.interruptible`;
            the backup in `backup_dir` is intact.
    """
    check_choice("model_format", model_format, MODEL_FORMATS)
    paths = run_paths(os.fspath(output_dir), backup_dir and os.fspath(backup_dir), model_format)
    real = {key: os.path.realpath(paths[key]) for key in ("output_dir", "checkpoints", "backup")}
    if real["backup"] in (real["output_dir"], real["checkpoints"]):
        raise ValueError(
            f"The backup folder {paths['backup']!r} is the output folder itself; pass a folder "
            "of its own for the backup (default OUTPUT_DIR/checkpoints/backup)."
        )
    for folder, argument in (("output_dir", "output_dir"), ("checkpoints", "output_dir"),
                             ("backup", "backup_dir" if backup_dir else "output_dir")):
        ensure_writable_folder(paths[folder], "folder", f"pass {argument} naming a writable folder")
    # One run per output folder and per backup, both held before anything is
    # read or removed there (the OS drops the locks if the process dies).
    with folder_lock(paths["checkpoints"], "output folder"), \
            folder_lock(paths["backup"], "backup folder"):
        for folder in ("output_dir", "checkpoints"):  # what killed runs left while saving
            remove_stale_partials(paths[folder])
        return _train_locked(paths, data, model, schedule, beta, epochs, batch_size,
                             learning_rate, patience, clipnorm, model_format, resume, verbose,
                             log, speed)


def _train_locked(paths, data, model, schedule, beta, epochs, batch_size, learning_rate, patience,
                  clipnorm, model_format, resume, verbose, log, speed) -> RunResult:
    import keras

    keras.utils.set_random_seed(data.seed)
    prepared = data.load(batch_size)
    preset = DATA_SOURCES[parse_source(data.data)[0]].preset
    network, prepared = model.build(prepared, schedule.first_beta(beta), data.seed, preset)
    if isinstance(prepared.train, np.ndarray) and batch_size > len(prepared.train):
        raise ValueError(
            f"batch_size={batch_size} is larger than the {len(prepared.train)} training "
            f"examples; pass batch_size <= {len(prepared.train)}."
        )
    if not resume:  # a fresh run; resume keeps it
        if discard_backup(paths["backup"]):  # refuses a folder that is not a backup
            log(f"Discarded the old backup in {paths['backup']} (resume to continue it instead).")
    elif read_backup_state(paths["backup"]) is None:
        discard_backup(paths["backup"])  # a folder that holds no backup must be one of ours
        log(f"No backup in {paths['backup']}; starting a new run.")
    scheduler = schedule.make(beta)
    size = (f"{len(prepared.train)} train / {len(prepared.validation)} validation examples"
            if isinstance(prepared.train, np.ndarray) else "streamed images")
    annealing = f" ({schedule.anneal} schedule, {schedule.anneal_epochs} epochs)" if scheduler else ""
    log(f"Training a {model.model} β-VAE ({network.likelihood.name} likelihood, latent "
        f"{network.encoding_dim}, objective {network.objective.name}) on {data.data}: {size} of "
        f"shape {tuple(prepared.feature_shape)}, β → {beta}{annealing}")
    warmup = warmup_epochs(scheduler, epochs)
    if getattr(scheduler, "n_epochs", 0) >= epochs:
        log(f"Note: β is still warming up when the {epochs} epochs end (the schedule needs "
            f"{scheduler.n_epochs}); the best model is chosen from the last epoch only.")
    diverged = None
    try:
        history, network = train_vae(
            network, prepared.train, prepared.validation, batch_size=batch_size, epochs=epochs,
            learning_rate=learning_rate, save_path=paths["model"], kl_scheduler=scheduler,
            patience=patience, verbose=verbose, clipnorm=clipnorm, backup_dir=paths["backup"],
            seed=None, **speed,
        )
    except TrainingDivergedError as error:
        diverged, history = error, error.history
    plot_vae_history(history, paths["plot"])
    files = {"plot": paths["plot"], "summary": paths["summary"]}
    if os.path.exists(paths["model"]):
        files["model"] = paths["model"]
    if prepared.standardizer is not None:
        files["standardizer"] = paths["standardizer"]
        scaler = prepared.standardizer
        write_atomically(paths["standardizer"],
                         lambda path: np.savez(path, mean=scaler.mean, std=scaler.std))
    summary = _summary(history, warmup, data, model, schedule, beta, epochs, prepared, files,
                       diverged, settings=dict(batch_size=batch_size, learning_rate=learning_rate,
                                               patience=patience, clipnorm=clipnorm,
                                               model_format=model_format, **_recordable(speed)))
    write_json(paths["summary"], summary)
    return RunResult(network, history, summary, diverged)


def _recordable(speed: dict) -> dict:
    """The speed settings as JSON values (a strategy by its CLI name, as 0.1 recorded it)."""
    names = {"MirroredStrategy": "mirrored", "MultiWorkerMirroredStrategy": "multi-worker"}
    recorded = dict(speed)
    strategy = recorded.get("strategy")
    if strategy is None:
        recorded["strategy"] = "default"
    elif not isinstance(strategy, str):
        recorded["strategy"] = names.get(type(strategy).__name__, type(strategy).__name__)
    return {key: value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
            for key, value in recorded.items()}


def _summary(history, warmup, data, model, schedule, beta, epochs, prepared, files, diverged,
             settings) -> dict:
    logs = history.history
    try:
        best = best_epoch(history, "val_loss", warmup)
        best_logs = {key[4:]: float(logs[key][best]) for key in logs if key.startswith("val_")}
    except ValueError:  # every watched epoch diverged
        best, best_logs = None, {}
    config = {  # flat, as the picture commands read it (and 0.1 wrote it)
        **dataclasses.asdict(data),
        **{k: v for k, v in dataclasses.asdict(model).items() if k != "objective_arguments"},
        **model.objective_arguments,
        **dataclasses.asdict(schedule),
        "beta": beta, "epochs": epochs, **settings,
    }
    return {
        "config": config,
        "image_shape": prepared.image_shape,
        "epochs_run": len(logs.get("loss", [])),
        "best_epoch": None if best is None else best + 1,
        "best_validation": best_logs,
        "files": files,
        "diverged": str(diverged) if diverged else None,
    }


def recorded_data_settings(model_path: str | os.PathLike) -> dict:
    """The data settings `train_run` recorded beside a model (checked), or `{}`.

    Raises:
        ValueError: (one line) if `train_summary.json` is there but damaged.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "train_summary.json")
    if not os.path.exists(path):
        return {}

    def damaged(what: str) -> ValueError:
        return ValueError(
            f"The training summary {path!r} is damaged ({what}); delete it and pass the "
            "data settings (--data ...) yourself."
        )

    config = read_json_object(path, damaged).get("config")
    if not isinstance(config, dict):
        raise damaged("no 'config' object")
    recorded = {key: config[key] for key in _DATA_CHECKS if config.get(key) is not None}
    for key, value in recorded.items():
        if not _DATA_CHECKS[key](value):
            raise damaged(f"{key} is {value!r}")
    return recorded


def _is_int(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_source(value) -> bool:
    try:
        parse_source(value)
    except ValueError:
        return False
    return isinstance(value, str)


_DATA_CHECKS = {
    "data": _is_source,
    "val_fraction": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 0.9,
    "standardize": lambda v: isinstance(v, bool),
    "n_samples": lambda v: _is_int(v, 4),
    "image_size": lambda v: _is_int(v, 8),
    "seed": lambda v: _is_int(v, 0) and v < 2**32,
}

__all__ = [
    "DATA_SOURCES", "DataSettings", "ModelSettings", "RunResult", "ScheduleSettings",
    "recorded_data_settings", "run_paths", "train_run", "TrainingInterrupted",
]
