"""One run of a study, in its own process: train, save, evaluate, write a record.

`python -m betavae_tf.study.run RUN_DIR` reads `RUN_DIR/run.json` (the
`RunSpec` and the study's settings, written by the runner), and writes
`RUN_DIR/model.keras`, `RUN_DIR/udr.npz` (its latent means and KL per
dimension on the study's shared UDR inputs) and, last, `RUN_DIR/record.json`
(`status` `"finished"` with every metric, or `"failed"` with the error).
Progress goes to stdout as JSON lines, which the runner reads. The run stops
on its own if the runner dies (it watches its parent process).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback

from betavae_tf.atomic import write_atomically, write_json, write_text

RECORD = "record.json"
SPEC = "run.json"
MODEL = "model.keras"
UDR = "udr.npz"
UDR_SEED = 12345  # the same inputs for every run of a study


def _emit(**event) -> None:
    print(json.dumps(event), flush=True)


def read_record(run_dir: str) -> dict | None:
    """The run's `record.json`, or `None` if it has none (or an unreadable one)."""
    try:
        with open(os.path.join(run_dir, RECORD), encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "status" in record else None


def build_model(study: dict, run: dict, data):
    """The run's model for `data` (a `PreparedData` of the study's dataset)."""
    import numpy as np

    from betavae_tf.models import BetaVAE
    from betavae_tf.networks import build_mlp_encoder, build_spatial_broadcast_decoder
    from betavae_tf.objectives import get_objective
    from betavae_tf.presets import build_conv_beta_vae

    objective = get_objective(run["objective"])(**run["arguments"])
    shape, dim = tuple(data.feature_shape), study["encoding_dim"]
    network = study["network"]
    if network == "auto":
        network = "sbd" if data.image_shape is not None else "dense"
    common = dict(beta=run["beta"], seed=run["seed"], objective=objective)
    if network == "dense":
        size = int(np.prod(shape))
        likelihood = "bernoulli" if data.image_shape is not None else "mse"
        return BetaVAE(input_dim=size, encoding_dim=dim, likelihood=likelihood, dropout_rate=0.0,
                       **common), True
    if data.image_shape is None:
        raise ValueError(f"network {network!r} needs image data; use network='dense' for vectors")
    if network == "sbd":
        encoder = build_mlp_encoder(shape, dim, units=256)
        decoder = build_spatial_broadcast_decoder(shape, dim)
        return BetaVAE(encoder=encoder, decoder=decoder, likelihood="bernoulli", **common), False
    return build_conv_beta_vae("dsprites", input_shape=shape, encoding_dim=dim, **common), False


def train_and_evaluate(run_dir: str) -> dict:
    """Does the run in `run_dir`; returns its record (also written there)."""
    with open(os.path.join(run_dir, SPEC), encoding="utf-8") as handle:
        spec = json.load(handle)
    study, run = spec["study"], spec["run"]
    threads = spec.get("threads")

    import keras
    import numpy as np
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from betavae_tf import metrics
    from betavae_tf.datasets.sources import flatten, ground_truth_dataset
    from betavae_tf.evaluation import evaluate_disentanglement, flat_scores
    from betavae_tf.runs import DataSettings
    from betavae_tf.saving import save_vae
    from betavae_tf.training import train_vae

    keras.utils.set_random_seed(run["seed"])
    data = DataSettings(study["dataset"], val_fraction=0.1, n_samples=study["n_samples"],
                        seed=run["seed"]).load(study["batch_size"])
    model, flat = build_model(study, run, data)
    if flat:
        data = flatten(data)
    steps_per_epoch = math.ceil(len(data.train) / study["batch_size"])
    epochs = max(1, math.ceil(study["steps"] / steps_per_epoch))
    parent = os.getppid()

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if os.getppid() != parent:  # the runner died: stop, the run stays unfinished
                raise SystemExit(3)
            _emit(event="progress", step=(epoch + 1) * steps_per_epoch, steps=epochs * steps_per_epoch,
                  loss=float((logs or {}).get("loss", math.nan)))

    start = time.perf_counter()
    history, model = train_vae(
        model, data.train, None, batch_size=study["batch_size"], epochs=epochs,
        learning_rate=study["learning_rate"], save_path=None, lr_scheduler=None, patience=None,
        callbacks=[Progress()], verbose=0, seed=run["seed"],
    )
    trained = time.perf_counter() - start
    save_vae(model, os.path.join(run_dir, MODEL))
    _emit(event="evaluating")
    start = time.perf_counter()
    dataset = ground_truth_dataset(study["dataset"])
    x_test = data.test[:2000]
    logs = model.evaluate(x_test, batch_size=256, verbose=0, return_dict=True)
    scores = flat_scores(evaluate_disentanglement(
        model, dataset, random_state=run["seed"], scale=study["eval_scale"]))
    _, x_udr = dataset.sample(study["udr_points"], np.random.RandomState(UDR_SEED))
    if flat:
        x_udr = x_udr.reshape(len(x_udr), -1)
    z_mean = np.concatenate([keras.ops.convert_to_numpy(model.encode(x_udr[i:i + 256])[0])
                             for i in range(0, len(x_udr), 256)])
    kl = metrics.kl_per_dimension(model, x_udr)
    write_atomically(os.path.join(run_dir, UDR),
                     lambda path: np.savez(path, z_mean=z_mean, kl=np.asarray(kl)))
    record = {
        "status": "finished",
        "name": os.path.basename(run_dir),
        **run,
        "steps": epochs * steps_per_epoch,
        "epochs": epochs,
        "train_seconds": round(trained, 2),
        "eval_seconds": round(time.perf_counter() - start, 2),
        "final_loss": float(history.history["loss"][-1]),
        "reconstruction": float(logs["reconstruction_loss"]),
        "kl": float(logs["kl_loss"]),
        "active_units": metrics.active_units(model, x_test)["num_active_units"],
        **scores,
        "model": MODEL,
        "error": None,
    }
    write_json(os.path.join(run_dir, RECORD), record)
    return record


def main(run_dir: str) -> int:
    from betavae_tf.run_lock import folder_lock

    try:
        with folder_lock(run_dir, "run folder"):  # the runner waits for it before redoing a run
            train_and_evaluate(run_dir)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - every failure is recorded, the study goes on
        message = " ".join(f"{type(error).__name__}: {error}".split())[:500]
        write_text(os.path.join(run_dir, "error.log"), traceback.format_exc())
        try:
            with open(os.path.join(run_dir, SPEC), encoding="utf-8") as handle:
                run = json.load(handle)["run"]
        except (OSError, ValueError, KeyError):
            run = {}
        write_json(os.path.join(run_dir, RECORD), {
            "status": "failed", "name": os.path.basename(run_dir), **run, "error": message,
        })
        _emit(event="failed", error=message)
        return 1
    _emit(event="finished")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
