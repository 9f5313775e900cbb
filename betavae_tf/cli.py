"""Command line: `betavae-tf COMMAND ...` (also `python -m betavae_tf ...`).

A thin argparse layer: flags map onto arguments of `BetaVAE`,
`build_conv_beta_vae`, `KLAnnealing`, `train_vae`, the data sources and the
picture functions. `train` writes its resolved configuration as JSON beside
the model; the picture commands read it back to rebuild the same data.

Commands: train, sweep, generate, reconstruct, interpolate, traverse,
latent-plot, evaluate. Each prints where it wrote its files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

DEFAULT_MODEL_PATH = os.path.join("checkpoints", "best_vae.h5")
PRESET_FOR_DATA = {"mnist": "mnist", "dsprites": "dsprites", "images": "faces"}


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


def _steps_per_execution(text: str):
    return text if text == "auto" else _bounded(int, 1)(text)


def _data_spec(text: str) -> str:
    from betavae_tf.data_sources import parse_source

    try:
        parse_source(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _add_data_arguments(parser, default: str | None = "digits"):
    parser.add_argument("--data", type=_data_spec, default=default,
                        help="digits (default, embedded), mnist[:DIR] (else $BETAVAE_DATA_DIR), "
                        "dsprites[:FILE.npz] (generated without a file), images:DIR, csv:FILE, npy:FILE")
    parser.add_argument("--val-fraction", type=_bounded(float, 0.0, 0.9, True), default=None,
                        help="share held out for validation (default 0.2)")
    parser.add_argument("--no-standardize", dest="standardize", action="store_false", default=None,
                        help="keep vector features as they are (default: standardise with the training split)")
    parser.add_argument("--n-samples", type=_bounded(int, 4), default=None,
                        help="generated dSprites examples to train on (default 20000)")
    parser.add_argument("--image-size", type=_bounded(int, 8), default=None,
                        help="side of images read from an image folder (default 64)")
    parser.add_argument("--seed", type=_bounded(int, 0), default=None, help="random seed (default 0)")


def _add_model_arguments(parser):
    parser.add_argument("--model", choices=("dense", "conv"), default="dense",
                        help="dense: the seed's MLP (default); conv: the preset for the data")
    parser.add_argument("--preset", choices=("mnist", "dsprites", "faces"), default=None,
                        help="conv preset (default: mnist/dsprites/faces to match --data)")
    parser.add_argument("--likelihood", choices=("mse", "bernoulli", "gaussian"), default=None,
                        help="default: mse for vectors, bernoulli for images")
    parser.add_argument("--encoding-dim", type=_bounded(int, 1), default=None,
                        help="latent size (default 16, or the preset's)")
    parser.add_argument("--dropout-rate", type=_bounded(float, 0.0, 0.99), default=None,
                        help="dropout rate (default 0.2 dense, or the preset's)")
    parser.add_argument("--objective", choices=("beta", "capacity", "tcvae"), default=None,
                        help="beta: recon + β·KL (default); capacity: recon + γ·|KL − C| (Burgess et al.); "
                        "tcvae: recon + α·MI + β·TC + γ_dw·DW-KL (Chen et al.)")
    parser.add_argument("--free-bits", type=_bounded(float, 0.0), default=None,
                        help="KL floor per latent dimension in nats (beta and capacity objectives)")
    parser.add_argument("--gamma", type=_bounded(float, 0.0), default=None,
                        help="capacity objective: weight γ (default 1000)")
    parser.add_argument("--capacity-max", type=_bounded(float, 0.0), default=None,
                        help="capacity objective: final C in nats (default 25)")
    parser.add_argument("--capacity-steps", type=_bounded(int, 0), default=None,
                        help="capacity objective: steps to raise C to its maximum (default 100000)")
    parser.add_argument("--alpha", type=_bounded(float, 0.0), default=None,
                        help="tcvae objective: weight of the index-code mutual information (default 1)")
    parser.add_argument("--gamma-dw", type=_bounded(float, 0.0), default=None,
                        help="tcvae objective: weight of the dimension-wise KL (default 1)")


def _add_training_arguments(parser, default_epochs: int):
    parser.add_argument("--start-beta", type=_bounded(float, 0.0), default=0.0,
                        help="beta at epoch 1 of the annealing (default 0.0)")
    parser.add_argument("--anneal-epochs", type=_bounded(int, 0), default=10,
                        help="epochs to ramp beta up from --start-beta (one cycle for cyclical); "
                        "0 disables (default 10)")
    parser.add_argument("--anneal", choices=("linear", "cyclical", "sigmoid"), default="linear",
                        help="shape of the β schedule (default linear)")
    parser.add_argument("--cycles", type=_bounded(int, 1), default=4,
                        help="cyclical schedule: number of cycles (default 4)")
    parser.add_argument("--clipnorm", type=_bounded(float, 0.0, exclusive_minimum=True), default=None,
                        help="clip each gradient to this norm (default: no clipping)")
    parser.add_argument("--epochs", type=_bounded(int, 1), default=default_epochs,
                        help=f"most epochs to run (default {default_epochs})")
    parser.add_argument("--batch-size", type=_bounded(int, 1), default=64, help="default 64")
    parser.add_argument("--learning-rate", type=_bounded(float, 0.0, exclusive_minimum=True),
                        default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--verbose", type=_bounded(int, 0, 2), default=1,
                        help="Keras progress: 0 silent, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto",
                        help="XLA-compile the training step (default auto: Keras's choice, XLA on GPUs)")
    parser.add_argument("--steps-per-execution", type=_steps_per_execution, default="auto",
                        help="training steps per call into the compiled graph: auto (default) or N >= 1")
    parser.add_argument("--fused-adam", choices=("on", "off"), default="on",
                        help="on (default): Adam updates each weight with one fused TF kernel "
                        "(same update, faster); off: keras.optimizers.Adam's own update")
    parser.add_argument("--endless-loop", choices=("on", "off"), default="on",
                        help="on (default): run the steps of each call through betavae_tf's lean "
                        "loop for array data; off: Keras's own loop (same losses)")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"), default="default",
                        help="tf.distribute: default (one device), mirrored (all local GPUs), "
                        "multi-worker (a cluster from TF_CONFIG; see README)")
    parser.add_argument("--deterministic", action="store_true",
                        help="enable TensorFlow op determinism: same seed, same weights (slower on GPUs)")


def _add_picture_arguments(parser):
    parser.add_argument("--model-path", default=DEFAULT_MODEL_PATH,
                        help=f"a saved .h5/.keras model (default {DEFAULT_MODEL_PATH})")
    parser.add_argument("--output-dir", default=".", help="where pictures go (default: current folder)")
    _add_data_arguments(parser, default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="betavae-tf", description="β-Variational Autoencoders with Keras.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a β-VAE with KL annealing (default: dense, on the embedded digits)",
        description="Train a β-VAE with KL annealing, save the best model, plot the losses. "
        "With no options: the seed's dense network on scikit-learn's 8x8 digits.")
    _add_data_arguments(train)
    _add_model_arguments(train)
    train.add_argument("--beta", type=_bounded(float, 0.0), default=1.0, help="target KL weight (default 1.0)")
    _add_training_arguments(train, default_epochs=100)
    train.add_argument("--patience", type=_bounded(int, 0), default=5,
                       help="early-stopping patience in epochs (default 5)")
    train.add_argument("--output-dir", default=".",
                       help="where checkpoints/ and vae_loss_plot.png go (default: current folder)")
    train.add_argument("--model-format", choices=("h5", "keras"), default="h5",
                       help="checkpoint format (default h5)")
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run backed up in --backup-dir (without it, "
                       "an old backup there is discarded)")
    train.add_argument("--backup-dir", default=None,
                       help="where the training state is backed up each epoch "
                       "(default OUTPUT_DIR/checkpoints/backup)")

    sweep = commands.add_parser(
        "sweep", help="train the same model at several β and compare them",
        description="Train one model per β (same seed), then write a table (CSV, Markdown) of "
        "train/test reconstruction and KL, their plots against β and traversals side by side.")
    _add_data_arguments(sweep)
    _add_model_arguments(sweep)
    sweep.add_argument("--betas", type=_bounded(float, 0.0), nargs="+", default=[0.1, 1.0, 2.0, 4.0, 10.0],
                       help="β values (default 0.1 1 2 4 10)")
    _add_training_arguments(sweep, default_epochs=30)
    sweep.set_defaults(anneal_epochs=0)
    sweep.add_argument("--output-dir", default="beta_sweep", help="default: beta_sweep/")

    generate = commands.add_parser("generate", help="decode samples from the prior")
    _add_picture_arguments(generate)
    generate.add_argument("--n", type=_bounded(int, 1, 10000), default=64, help="samples (default 64)")
    generate.add_argument("--images-dir", default="generated_images",
                          help="folder (inside --output-dir) for one PNG per sample (default generated_images)")

    reconstruct = commands.add_parser("reconstruct", help="originals above their reconstructions")
    _add_picture_arguments(reconstruct)
    reconstruct.add_argument("--n", type=_bounded(int, 1, 100), default=10, help="examples (default 10)")

    interpolate = commands.add_parser("interpolate", help="decode a line between two examples' codes")
    _add_picture_arguments(interpolate)
    interpolate.add_argument("--start", type=_bounded(int, 0), default=0, help="index of the first example")
    interpolate.add_argument("--end", type=_bounded(int, 0), default=1, help="index of the second example")
    interpolate.add_argument("--steps", type=_bounded(int, 2, 100), default=10, help="default 10")

    traverse = commands.add_parser("traverse", help="latent traversals, most informative dimensions first")
    _add_picture_arguments(traverse)
    traverse.add_argument("--dims", type=_bounded(int, 1), default=None, help="rows (default: all dimensions)")
    traverse.add_argument("--limit", type=_bounded(float, 0.0, exclusive_minimum=True), default=3.0,
                          help="sweep each dimension over [-limit, limit] (default 3)")
    traverse.add_argument("--columns", type=_bounded(int, 2, 50), default=9, help="default 9")
    traverse.add_argument("--gif", action="store_true", help="also write traversals.gif")

    latent = commands.add_parser("latent-plot", help="2-D PCA of the latent means, coloured by label")
    _add_picture_arguments(latent)

    evaluate = commands.add_parser(
        "evaluate", help="disentanglement metrics and diagnostics as JSON, plus a report PNG",
        description="Print every metric as JSON (MIG, β-VAE score, FactorVAE score, DCI, SAP on "
        "data with ground-truth factors such as dsprites; KL per dimension, active units and "
        "collapse on any data) and write evaluation.json and evaluation_report.png.")
    evaluate.add_argument("model_path", metavar="MODEL", help="a saved .h5/.keras model")
    evaluate.add_argument("--output-dir", default=".", help="default: current folder")
    _add_data_arguments(evaluate, default=None)
    evaluate.add_argument("--metrics", nargs="+", default=None,
                          choices=("mig", "beta_vae_score", "factor_vae_score", "dci", "sap"),
                          help="default: all five")
    evaluate.add_argument("--scale", type=_bounded(float, 0.0, 1.0, exclusive_minimum=True), default=1.0,
                          help="fraction of disentanglement_lib's point counts (default 1.0; 0.1 is ~10x faster)")
    evaluate.add_argument("--iwae-samples", type=_bounded(int, 0), default=0,
                          help="importance samples for a test log-likelihood estimate (default 0: skip)")
    return parser


# --------------------------------------------------------------------- helpers
def _data_options(args, recorded: dict | None = None) -> dict:
    """Data settings: flags first, then what `train` recorded, then defaults."""
    recorded = recorded or {}
    defaults = {"data": "digits", "val_fraction": 0.2, "standardize": True, "n_samples": 20000,
                "image_size": 64, "seed": 0}
    return {key: getattr(args, key, None) if getattr(args, key, None) is not None
            else recorded.get(key, default) for key, default in defaults.items()}


def _load_data(options: dict, batch_size: int = 64):
    from betavae_tf.data_sources import load_data_source

    return load_data_source(
        options["data"], val_fraction=options["val_fraction"], seed=options["seed"],
        standardize=options["standardize"], n_samples=options["n_samples"],
        image_size=options["image_size"], batch_size=batch_size,
    )


MODEL_OPTIONS = ("objective", "free_bits", "gamma", "capacity_max", "capacity_steps", "alpha", "gamma_dw")


def _make_scheduler(args, target_beta: float):
    """The β schedule `args` asks for, ending at `target_beta`, or `None`."""
    from betavae_tf.callbacks import CyclicalAnnealing, KLAnnealing, SigmoidAnnealing

    if args.anneal_epochs == 0:
        return None
    if args.anneal == "cyclical":
        return CyclicalAnnealing(args.start_beta, target_beta, cycle_length=args.anneal_epochs,
                                 n_cycles=args.cycles)
    if args.anneal == "sigmoid":
        return SigmoidAnnealing(args.start_beta, target_beta, duration=args.anneal_epochs)
    return KLAnnealing(args.start_beta, target_beta, args.anneal_epochs)


def _build_model(args, data, beta: float, seed: int):
    """The model `args` asks for, and the data as that model takes it."""
    from betavae_tf import BetaVAE
    from betavae_tf.data_sources import flatten, parse_source
    from betavae_tf.presets import build_conv_beta_vae

    options = {key: getattr(args, key) for key in MODEL_OPTIONS if getattr(args, key, None) is not None}
    if args.model == "dense":
        data = flatten(data)
        likelihood = args.likelihood or ("bernoulli" if data.image_shape else "mse")
        model = BetaVAE(
            input_dim=data.feature_shape[0], encoding_dim=args.encoding_dim or 16, beta=beta,
            dropout_rate=0.2 if args.dropout_rate is None else args.dropout_rate,
            likelihood=likelihood, seed=seed, **options,
        )
        return model, data
    if data.image_shape is None:
        raise ValueError(
            f"--model conv needs image data (mnist, dsprites or images:DIR); got --data "
            f"{args.data}. Use --model dense for vectors."
        )
    kind = parse_source(args.data)[0]
    overrides = {"input_shape": tuple(data.feature_shape), **options}
    if args.encoding_dim is not None:
        overrides["encoding_dim"] = args.encoding_dim
    if args.dropout_rate is not None:
        overrides["dropout_rate"] = args.dropout_rate
    model = build_conv_beta_vae(
        args.preset or PRESET_FOR_DATA[kind], beta=beta, likelihood=args.likelihood,
        seed=seed, **overrides,
    )
    return model, data


def _speed_options(args) -> dict:
    """`train_vae`'s speed and determinism arguments from the flags."""
    from betavae_tf.distribute import resolve_strategy

    return {
        "strategy": resolve_strategy(args.strategy),  # before TF runs anything (multi-worker)
        "jit_compile": {"auto": "auto", "on": True, "off": False}[args.jit_compile],
        "steps_per_execution": args.steps_per_execution,
        "endless_loop": args.endless_loop == "on",
        "fused_adam": args.fused_adam == "on",
        "deterministic": args.deterministic,
    }


def _display_options(data) -> dict:
    """How to show decoded arrays: image shape for flat images, undo scaling."""
    options = {}
    if data.image_shape is not None and tuple(data.feature_shape) != tuple(data.image_shape):
        options["image_shape"] = tuple(data.image_shape)
    if data.standardizer is not None:
        options["postprocess"] = data.standardizer.inverse_transform
    return options


def _report(files: dict) -> None:
    for name, path in files.items():
        print(f"Wrote {name}: {path}")


# -------------------------------------------------------------------- commands
def _train(args) -> int:
    from betavae_tf.run_lock import folder_lock

    output_dir = os.path.abspath(args.output_dir)
    checkpoint_dir = os.path.join(output_dir, "checkpoints")
    backup_dir = os.path.abspath(args.backup_dir or os.path.join(checkpoint_dir, "backup"))
    if backup_dir in (output_dir, checkpoint_dir):
        raise ValueError(
            f"--backup-dir {args.backup_dir!r} is the output folder itself; pass a folder of "
            "its own for the backup (default OUTPUT_DIR/checkpoints/backup)."
        )
    _check_folder_flag(output_dir, "--output-dir")
    _check_folder_flag(backup_dir, "--backup-dir")
    # One run per output folder, for the whole run (the OS drops the lock if it dies).
    with folder_lock(checkpoint_dir, "output folder"):
        return _train_locked(args, output_dir, checkpoint_dir, backup_dir)


def _check_folder_flag(folder: str, flag: str) -> None:
    from betavae_tf.validation import ensure_writable_folder

    ensure_writable_folder(folder, "folder", f"pass {flag} naming a writable folder")


def _train_locked(args, output_dir: str, checkpoint_dir: str, backup_dir: str) -> int:
    import keras
    import numpy as np

    from betavae_tf import plot_vae_history, train_vae
    from betavae_tf.callbacks import discard_backup, read_backup_state
    from betavae_tf.interrupts import TrainingInterrupted
    from betavae_tf.training import TrainingDivergedError, best_epoch, warmup_epochs

    save_path = os.path.join(checkpoint_dir, f"best_vae.{args.model_format}")
    plot_path = os.path.join(output_dir, "vae_loss_plot.png")
    summary_path = os.path.join(checkpoint_dir, "train_summary.json")

    speed = _speed_options(args)
    options = _data_options(args)
    keras.utils.set_random_seed(options["seed"])
    data = _load_data(options, args.batch_size)
    annealing = args.anneal_epochs > 0
    model, data = _build_model(args, data, args.start_beta if annealing else args.beta, options["seed"])
    if isinstance(data.train, np.ndarray) and args.batch_size > len(data.train):
        raise ValueError(
            f"--batch-size {args.batch_size} is larger than the {len(data.train)} training "
            f"examples; pass --batch-size <= {len(data.train)}."
        )

    if not args.resume:  # a fresh run; --resume keeps it
        if discard_backup(backup_dir):  # refuses a folder that is not a backup
            print(f"Discarded the old backup in {backup_dir} (pass --resume to continue it).")
    elif read_backup_state(backup_dir) is None:
        print(f"No backup in {backup_dir}; starting a new run.")

    scheduler = _make_scheduler(args, args.beta)
    size = f"{len(data.train)} train / {len(data.validation)} validation examples" if isinstance(
        data.train, np.ndarray) else "streamed images"
    print(
        f"Training a {args.model} β-VAE ({model.likelihood.name} likelihood, latent "
        f"{model.encoding_dim}) on {options['data']}: {size} of shape {tuple(data.feature_shape)}, "
        f"β → {args.beta}" + (f" ({args.anneal} schedule, {args.anneal_epochs} epochs)" if annealing else "")
    )
    diverged = None
    try:
        history, model = train_vae(
            model, data.train, data.validation,
            batch_size=args.batch_size, epochs=args.epochs,
            learning_rate=args.learning_rate, save_path=save_path,
            kl_scheduler=scheduler, patience=args.patience, verbose=args.verbose,
            clipnorm=args.clipnorm, backup_dir=backup_dir, **speed,
        )
    except TrainingDivergedError as error:
        diverged, history = error, error.history
    except TrainingInterrupted as error:
        state = read_backup_state(backup_dir)
        where = (f"the backup of epoch {state['epoch']} in {backup_dir} is intact: run the same "
                 "command with --resume to continue") if state else (
                 "no epoch had finished, so there is nothing to resume")
        print(f"\nbetavae-tf: {error.signal_name} stopped training; {where}.", file=sys.stderr)
        return error.exit_code
    plot_vae_history(history, plot_path)

    files = {"plot": plot_path, "summary": summary_path}
    if os.path.exists(save_path):
        files["model"] = save_path
    if data.standardizer is not None:
        files["standardizer"] = os.path.join(checkpoint_dir, "standardizer.npz")
        np.savez(files["standardizer"], mean=data.standardizer.mean, std=data.standardizer.std)
    logs = history.history
    try:
        best = best_epoch(history, "val_loss", warmup_epochs(scheduler, args.epochs))
        best_logs = {key[4:]: logs[key][best] for key in logs if key.startswith("val_")}
    except ValueError:  # every watched epoch diverged
        best, best_logs = None, {}
    config = {**vars(args), **options}
    summary = {
        "config": config,
        "image_shape": data.image_shape,
        "epochs_run": len(logs.get("loss", [])),
        "best_epoch": None if best is None else best + 1,
        "best_validation": {k: float(v) for k, v in best_logs.items()},
        "files": files,
        "diverged": str(diverged) if diverged else None,
    }
    with open(summary_path, "w") as handle:
        json.dump(summary, handle, indent=2)

    print(f"\nEpochs run: {summary['epochs_run']} of {args.epochs}")
    if best is not None:
        print(
            f"Best epoch {best + 1}, validation: total {{total_loss:.3f}}, reconstruction "
            "{reconstruction_loss:.3f}, KL {kl_loss:.3f} (β {beta:.3g}, objective "
            f"{model.objective.name})".format(**best_logs)
        )
    _report(files)
    if diverged:
        print(f"betavae-tf: error: {' '.join(str(diverged).split())}", file=sys.stderr)
        return 1
    return 0


def _sweep(args) -> int:
    import numpy as np

    from betavae_tf.sweep import beta_sweep

    speed = _speed_options(args)
    options = _data_options(args)
    data = _load_data(options, args.batch_size)
    _, data = _build_model(args, data, 1.0, options["seed"])
    if not isinstance(data.train, np.ndarray):
        raise ValueError("sweep needs in-memory data; image folders stream. Use mnist, dsprites, digits, csv or npy.")
    output_dir = os.path.abspath(args.output_dir)
    rows = beta_sweep(
        lambda beta: _build_model(args, data, beta, options["seed"])[0],
        args.betas, data.train, data.test, output_dir,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        seed=options["seed"], verbose=args.verbose,
        kl_scheduler_factory=(lambda beta: _make_scheduler(args, beta)) if args.anneal_epochs > 0 else None,
        clipnorm=args.clipnorm, **speed,
        **_display_options(data),
    )
    print(open(os.path.join(output_dir, "beta_sweep.md")).read())
    _report({
        "table": os.path.join(output_dir, "beta_sweep.csv"),
        "markdown table": os.path.join(output_dir, "beta_sweep.md"),
        "plot": os.path.join(output_dir, "beta_sweep.png"),
        "traversals": os.path.join(output_dir, "beta_sweep_traversals.png"),
        "runs": ", ".join(os.path.join(output_dir, f"beta_{row['beta']:g}") for row in rows),
    })
    return 0


# What `train` records of its data flags, and how each recorded value is checked.
_RECORDED_DATA = {
    "data": lambda v: isinstance(v, str) and _data_spec(v),
    "val_fraction": lambda v: _bounded(float, 0.0, 0.9, True)(str(v)),
    "standardize": lambda v: isinstance(v, bool) or None,
    "n_samples": lambda v: not isinstance(v, bool) and _bounded(int, 4)(str(v)),
    "image_size": lambda v: not isinstance(v, bool) and _bounded(int, 8)(str(v)),
    "seed": lambda v: not isinstance(v, bool) and _bounded(int, 0)(str(v)),
}


def _recorded_config(model_path: str) -> dict:
    """The data configuration `train` wrote beside the model (checked), or `{}`."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "train_summary.json")
    if not os.path.exists(path):
        return {}

    def damaged(what: str) -> ValueError:
        return ValueError(
            f"The training summary {path!r} is damaged ({what}); delete it and pass the "
            "data flags (--data ...) yourself."
        )

    try:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
    except (OSError, ValueError) as error:
        raise damaged(" ".join(str(error).split())[:120]) from None
    config = summary.get("config") if isinstance(summary, dict) else None
    if not isinstance(config, dict):
        raise damaged("no 'config' object")
    for key, check in _RECORDED_DATA.items():
        if config.get(key) is None:
            continue
        try:
            valid = check(config[key])
        except (argparse.ArgumentTypeError, ValueError):
            valid = False
        if valid is False or valid is None:
            raise damaged(f"{key} is {config[key]!r}")
    return config


def _load_model_and_data(args):
    """The saved model, and (rebuilt as `train` had it) its data."""
    from betavae_tf import load_vae
    from betavae_tf.data_sources import flatten

    model = load_vae(args.model_path)
    recorded = _recorded_config(args.model_path)
    data = _load_data(_data_options(args, recorded))
    if len(model.feature_shape) == 1:
        data = flatten(data)
    if tuple(data.feature_shape) != tuple(model.feature_shape):
        raise ValueError(
            f"The model takes examples of shape {tuple(model.feature_shape)} but --data "
            f"{_data_options(args, recorded)['data']} gives {tuple(data.feature_shape)}; pass the data it was trained on."
        )
    os.makedirs(args.output_dir, exist_ok=True)
    return model, data


def _generate(args) -> int:
    from betavae_tf.pictures import plot_samples
    from betavae_tf.validation import check_inside

    model, data = _load_model_and_data(args)
    path = os.path.join(args.output_dir, "samples.png")
    images_dir = check_inside(args.output_dir, args.images_dir, "--images-dir")
    plot_samples(model, n=args.n, seed=args.seed or 0, save_path=path, individual_dir=images_dir,
                 **_display_options(data))
    _report({"samples": path, f"{args.n} images": images_dir})
    return 0


def _reconstruct(args) -> int:
    from betavae_tf.pictures import plot_reconstructions

    model, data = _load_model_and_data(args)
    path = os.path.join(args.output_dir, "reconstructions.png")
    plot_reconstructions(model, data.test, n=args.n, save_path=path, **_display_options(data))
    _report({"reconstructions": path})
    return 0


def _interpolate(args) -> int:
    from betavae_tf.pictures import plot_interpolation

    model, data = _load_model_and_data(args)
    for name in ("start", "end"):
        if getattr(args, name) >= len(data.test):
            raise ValueError(
                f"--{name} {getattr(args, name)} is out of range; the data has {len(data.test)} examples."
            )
    path = os.path.join(args.output_dir, "interpolation.png")
    plot_interpolation(model, data.test[args.start], data.test[args.end], steps=args.steps,
                       save_path=path, **_display_options(data))
    _report({"interpolation": path})
    return 0


def _traverse(args) -> int:
    import numpy as np

    from betavae_tf.pictures import plot_latent_traversals

    model, data = _load_model_and_data(args)
    path = os.path.join(args.output_dir, "traversals.png")
    gif = os.path.join(args.output_dir, "traversals.gif") if args.gif else None
    plot_latent_traversals(
        model, data.test[:1000], n_dims=args.dims,
        values=np.linspace(-args.limit, args.limit, args.columns),
        save_path=path, gif_path=gif, **_display_options(data),
    )
    _report({"traversals": path, **({"animation": gif} if gif else {})})
    return 0


def _latent_plot(args) -> int:
    from betavae_tf.pictures import plot_latent_pca

    model, data = _load_model_and_data(args)
    path = os.path.join(args.output_dir, "latent_pca.png")
    plot_latent_pca(model, data.test[:5000], labels=None if data.test_labels is None else data.test_labels[:5000],
                    save_path=path, label_name=data.label_name or "label")
    _report({"latent plot": path})
    return 0


def _evaluate(args) -> int:
    from betavae_tf import metrics
    from betavae_tf.data_sources import ground_truth_dataset
    from betavae_tf.evaluation import DISENTANGLEMENT_METRICS, evaluate_disentanglement, plot_evaluation_report

    model, data = _load_model_and_data(args)
    options = _data_options(args, _recorded_config(args.model_path))
    x = data.test[:2000]
    kl = metrics.kl_per_dimension(model, x)
    report = {
        "model": os.path.abspath(args.model_path),
        "data": options["data"],
        "beta": model.beta,
        "diagnostics": {
            **{k: v for k, v in metrics.posterior_collapse_warning(model, x).items()
               if k in ("collapsed", "total_kl", "num_active_units")},
            "kl_per_dimension": [round(float(v), 5) for v in kl],
        },
    }
    dataset = ground_truth_dataset(options["data"])
    if dataset is not None:
        report["metrics"] = evaluate_disentanglement(
            model, dataset, random_state=options["seed"],
            metric_names=args.metrics or tuple(DISENTANGLEMENT_METRICS), scale=args.scale,
        )
    if args.iwae_samples:
        from betavae_tf.marginal_likelihood import log_likelihood

        values = log_likelihood(model, data.test[:1000], num_samples=args.iwae_samples, seed=options["seed"])
        report["log_likelihood"] = {"mean": float(values.mean()), "examples": len(values),
                                    "num_samples": args.iwae_samples}
    json_path = os.path.join(args.output_dir, "evaluation.json")
    png_path = os.path.join(args.output_dir, "evaluation_report.png")
    with open(json_path, "w") as handle:
        json.dump(report, handle, indent=2)
    plot_evaluation_report(model, x, report.get("metrics"), png_path)
    print(json.dumps(report))
    _report({"evaluation": json_path, "report": png_path})
    return 0


COMMANDS = {
    "train": _train,
    "sweep": _sweep,
    "generate": _generate,
    "reconstruct": _reconstruct,
    "interpolate": _interpolate,
    "traverse": _traverse,
    "latent-plot": _latent_plot,
    "evaluate": _evaluate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `betavae-tf` console script."""
    from betavae_tf.interrupts import TrainingInterrupted, interruptible

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with interruptible():
            return COMMANDS[args.command](args)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        parser.exit(2, f"betavae-tf: error: {message}\n")
    except KeyboardInterrupt as error:  # TrainingInterrupted, or Ctrl-C before the handler
        code = error.exit_code if isinstance(error, TrainingInterrupted) else 130
        parser.exit(code, f"\nbetavae-tf: {error or 'interrupted'}.\n")


if __name__ == "__main__":
    sys.exit(main())
