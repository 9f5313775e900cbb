"""MNIST quality benchmark: the conv β-VAE against a published β-VAE.

Trains the `mnist` conv preset (Bernoulli likelihood, pixels in [0, 1]) on the
60k MNIST training images for each β and reports per-image test figures on the
standard 10k test set, next to the reference run (30 epochs):

    β = 0.1: BCE 64.45, KL 52.76 · β = 2: BCE 92.75, KL 13.13 · β = 4: BCE 109.90, KL 8.24

Prints one JSON line per β. Usage:

    python benchmarks/mnist_quality.py --data-dir /path/to/mnist --betas 0.1 2 4 --epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from betavae_tf import train_vae  # noqa: E402
from betavae_tf.datasets import load_mnist  # noqa: E402
from betavae_tf.presets import build_conv_beta_vae  # noqa: E402
from betavae_tf.sweep import EpochTimer  # noqa: E402

REFERENCE = {0.1: (64.45, 52.76), 2.0: (92.75, 13.13), 4.0: (109.90, 8.24)}


def run(beta: float, x_train, x_test, epochs: int, batch_size: int, seed: int) -> dict:
    keras.utils.set_random_seed(seed)
    model = build_conv_beta_vae("mnist", beta=beta, seed=seed)
    timer = EpochTimer()
    history, model = train_vae(
        model, x_train, None, batch_size=batch_size, epochs=epochs, save_path=None,
        lr_scheduler=None, patience=None, callbacks=[timer], verbose=0,
    )
    test = model.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)
    result = {
        "beta": beta,
        "epochs": len(history.history["loss"]),
        "batch_size": batch_size,
        "train_bce": round(history.history["reconstruction_loss"][-1], 3),
        "train_kl": round(history.history["kl_loss"][-1], 3),
        "test_bce": round(float(test["reconstruction_loss"]), 3),
        "test_kl": round(float(test["kl_loss"]), 3),
        "test_loss": round(float(test["reconstruction_loss"] + beta * test["kl_loss"]), 3),
        "seconds_per_epoch_median": round(float(np.median(timer.seconds)), 2),
        "seconds_first_epoch": round(timer.seconds[0], 2),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    if beta in REFERENCE:
        bce, kl = REFERENCE[beta]
        result["reference_test_loss"] = round(bce + beta * kl, 3)
        result["beats_reference"] = result["test_loss"] < result["reference_test_loss"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: $BETAVAE_DATA_DIR)")
    parser.add_argument("--betas", type=float, nargs="+", default=[0.1, 2.0, 4.0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    (x_train, _), (x_test, _) = load_mnist(args.data_dir)
    for beta in args.betas:
        print(json.dumps(run(beta, x_train, x_test, args.epochs, args.batch_size, args.seed)), flush=True)


if __name__ == "__main__":
    main()
