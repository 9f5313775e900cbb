"""β sweeps: train the same model at several β and compare them.

For each β the sweep trains a fresh model with `train_vae`, evaluates the
per-example reconstruction and KL on the training and the test data, and
writes a table (CSV and Markdown), a figure of both terms against β, the loss
history of every run and the latent traversals of all runs side by side.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from betavae_tf.atomic import write_text
from betavae_tf.models import BetaVAE
from betavae_tf.plots.history import plot_vae_history
from betavae_tf.plots.sweep import plot_sweep, plot_sweep_traversals
from betavae_tf.training import train_vae
from betavae_tf.validation import check_float, check_inside, validate_features

COLUMNS = (
    "beta",
    "train_reconstruction",
    "train_kl",
    "train_total",
    "test_reconstruction",
    "test_kl",
    "test_total",
    "epochs",
    "seconds_per_epoch",
)


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of every epoch in `seconds`."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _evaluate(model: BetaVAE, x, batch_size: int) -> dict:
    logs = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    return {
        "reconstruction": float(logs["reconstruction_loss"]),
        "kl": float(logs["kl_loss"]),
        "total": float(logs["total_loss"]),
    }


def beta_sweep(
    build_model: Callable[[float], BetaVAE],
    betas: Sequence[float],
    x_train: np.ndarray,
    x_test: np.ndarray,
    output_dir: str | os.PathLike,
    epochs: int = 30,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    traversal_values: Sequence[float] = tuple(np.linspace(-3, 3, 7)),
    traversal_dims: int = 8,
    kl_scheduler_factory: Callable[[float], keras.callbacks.Callback] | None = None,
    image_shape: Sequence[int] | None = None,
    postprocess: Callable | None = None,
    verbose=0,
    log: Callable[[str], None] | None = None,
    **train_kwargs,
) -> list[dict]:
    """Trains `build_model(beta)` for every β and writes the comparison.

    Training watches the training loss only (no early stopping by default,
    `patience=None`), so the test data never influences a run. Every run
    starts from the same seed.

    Args:
        build_model: function `beta -> BetaVAE` (a fresh, uncompiled model).
        betas: the β values, each >= 0.
        x_train: array `(n, *feature_shape)`.
        x_test: array `(m, *feature_shape)`, only evaluated.
        output_dir: folder for `beta_sweep.csv`, `beta_sweep.md`,
            `beta_sweep.png`, `beta_sweep_traversals.png` and one
            `beta_<β>/` folder per run (best model and loss plot).
        epochs, batch_size, learning_rate: as in `train_vae`.
        seed: seed of every run.
        traversal_values: latent values of the traversal columns.
        traversal_dims: rows (most informative latent dimensions) per run.
        kl_scheduler_factory: optional `beta -> callback` giving each run its
            own β schedule (e.g. `lambda b: KLAnnealing(0, b, 10)`).
        image_shape: how to show flat examples as images, e.g. `(28, 28, 1)`.
        postprocess: optional function applied to decoded arrays before
            display (e.g. undoing a standardisation).
        verbose: Keras verbosity of each run.
        log: optional function called with one line as each run starts
            (e.g. `print`: "β = 4 (run 2 of 5): training ...").
        **train_kwargs: more `train_vae` arguments (e.g. `patience`,
            `kl_scheduler`).

    Returns:
        One dict per β with the keys of `COLUMNS`.
    """
    betas = [check_float("beta", beta) for beta in betas]
    if not betas:
        raise ValueError("betas is empty; pass at least one beta, e.g. betas=[1, 4].")
    folders = [run_folder(beta) for beta in betas]
    shared = sorted({folder for folder in folders if folders.count(folder) > 1})
    if shared:
        raise ValueError(
            f"betas {betas} would write to the same run folder(s) {shared} and overwrite "
            "each other; pass distinct betas (they are named with 6 significant digits)."
        )
    x_train = validate_features(x_train, "x_train", min_examples=2)
    x_test = validate_features(x_test, "x_test", x_train.shape[1:], min_examples=1)
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    train_kwargs.setdefault("patience", None)
    extra_callbacks = list(train_kwargs.pop("callbacks", ()))

    rows, models = [], []
    for index, beta in enumerate(betas, 1):
        if log is not None:
            log(f"β = {beta:g} (run {index} of {len(betas)}): training {epochs} epochs ...")
        keras.utils.set_random_seed(seed)
        run_dir = check_inside(output_dir, run_folder(beta), "run folder")
        timer = EpochTimer()
        model = build_model(beta)
        model.beta = beta
        history, model = train_vae(
            model, x_train, None, batch_size=batch_size, epochs=epochs,
            learning_rate=learning_rate, save_path=os.path.join(run_dir, "best_vae.h5"),
            kl_scheduler=kl_scheduler_factory(beta) if kl_scheduler_factory else None,
            callbacks=[timer, *extra_callbacks], verbose=verbose, **train_kwargs,
        )
        plot_vae_history(history, os.path.join(run_dir, "vae_loss_plot.png"))
        train, test = _evaluate(model, x_train, batch_size), _evaluate(model, x_test, batch_size)
        rows.append({
            "beta": beta,
            **{f"train_{k}": v for k, v in train.items()},
            **{f"test_{k}": v for k, v in test.items()},
            "epochs": len(history.history["loss"]),
            "seconds_per_epoch": float(np.median(timer.seconds)),
        })
        models.append(model)

    write_table(rows, output_dir)
    plot_sweep(rows, os.path.join(output_dir, "beta_sweep.png"))
    plot_sweep_traversals(
        models, betas, x_test, os.path.join(output_dir, "beta_sweep_traversals.png"),
        values=traversal_values, n_dims=traversal_dims, image_shape=image_shape,
        postprocess=postprocess,
    )
    return rows


def run_folder(beta: float) -> str:
    """The name of a run's folder inside the sweep's output folder, e.g. `beta_4`."""
    return f"beta_{beta:g}"


def write_table(rows: list[dict], output_dir: str) -> tuple[str, str]:
    """Writes `beta_sweep.csv` and `beta_sweep.md`; returns their paths."""
    csv_path = os.path.join(output_dir, "beta_sweep.csv")
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_text(csv_path, table.getvalue())
    markdown_path = os.path.join(output_dir, "beta_sweep.md")
    lines = [
        "| β | train recon. | train KL | test recon. | test KL | test recon. + β·KL | epochs | s/epoch |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['beta']:g} | {row['train_reconstruction']:.2f} | {row['train_kl']:.2f} | "
            f"{row['test_reconstruction']:.2f} | {row['test_kl']:.2f} | {row['test_total']:.2f} | "
            f"{row['epochs']} | {row['seconds_per_epoch']:.1f} |"
        )
    write_text(markdown_path, "\n".join(lines) + "\n")
    return csv_path, markdown_path
