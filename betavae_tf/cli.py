"""Command line: `betavae-tf train ...` (also `python -m betavae_tf train`).

A thin argparse layer: every flag maps one-to-one onto an argument of
`BetaVAE`, `KLAnnealing`, `train_vae` or a data loader, and the resolved
configuration is written as JSON beside the outputs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

DEFAULT_DATA = "digits"


def _bounded(kind, minimum, maximum=None, exclusive_minimum=False):
    """An argparse type accepting `kind` values in a range."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        too_low = value <= minimum if exclusive_minimum else value < minimum
        if too_low or (maximum is not None and value > maximum) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            low = f"> {minimum}" if exclusive_minimum else f">= {minimum}"
            rule = low if maximum is None else f"{low} and <= {maximum}"
            raise argparse.ArgumentTypeError(f"{text} is out of range; it must be {rule}")
        return value

    return parse


def _data_spec(text: str) -> str:
    kind, _, path = text.partition(":")
    if text == DEFAULT_DATA or (kind in ("csv", "npy") and path):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a data source; use 'digits', 'csv:FILE' or 'npy:FILE' "
        "(.npy or .npz)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="betavae-tf", description="β-Variational Autoencoders with Keras."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train a dense β-VAE with KL annealing (defaults: the embedded digits)",
        description="Train the dense β-VAE with KL annealing, save the best model, "
        "plot the losses. With no options: scikit-learn's 8x8 digits.",
    )
    train.add_argument("--data", type=_data_spec, default=DEFAULT_DATA,
                       help="'digits' (default, no download), 'csv:FILE' or 'npy:FILE' (.npy/.npz)")
    train.add_argument("--val-fraction", type=_bounded(float, 0.0, 0.9, True), default=0.2,
                       help="share held out for validation (default 0.2)")
    train.add_argument("--no-standardize", dest="standardize", action="store_false",
                       help="keep features as they are (default: standardise with the training split)")
    train.add_argument("--beta", type=_bounded(float, 0.0), default=1.0,
                       help="target KL weight beta (default 1.0)")
    train.add_argument("--start-beta", type=_bounded(float, 0.0), default=0.0,
                       help="beta at epoch 1 of the annealing (default 0.0)")
    train.add_argument("--anneal-epochs", type=_bounded(int, 0), default=10,
                       help="epochs to ramp beta from --start-beta to --beta; 0 disables (default 10)")
    train.add_argument("--encoding-dim", type=_bounded(int, 1), default=16,
                       help="latent size (default 16)")
    train.add_argument("--dropout-rate", type=_bounded(float, 0.0, 0.99), default=0.2,
                       help="dropout rate (default 0.2)")
    train.add_argument("--epochs", type=_bounded(int, 1), default=100,
                       help="most epochs to run; early stopping may end sooner (default 100)")
    train.add_argument("--batch-size", type=_bounded(int, 1), default=64, help="default 64")
    train.add_argument("--learning-rate", type=_bounded(float, 0.0, exclusive_minimum=True),
                       default=1e-3, help="Adam learning rate (default 1e-3)")
    train.add_argument("--patience", type=_bounded(int, 0), default=5,
                       help="early-stopping patience in epochs (default 5)")
    train.add_argument("--seed", type=_bounded(int, 0), default=0, help="random seed (default 0)")
    train.add_argument("--output-dir", default=".",
                       help="where checkpoints/ and vae_loss_plot.png go (default: current folder)")
    train.add_argument("--model-format", choices=("h5", "keras"), default="h5",
                       help="checkpoint format (default h5)")
    train.add_argument("--verbose", type=_bounded(int, 0, 2), default=1,
                       help="Keras progress: 0 silent, 1 progress bar, 2 one line per epoch")
    return parser


def _load_data(args):
    from betavae_tf import datasets

    if args.data == DEFAULT_DATA:
        return datasets.load_digits(args.val_fraction, args.seed, args.standardize)
    return datasets.load_vectors(
        args.data.partition(":")[2], args.val_fraction, args.seed, args.standardize
    )


def _train(args) -> int:
    import keras
    import numpy as np

    from betavae_tf import BetaVAE, KLAnnealing, plot_vae_history, train_vae
    from betavae_tf.training import TrainingDivergedError, best_epoch, warmup_epochs

    output_dir = os.path.abspath(args.output_dir)
    checkpoint_dir = os.path.join(output_dir, "checkpoints")
    save_path = os.path.join(checkpoint_dir, f"best_vae.{args.model_format}")
    plot_path = os.path.join(output_dir, "vae_loss_plot.png")
    summary_path = os.path.join(checkpoint_dir, "train_summary.json")

    keras.utils.set_random_seed(args.seed)
    x_train, x_val, scaler = _load_data(args)
    if args.batch_size > len(x_train):
        raise ValueError(
            f"--batch-size {args.batch_size} is larger than the {len(x_train)} training "
            f"examples; pass --batch-size <= {len(x_train)}."
        )
    os.makedirs(checkpoint_dir, exist_ok=True)
    if not os.access(output_dir, os.W_OK):
        raise OSError(f"The output folder {output_dir!r} is not writable; pass --output-dir.")

    annealing = args.anneal_epochs > 0
    model = BetaVAE(
        input_dim=x_train.shape[1],
        encoding_dim=args.encoding_dim,
        beta=args.start_beta if annealing else args.beta,
        dropout_rate=args.dropout_rate,
        seed=args.seed,
    )
    scheduler = (
        KLAnnealing(args.start_beta, args.beta, args.anneal_epochs) if annealing else None
    )
    print(
        f"Training a dense β-VAE on {args.data}: {len(x_train)} train / {len(x_val)} "
        f"validation examples of {x_train.shape[1]} features, β → {args.beta}"
        + (f" over {args.anneal_epochs} epochs" if annealing else "")
    )
    diverged = None
    try:
        history, model = train_vae(
            model, x_train, x_val,
            batch_size=args.batch_size, epochs=args.epochs,
            learning_rate=args.learning_rate, save_path=save_path,
            kl_scheduler=scheduler, patience=args.patience, verbose=args.verbose,
        )
    except TrainingDivergedError as error:
        diverged, history = error, error.history
    plot_vae_history(history, plot_path)

    files = {"plot": plot_path, "summary": summary_path}
    if os.path.exists(save_path):
        files["model"] = save_path
    if scaler is not None:
        files["standardizer"] = os.path.join(checkpoint_dir, "standardizer.npz")
        np.savez(files["standardizer"], mean=scaler.mean, std=scaler.std)
    logs = history.history
    best = best_epoch(history, "val_loss", warmup_epochs(scheduler, args.epochs))
    best_logs = {key[4:]: logs[key][best] for key in logs if key.startswith("val_")}
    summary = {
        "config": vars(args),
        "epochs_run": len(logs["loss"]),
        "best_epoch": best + 1,
        "best_validation": {k: float(v) for k, v in best_logs.items()},
        "files": files,
        "diverged": str(diverged) if diverged else None,
    }
    with open(summary_path, "w") as handle:
        json.dump(summary, handle, indent=2)

    print(f"\nEpochs run: {summary['epochs_run']} of {args.epochs}")
    print(
        f"Best epoch {best + 1}, validation: total {{total_loss:.3f}} = "
        "reconstruction {reconstruction_loss:.3f} + β {beta:.3g} × KL {kl_loss:.3f}".format(**best_logs)
    )
    for name, path in files.items():
        print(f"Wrote {name}: {path}")
    if diverged:
        print(f"betavae-tf: error: {diverged}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `betavae-tf` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _train(args)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        parser.exit(2, f"betavae-tf: error: {message}\n")


if __name__ == "__main__":
    sys.exit(main())
