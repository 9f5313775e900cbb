"""Disentanglement benchmark: MIG of β-VAEs on generated dSprites.

Trains the same network at each β on `--n-samples` generated dSprites images
for `--epochs` epochs (Bernoulli likelihood, Adam), then computes MIG
(disentanglement_lib's definition: 10,000 points, 20 bins, all five factors,
mean representation) on freshly generated images. Prints one JSON line per β
with the configuration, the MIG, per-factor gaps (order: shape, scale,
orientation, posX, posY), the final losses, active units and the wall-clock
budget used. With `--monitor-every K` a cheaper MIG (`--monitor-points`
points) is printed to stderr every K epochs to watch it rise.

Networks (`--arch`, all with a 10-d latent by default):

* `preset` (default): the `dsprites` preset (BatchNorm, LeakyReLU) with
  encoder filters `--filters` and no dropout.
* `dlib`: disentanglement_lib's / Locatello et al.'s conv network, built from
  the `dsprites` preset without BatchNorm/Dropout: 4 × Conv 32-32-64-64 k4 s2
  ReLU → Dense 256 → (μ, log σ²); mirrored transposed-conv decoder.
* `burgess`: Burgess et al. (2018): 4 × Conv 32 k4 s2 ReLU → Dense 256 →
  Dense 256 → (μ, log σ²); decoder Dense 256 → Dense 256 → 4×4×32 → 4 ×
  ConvTranspose 32 k4 s2 (the last one to 1 channel, linear).
* `mlp`: Chen et al.'s (2018) dSprites MLP with widths `--mlp-units`
  (default 1200): encoder 4096-units-units-(μ, log σ²) ReLU; decoder
  10-units-units-units-4096 tanh.
* `sbd`: the `mlp` encoder (4096-units-units, ReLU) with a spatial broadcast
  decoder (Watters et al., 2019): z is tiled over the 64×64 canvas, x/y
  coordinate channels in [-1, 1] are appended, and per-pixel (1×1 conv) ReLU
  layers of `--sbd-units` channels (2 hidden) give one logit per pixel.

`--objective tcvae` (β-TCVAE; `--tcvae-estimator mws|mss`, `--alpha`,
`--gamma-dw`) and `--objective capacity` (`--gamma`, `--capacity-max`,
`--capacity-steps`) pass through to `BetaVAE`. Use `--threads 1` (with
`taskset`) for a one-core budget.

Usage:

    python benchmarks/dsprites_mig.py --betas 1 4 --n-samples 30000 --epochs 10 --learning-rate 1e-3
    python benchmarks/dsprites_mig.py --arch sbd --mlp-units 256 --sbd-units 32 \
        --objective tcvae --tcvae-estimator mss --betas 6 --batch-size 64 \
        --learning-rate 1e-3 --n-samples 40000 --epochs 20 --threads 1 --monitor-every 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from keras import layers

from betavae_tf import BetaVAE, train_vae
from betavae_tf.datasets import DSprites
from betavae_tf.metrics import active_units, mean_representation, mig, utils
from betavae_tf.metrics.mig import compute_mig
from betavae_tf.networks import build_mlp_encoder, build_spatial_broadcast_decoder
from betavae_tf.presets import build_conv_beta_vae
from betavae_tf.sweep import EpochTimer

SHAPE = (64, 64, 1)


def _burgess_networks(encoding_dim):
    x = keras.Input(SHAPE)
    h = x
    for _ in range(4):
        h = layers.Conv2D(32, 4, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(256, activation="relu")(h)
    h = layers.Dense(256, activation="relu")(h)
    encoder = keras.Model(x, [layers.Dense(encoding_dim)(h), layers.Dense(encoding_dim)(h)])
    z = keras.Input((encoding_dim,))
    h = layers.Dense(256, activation="relu")(z)
    h = layers.Dense(256, activation="relu")(h)
    h = layers.Dense(4 * 4 * 32, activation="relu")(h)
    h = layers.Reshape((4, 4, 32))(h)
    for _ in range(3):
        h = layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu")(h)
    out = layers.Conv2DTranspose(1, 4, strides=2, padding="same")(h)
    return encoder, keras.Model(z, out)


def _mlp_networks(encoding_dim, units):
    x = keras.Input(SHAPE)
    h = layers.Flatten()(x)
    for _ in range(2):
        h = layers.Dense(units, activation="relu")(h)
    encoder = keras.Model(x, [layers.Dense(encoding_dim)(h), layers.Dense(encoding_dim)(h)])
    z = keras.Input((encoding_dim,))
    h = z
    for _ in range(3):
        h = layers.Dense(units, activation="tanh")(h)
    out = layers.Reshape(SHAPE)(layers.Dense(int(np.prod(SHAPE)))(h))
    return encoder, keras.Model(z, out)


def objective_options(args) -> dict:
    """The `BetaVAE` keyword arguments of the chosen objective."""
    options = {"objective": args.objective}
    if args.objective == "tcvae":
        options.update(tcvae_estimator=args.tcvae_estimator, alpha=args.alpha,
                       gamma_dw=args.gamma_dw)
    if args.objective == "capacity":
        options.update(gamma=args.gamma, capacity_max=args.capacity_max,
                       capacity_steps=args.capacity_steps)
    return options


def build_model(beta, args) -> BetaVAE:
    options = objective_options(args)
    if args.arch == "preset":
        return build_conv_beta_vae(
            "dsprites", beta=beta, seed=args.seed, encoding_dim=args.encoding_dim,
            filters=tuple(args.filters), dropout_rate=0.0, **options,
        )
    if args.arch == "dlib":
        return build_conv_beta_vae(
            "dsprites", beta=beta, seed=args.seed, encoding_dim=args.encoding_dim,
            filters=(32, 32, 64, 64), dense_units=256, batch_norm=False,
            activation="relu", dropout_rate=0.0, **options,
        )
    if args.arch == "burgess":
        encoder, decoder = _burgess_networks(args.encoding_dim)
    elif args.arch == "sbd":
        encoder = build_mlp_encoder(SHAPE, args.encoding_dim, units=args.mlp_units)
        decoder = build_spatial_broadcast_decoder(SHAPE, args.encoding_dim, units=args.sbd_units)
    else:
        encoder, decoder = _mlp_networks(args.encoding_dim, args.mlp_units)
    return BetaVAE(encoder=encoder, decoder=decoder, likelihood="bernoulli", beta=beta,
                   dropout_rate=0.0, seed=args.seed, **options)


class MIGMonitor(keras.callbacks.Callback):
    """Prints a cheap MIG estimate to stderr every `every` epochs."""

    def __init__(self, dataset, every, points, seed):
        super().__init__()
        self.dataset, self.every, self.points, self.seed = dataset, every, points, seed
        self.values = []

    def on_epoch_end(self, epoch, logs=None):
        if self.every <= 0 or (epoch + 1) % self.every:
            return
        codes, factors = utils.generate_batch_factor_code(
            self.dataset, mean_representation(self.model), self.points,
            np.random.RandomState(self.seed), 16)
        scores = compute_mig(codes, factors)
        # Normalised MI of the two most informative latents per factor, and their indices.
        info = utils.discrete_mutual_info(utils.histogram_discretize(codes), factors)
        info = info / utils.discrete_entropy(factors)
        order = np.argsort(-info, axis=0)[:2]
        entry = {"epoch": epoch + 1, "mig": round(scores["discrete_mig"], 4),
                 "per_factor": [round(v, 3) for v in scores["mig_per_factor"]],
                 "top2": [[round(float(info[order[k, j], j]), 2) for k in range(2)]
                          for j in range(factors.shape[1])],
                 "top2_latents": order.T.tolist(),
                 "recon": round(float(logs.get("reconstruction_loss", np.nan)), 2),
                 "kl": round(float(logs.get("kl_loss", np.nan)), 2)}
        self.values.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)


def run(beta, x_train, dataset, args) -> dict:
    keras.utils.set_random_seed(args.seed)
    model = build_model(beta, args)
    timer = EpochTimer()
    monitor = MIGMonitor(dataset, args.monitor_every, args.monitor_points, args.seed + 3)
    start = time.perf_counter()
    history, model = train_vae(
        model, x_train, None, batch_size=args.batch_size, epochs=args.epochs,
        learning_rate=args.learning_rate, save_path=None, lr_scheduler=None, patience=None,
        callbacks=[timer, monitor], verbose=0,
    )
    wall_seconds = time.perf_counter() - start  # includes the monitor's MIG estimates
    scores = mig(mean_representation(model), dataset, np.random.RandomState(args.seed + 1),
                 num_train=args.mig_points)
    _, x_eval = dataset.sample(2000, np.random.RandomState(args.seed + 2))
    units = active_units(model, x_eval)
    epochs = len(history.history["loss"])
    result = {
        "beta": beta,
        "objective": args.objective,
        "mig": round(float(scores["discrete_mig"]), 4),
        "mig_per_factor": [round(float(v), 4) for v in scores.get("mig_per_factor", [])],
        "active_units": int(units["num_active_units"]),
        "reconstruction": round(history.history["reconstruction_loss"][-1], 2),
        "kl": round(history.history["kl_loss"][-1], 2),
        "epochs": epochs,
        "steps": epochs * int(np.ceil(len(x_train) / args.batch_size)),
        "n_samples": len(x_train),
        "seconds_per_epoch_median": round(float(np.median(timer.seconds)), 1),
        "train_seconds": round(float(np.sum(timer.seconds)), 1),
        "wall_seconds_incl_monitor": round(wall_seconds, 1),
        "arch": args.arch,
        "encoding_dim": args.encoding_dim,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "threads": args.threads,
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "monitor": monitor.values,
    }
    if args.arch == "preset":
        result["filters"] = list(args.filters)
    if args.arch in ("mlp", "sbd"):
        result["mlp_units"] = args.mlp_units
    if args.arch == "sbd":
        result["sbd_units"] = args.sbd_units
    result.update(objective_options(args))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--arch", choices=("dlib", "burgess", "mlp", "sbd", "preset"), default="preset")
    parser.add_argument("--n-samples", type=int, default=40000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--encoding-dim", type=int, default=10)
    parser.add_argument("--filters", type=int, nargs="+", default=[32, 32, 64],
                        help="encoder filters of --arch preset")
    parser.add_argument("--mlp-units", type=int, default=1200)
    parser.add_argument("--sbd-units", type=int, default=32)
    parser.add_argument("--mig-points", type=int, default=10000)
    parser.add_argument("--monitor-every", type=int, default=0,
                        help="print a MIG estimate to stderr every K epochs (0: never)")
    parser.add_argument("--monitor-points", type=int, default=3000)
    parser.add_argument("--objective", choices=("beta", "tcvae", "capacity"), default="beta")
    parser.add_argument("--tcvae-estimator", choices=("mws", "mss"), default="mws")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--gamma-dw", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=1000.0)
    parser.add_argument("--capacity-max", type=float, default=25.0)
    parser.add_argument("--capacity-steps", type=int, default=100000)
    parser.add_argument("--threads", type=int, default=0,
                        help="TF intra/inter-op threads (0: TF's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    dataset = DSprites()
    _, x_train = dataset.sample(args.n_samples, np.random.RandomState(args.seed))
    for beta in args.betas:
        print(json.dumps(run(beta, x_train, dataset, args)), flush=True)


if __name__ == "__main__":
    main()
