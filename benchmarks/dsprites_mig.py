"""Disentanglement benchmark: MIG of β-VAEs on generated dSprites.

Trains the same convolutional network at each β on `--n-samples` generated
dSprites images for `--epochs` epochs (Bernoulli likelihood), then computes
MIG (disentanglement_lib's definition: 10,000 points, 20 bins, all five
factors, mean representation) on freshly generated images. Prints one JSON
line per β with the MIG, per-factor gaps, the final losses, active units and
the wall-clock budget used. Usage:

    python benchmarks/dsprites_mig.py --betas 1 4 --n-samples 30000 --epochs 10 --learning-rate 1e-3
    python benchmarks/dsprites_mig.py --objective tcvae --betas 6 ...
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from betavae_tf import train_vae  # noqa: E402
from betavae_tf.datasets import DSprites  # noqa: E402
from betavae_tf.metrics import active_units, mean_representation, mig  # noqa: E402
from betavae_tf.presets import build_conv_beta_vae  # noqa: E402
from betavae_tf.sweep import EpochTimer  # noqa: E402


def run(beta, x_train, dataset, args) -> dict:
    keras.utils.set_random_seed(args.seed)
    model = build_conv_beta_vae(
        "dsprites", beta=beta, seed=args.seed, encoding_dim=args.encoding_dim,
        filters=tuple(args.filters), dropout_rate=0.0, objective=args.objective,
    )
    timer = EpochTimer()
    start = time.perf_counter()
    history, model = train_vae(
        model, x_train, None, batch_size=args.batch_size, epochs=args.epochs,
        learning_rate=args.learning_rate, save_path=None, lr_scheduler=None, patience=None,
        callbacks=[timer], verbose=0,
    )
    train_seconds = time.perf_counter() - start
    scores = mig(mean_representation(model), dataset, np.random.RandomState(args.seed + 1),
                 num_train=args.mig_points)
    _, x_eval = dataset.sample(2000, np.random.RandomState(args.seed + 2))
    units = active_units(model, x_eval)
    return {
        "beta": beta,
        "objective": args.objective,
        "mig": round(float(scores["discrete_mig"]), 4),
        "mig_per_factor": [round(float(v), 4) for v in scores.get("mig_per_factor", [])],
        "active_units": int(units["num_active_units"]),
        "reconstruction": round(history.history["reconstruction_loss"][-1], 2),
        "kl": round(history.history["kl_loss"][-1], 2),
        "epochs": len(history.history["loss"]),
        "n_samples": len(x_train),
        "seconds_per_epoch_median": round(float(np.median(timer.seconds)), 1),
        "train_seconds": round(train_seconds, 1),
        "encoding_dim": args.encoding_dim,
        "filters": list(args.filters),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--n-samples", type=int, default=40000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--encoding-dim", type=int, default=10)
    parser.add_argument("--filters", type=int, nargs="+", default=[32, 32, 64])
    parser.add_argument("--mig-points", type=int, default=10000)
    parser.add_argument("--objective", choices=("beta", "tcvae", "capacity"), default="beta")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = DSprites()
    _, x_train = dataset.sample(args.n_samples, np.random.RandomState(args.seed))
    for beta in args.betas:
        print(json.dumps(run(beta, x_train, dataset, args)), flush=True)


if __name__ == "__main__":
    main()
