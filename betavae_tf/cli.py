"""Command line: `betavae-tf COMMAND ...` (also `python -m betavae_tf ...`).

A thin layer: argparse and printing over library functions
(`betavae_tf.runs.train_run`, `beta_sweep`, the picture functions,
`evaluate_disentanglement`). The choices and defaults come from the library's
registries and signatures through `betavae_tf.cli_catalog` (a JSON snapshot,
so that parsing, `--help` and argument errors never wait for TensorFlow,
which is imported only when a command runs).

Commands: train, sweep, generate, reconstruct, interpolate, traverse,
latent-plot, evaluate. Each prints where it wrote its files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import Sequence

from betavae_tf.cli_catalog import load_catalog

CATALOG = load_catalog()
DEFAULTS = CATALOG["defaults"]
DEFAULT_MODEL = os.path.join("checkpoints", "best_vae")


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line: `betavae-tf: error: ...`, exit 2."""

    def error(self, message: str):
        self.exit(2, f"betavae-tf: error: {message} (see {self.prog} --help)\n")


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


def _auto_or_int(text: str):
    return text if text == "auto" else _bounded(int, 1)(text)


def _data_spec(text: str) -> str:
    """`kind[:path]` checked against the data-source registry (without TensorFlow)."""
    kind, _, path = text.partition(":")
    sources = CATALOG["data_sources"]
    if kind not in sources:
        usage = ", ".join(k + {"none": "", "optional": "[:PATH]", "required": ":PATH"}[s["path"]]
                          for k, s in sources.items())
        raise argparse.ArgumentTypeError(f"{text!r} is not a data source; use {usage}")
    if sources[kind]["path"] == "required" and not path:
        raise argparse.ArgumentTypeError(f"{text!r} needs a path, e.g. {kind}:/data/my_{kind}")
    if sources[kind]["path"] == "none" and path:
        raise argparse.ArgumentTypeError(f"{kind} takes no path; it is embedded in the package")
    return text


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r} is not on or off")
    return text == "on"


# ------------------------------------------------------------------ arguments
def _add_data_arguments(parser, for_training: bool = True):
    data = DEFAULTS["data"]
    kinds = ", ".join(CATALOG["data_sources"])
    if not for_training:  # pictures: the data the model was trained on, unless told otherwise
        parser.add_argument("--data", type=_data_spec, default=None,
                            help="data to draw examples from (default: what train recorded "
                            f"beside the model, else {data['data']}); one of {kinds}")
        return
    parser.add_argument("--data", type=_data_spec, default=data["data"],
                        help=f"data source, KIND[:PATH], KIND one of {kinds} (default "
                        f"{data['data']}; see docs/cli.md)")
    parser.add_argument("--val-fraction", type=_bounded(float, 0.0, 0.9, True),
                        default=data["val_fraction"],
                        help=f"share held out for validation (default {data['val_fraction']})")
    parser.add_argument("--no-standardize", dest="standardize", action="store_false",
                        help="keep vector features as they are (default: standardise with the "
                        "training split)")
    parser.add_argument("--n-samples", type=_bounded(int, 4), default=data["n_samples"],
                        help="images drawn from ground-truth data (dsprites, shapes3d, ...) to "
                        f"train on (default {data['n_samples']})")
    parser.add_argument("--image-size", type=_bounded(int, 8), default=data["image_size"],
                        help=f"side of images read from a folder (default {data['image_size']})")
    parser.add_argument("--seed", type=_bounded(int, 0), default=data["seed"],
                        help=f"random seed (default {data['seed']})")


def _objective_flags() -> dict:
    """`{argument: {objective: (default, help)}}` of the objectives' arguments."""
    flags: dict = {}
    seen = set()
    for name, entry in CATALOG["objectives"].items():
        if entry["class"] in seen:
            continue  # an alias ("annealed" of "capacity")
        seen.add(entry["class"])
        for argument, default in entry["arguments"].items():
            flags.setdefault(argument, {})[name] = (default, entry["help"].get(argument, argument))
    return flags


def _add_model_arguments(parser):
    model = DEFAULTS["model"]
    parser.add_argument("--model", choices=CATALOG["model_kinds"], default=model["model"],
                        help="dense: the original Keras β-VAE's MLP (default); conv: the preset "
                        "for the data")
    parser.add_argument("--preset", choices=CATALOG["presets"], default=None,
                        help="conv preset (default: the one that suits --data)")
    parser.add_argument("--likelihood", choices=CATALOG["likelihoods"], default=None,
                        help="default: mse for vectors, bernoulli for images")
    parser.add_argument("--encoding-dim", type=_bounded(int, 1), default=None,
                        help="latent size (default 16, or the preset's)")
    parser.add_argument("--dropout-rate", type=_bounded(float, 0.0, 0.99), default=None,
                        help="dropout rate (default 0.2 dense, or the preset's)")
    names = ", ".join(f"{k} ({v['class']})" for k, v in CATALOG["objectives"].items())
    parser.add_argument("--objective", choices=list(CATALOG["objectives"]), default=model["objective"],
                        metavar="OBJECTIVE",
                        help=f"what is minimised besides the reconstruction: {names} (default "
                        f"{model['objective']}; see docs/disentanglement.md)")
    options = parser.add_argument_group("objective options (each for the objectives named)")
    for argument, users in _objective_flags().items():
        if argument == "dataset_size":
            continue  # filled in from the data
        default = next(iter(users.values()))[0]
        kind = str if isinstance(default, str) else (
            _bounded(int, 0) if isinstance(default, int) else _bounded(float, 0.0))
        flag = "--tcvae-estimator" if argument == "estimator" else "--" + argument.replace("_", "-")
        shared = len({d for d, _ in users.values()}) == 1
        if not shared and len({t for _, t in users.values()}) > 1:  # γ of capacity, of factor
            text = "; ".join(f"{name}: {t}{_default_words(d)}" for name, (d, t) in users.items())
        else:
            defaults = _default_words(default) if shared else " (default " + "; ".join(
                f"{name}: {d}" for name, (d, _) in users.items()) + ")"
            text = f"{'/'.join(users)}: {next(iter(users.values()))[1]}{defaults}"
        options.add_argument(
            flag, dest=f"objective_{argument}", type=kind, default=None, metavar=argument.upper(),
            choices=CATALOG["tcvae_estimators"] if argument == "estimator" else None,
            help=text.replace("%", "%%"))


def _default_words(default) -> str:
    """` (default X)`, or nothing for `None` (the help says what it means)."""
    return "" if default is None else f" (default {default})"


def _add_training_arguments(parser, defaults: dict):
    schedule, train = DEFAULTS["schedule"], DEFAULTS["train_vae"]
    parser.add_argument("--start-beta", type=_bounded(float, 0.0), default=schedule["start_beta"],
                        help=f"β at epoch 1 of the annealing (default {schedule['start_beta']})")
    parser.add_argument("--anneal-epochs", type=_bounded(int, 0), default=defaults["anneal_epochs"],
                        help="epochs to ramp β up from --start-beta (one cycle for cyclical); "
                        f"0 disables (default {defaults['anneal_epochs']})")
    parser.add_argument("--anneal", choices=CATALOG["schedules"], default=schedule["anneal"],
                        help=f"shape of the β schedule (default {schedule['anneal']})")
    parser.add_argument("--cycles", type=_bounded(int, 1), default=schedule["cycles"],
                        help=f"cyclical schedule: number of cycles (default {schedule['cycles']})")
    parser.add_argument("--clipnorm", type=_bounded(float, 0.0, exclusive_minimum=True), default=None,
                        help="clip each gradient to this norm (default: no clipping)")
    parser.add_argument("--epochs", type=_bounded(int, 1), default=defaults["epochs"],
                        help=f"most epochs to run (default {defaults['epochs']})")
    parser.add_argument("--batch-size", type=_bounded(int, 1), default=defaults["batch_size"],
                        help=f"examples per step (default {defaults['batch_size']})")
    parser.add_argument("--learning-rate", type=_bounded(float, 0.0, exclusive_minimum=True),
                        default=defaults["learning_rate"],
                        help=f"Adam learning rate (default {defaults['learning_rate']:g})")
    parser.add_argument("--verbose", type=_bounded(int, 0, 2), default=1,
                        help="Keras progress: 0 silent, 1 progress bar (default), 2 one line per epoch")
    speed = parser.add_argument_group("speed and determinism (see docs/speed.md)")
    speed.add_argument("--jit-compile", choices=("auto", "on", "off"), default=train["jit_compile"],
                       help="XLA-compile the training step (default auto: XLA on GPUs)")
    speed.add_argument("--steps-per-execution", type=_auto_or_int, default=train["steps_per_execution"],
                       help="training steps per call into the compiled graph: auto (default) or N")
    speed.add_argument("--fused-adam", type=_on_off, metavar="{on,off}",
                       default=train["fused_adam"],
                       help="on (default): Adam updates each weight with one fused kernel (same "
                       "update, faster); off: keras.optimizers.Adam's own update")
    speed.add_argument("--endless-loop", type=_on_off, metavar="{on,off}",
                       default=train["endless_loop"],
                       help="on (default): betavae_tf's lean step loop for array data; off: "
                       "Keras's own loop (same losses)")
    speed.add_argument("--strategy", choices=CATALOG["strategies"], default="default",
                       help="tf.distribute: default (one device), mirrored (all local GPUs), "
                       "multi-worker (a cluster from TF_CONFIG; see docs/distributed.md)")
    speed.add_argument("--deterministic", action="store_true",
                       help="TensorFlow op determinism: same seed, same weights (slower on GPUs)")


def _add_model_path(parser):
    parser.add_argument("model_path", metavar="MODEL", nargs="?", default=None,
                        help="a saved .h5/.keras model (default checkpoints/best_vae.h5, or "
                        ".keras if that is what train wrote)")
    parser.add_argument("--model-path", dest="model_path_flag", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", default=".", help="where the files go (default: current folder)")
    _add_data_arguments(parser, for_training=False)


PICTURES = {
    "generate": ("decode samples from the prior",
                 "Decode N draws from the prior N(0, I): a grid (samples.png) and one PNG per sample."),
    "reconstruct": ("originals above their reconstructions",
                    "Show test examples (top row) above their reconstructions (bottom row): "
                    "reconstructions.png."),
    "interpolate": ("decode a line between two examples' codes",
                    "Encode two test examples and decode points on the line between their codes: "
                    "interpolation.png."),
    "traverse": ("latent traversals, most informative dimensions first",
                 "Vary one latent dimension at a time from a test example's code, the dimensions "
                 "with the highest KL first: traversals.png (and traversals.gif)."),
    "latent-plot": ("2-D PCA of the latent means, coloured by label",
                    "Project the latent means of test examples on their first two principal "
                    "components, coloured by label: latent_pca.png."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="betavae-tf", description="β-Variational Autoencoders with Keras.")
    parser.add_argument("--version", action="version", version=f"betavae-tf {CATALOG['version']}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    run = DEFAULTS["train_run"]
    train = commands.add_parser(
        "train", help="train a β-VAE with β annealing (default: dense, on the embedded digits)",
        description="Train a β-VAE with β annealing, save the best model, plot the losses. "
        "With no options: the original Keras β-VAE's dense network on scikit-learn's 8x8 digits.")
    _add_data_arguments(train)
    _add_model_arguments(train)
    train.add_argument("--beta", type=_bounded(float, 0.0), default=run["beta"],
                       help=f"target β (default {run['beta']})")
    _add_training_arguments(train, {**run, "anneal_epochs": DEFAULTS["schedule"]["anneal_epochs"]})
    train.add_argument("--patience", type=_bounded(int, 0), default=run["patience"],
                       help=f"early-stopping patience in epochs (default {run['patience']})")
    train.add_argument("--output-dir", default=".",
                       help="where checkpoints/ and vae_loss_plot.png go (default: current folder)")
    train.add_argument("--model-format", choices=CATALOG["model_formats"], default=run["model_format"],
                       help=f"checkpoint format (default {run['model_format']})")
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run backed up in --backup-dir (without it, "
                       "an old backup there is discarded)")
    train.add_argument("--backup-dir", default=None,
                       help="where the training state is backed up each epoch "
                       "(default OUTPUT_DIR/checkpoints/backup)")

    sweep_defaults = DEFAULTS["beta_sweep"]
    sweep = commands.add_parser(
        "sweep", help="train the same model at several β and compare them",
        description="Train one model per β (same seed), then write a table (CSV, Markdown) of "
        "train/test reconstruction and KL, their plots against β and traversals side by side.")
    _add_data_arguments(sweep)
    _add_model_arguments(sweep)
    sweep.add_argument("--betas", type=_bounded(float, 0.0), nargs="+", default=[0.1, 1.0, 2.0, 4.0, 10.0],
                       help="β values (default 0.1 1 2 4 10)")
    _add_training_arguments(sweep, {**sweep_defaults, "anneal_epochs": 0})
    sweep.add_argument("--output-dir", default="beta_sweep", help="default: beta_sweep/")

    for name, (short, description) in PICTURES.items():
        picture = commands.add_parser(name, help=short, description=description)
        _add_model_path(picture)
        if name == "generate":
            picture.add_argument("--n", type=_bounded(int, 1, 10000), default=64, help="samples (default 64)")
            picture.add_argument("--images-dir", default="generated_images",
                                 help="folder inside --output-dir for one PNG per sample "
                                 "(default generated_images)")
        elif name == "reconstruct":
            picture.add_argument("--n", type=_bounded(int, 1, 100), default=10, help="examples (default 10)")
        elif name == "interpolate":
            picture.add_argument("--start", type=_bounded(int, 0), default=0, help="index of the first example")
            picture.add_argument("--end", type=_bounded(int, 0), default=1, help="index of the second example")
            picture.add_argument("--steps", type=_bounded(int, 2, 100), default=10,
                                 help="points on the line (default 10)")
        elif name == "traverse":
            picture.add_argument("--dims", type=_dims, default=10,
                                 help="rows: the N dimensions with the highest KL, or 'all' (default 10)")
            picture.add_argument("--limit", type=_bounded(float, 0.0, exclusive_minimum=True), default=3.0,
                                 help="sweep each dimension over [-limit, limit] (default 3)")
            picture.add_argument("--columns", type=_bounded(int, 2, 50), default=9, help="default 9")
            picture.add_argument("--gif", action="store_true", help="also write traversals.gif")

    evaluate = commands.add_parser(
        "evaluate", help="disentanglement metrics and diagnostics as JSON, plus a report PNG",
        description="Print every metric as JSON (MIG, β-VAE score, FactorVAE score, DCI, SAP on "
        "data with ground-truth factors such as dsprites or shapes3d; KL per dimension, active "
        "units and collapse on any data) and write evaluation.json and evaluation_report.png.")
    _add_model_path(evaluate)
    evaluate.add_argument("--metrics", nargs="+", default=None, choices=CATALOG["metrics"],
                          help="default: all five")
    evaluate.add_argument("--scale", type=_bounded(float, 0.0, 1.0, exclusive_minimum=True),
                          default=DEFAULTS["evaluate_disentanglement"]["scale"],
                          help="fraction of disentanglement_lib's point counts (default 1.0; 0.1 "
                          "is ~10x faster and noisier)")
    evaluate.add_argument("--iwae-samples", type=_bounded(int, 0), default=0,
                          help="importance samples for a test log-likelihood estimate (default 0: skip)")
    return parser


def _dims(text: str):
    return "all" if text == "all" else _bounded(int, 1)(text)


# --------------------------------------------------------------------- helpers
def _quiet_tensorflow() -> None:
    """Imports TensorFlow, showing its real errors but not its start-up chatter."""
    from betavae_tf.tf_logging import import_tensorflow_quietly

    import_tensorflow_quietly()


_API_WORDS = {  # library wording -> the flag a command-line user passes
    "pass data_dir=<folder with the 4 MNIST IDX files>": "pass --data mnist:DIR (the folder with the 4 MNIST IDX files)",
    "change extensions=": "convert them to JPEG or PNG",
}


def _in_flag_words(message: str, parser: argparse.ArgumentParser) -> str:
    """A library message as a command-line user reads it: `batch_size=64` -> `--batch-size 64`."""
    for words, flag_words in _API_WORDS.items():
        message = message.replace(words, flag_words)
    flags = {option[2:].replace("-", "_"): option for action in _all_actions(parser)
             for option in action.option_strings[:1] if option.startswith("--")}
    flags["estimator"] = "--tcvae-estimator"
    for name, flag in flags.items():
        message = re.sub(rf"(?<![\w.-]){name}=(?![.<])", f"{flag} ", message)
        if "_" in name:
            message = re.sub(rf"(?<![\w.-]){name}\b", flag, message)
    return message


def _all_actions(parser):
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from sub._actions


def _report(files: dict) -> None:
    for name, path in files.items():
        print(f"Wrote {name}: {path}")


def _settings(args):
    """`train_run`'s settings from the flags."""
    from betavae_tf.runs import DataSettings, ModelSettings, ScheduleSettings

    data = DataSettings(args.data, args.val_fraction, args.standardize, args.n_samples,
                        args.image_size, args.seed)
    arguments = {key[len("objective_"):]: value for key, value in vars(args).items()
                 if key.startswith("objective_") and value is not None}
    takes = CATALOG["objectives"][args.objective]["arguments"]
    wrong = sorted(set(arguments) - set(takes))
    if wrong:
        flags = ", ".join("--" + w.replace("_", "-") for w in wrong)
        raise ValueError(f"{flags} do(es) not apply to --objective {args.objective}; it takes "
                         f"{', '.join('--' + t.replace('_', '-') for t in takes if t != 'dataset_size') or 'no options'}.")
    model = ModelSettings(args.model, args.preset, args.likelihood, args.encoding_dim,
                          args.dropout_rate, args.objective, arguments)
    schedule = ScheduleSettings(args.anneal, args.start_beta, args.anneal_epochs, args.cycles)
    return data, model, schedule


def _speed(args) -> dict:
    from betavae_tf.distribute import resolve_strategy

    return {
        "strategy": resolve_strategy(args.strategy),  # before TF runs anything (multi-worker)
        "jit_compile": {"auto": "auto", "on": True, "off": False}[args.jit_compile],
        "steps_per_execution": args.steps_per_execution,
        "endless_loop": args.endless_loop,
        "fused_adam": args.fused_adam,
        "deterministic": args.deterministic,
    }


# -------------------------------------------------------------------- commands
def _train(args) -> int:
    from betavae_tf.backup import read_backup_state
    from betavae_tf.interrupts import TrainingInterrupted
    from betavae_tf.runs import run_paths, train_run

    data, model, schedule = _settings(args)
    try:
        result = train_run(
            args.output_dir, data, model, schedule, beta=args.beta, epochs=args.epochs,
            batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
            clipnorm=args.clipnorm, model_format=args.model_format, resume=args.resume,
            backup_dir=args.backup_dir, verbose=args.verbose, **_speed(args),
        )
    except TrainingInterrupted as error:
        backup = run_paths(args.output_dir, args.backup_dir)["backup"]
        state = read_backup_state(backup)
        where = (f"the backup of epoch {state['epoch']} in {backup} is intact: run the same "
                 "command with --resume to continue") if state else (
                 "no epoch had finished, so there is nothing to resume")
        print(f"\nbetavae-tf: {error.signal_name} stopped training; {where}.", file=sys.stderr)
        return error.exit_code
    summary = result.summary
    print(f"\nEpochs run: {summary['epochs_run']} of {args.epochs}")
    best = summary["best_validation"]
    if best:
        print(f"Best epoch {summary['best_epoch']}, validation: total {best['total_loss']:.3f}, "
              f"reconstruction {best['reconstruction_loss']:.3f}, KL {best['kl_loss']:.3f} "
              f"(β {best['beta']:.3g}, objective {args.objective})")
    _report(summary["files"])
    if result.diverged:
        print(f"betavae-tf: error: {' '.join(str(result.diverged).split())}", file=sys.stderr)
        return 1
    return 0


def _sweep(args) -> int:
    import numpy as np

    from betavae_tf.runs import DATA_SOURCES
    from betavae_tf.sweep import beta_sweep

    data, model, schedule = _settings(args)
    prepared = data.load(args.batch_size)
    preset = DATA_SOURCES[args.data.partition(":")[0]].preset
    _, prepared = model.build(prepared, 1.0, data.seed, preset)
    if not isinstance(prepared.train, np.ndarray):
        raise ValueError("sweep needs in-memory data; image folders stream. Use mnist, dsprites, "
                         "digits, csv or npy.")
    output_dir = os.path.abspath(args.output_dir)
    rows = beta_sweep(
        lambda beta: model.build(prepared, beta, data.seed, preset)[0],
        args.betas, prepared.train, prepared.test, output_dir,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        seed=data.seed, verbose=args.verbose,
        kl_scheduler_factory=schedule.make if args.anneal_epochs > 0 else None,
        clipnorm=args.clipnorm, log=print, **_speed(args), **_display_options(prepared),
    )
    with open(os.path.join(output_dir, "beta_sweep.md"), encoding="utf-8") as handle:
        print(handle.read())
    _report({
        "table": os.path.join(output_dir, "beta_sweep.csv"),
        "markdown table": os.path.join(output_dir, "beta_sweep.md"),
        "plot": os.path.join(output_dir, "beta_sweep.png"),
        "traversals": os.path.join(output_dir, "beta_sweep_traversals.png"),
        "runs": ", ".join(os.path.join(output_dir, f"beta_{row['beta']:g}") for row in rows),
    })
    return 0


def _display_options(data) -> dict:
    """How to show decoded arrays: image shape for flat images, undo scaling."""
    options = {}
    if data.image_shape is not None and tuple(data.feature_shape) != tuple(data.image_shape):
        options["image_shape"] = tuple(data.image_shape)
    if data.standardizer is not None:
        options["postprocess"] = data.standardizer.inverse_transform
    return options


def _model_path(args) -> str:
    """The model file: MODEL, else the checkpoint `train` wrote (`.h5` or `.keras`)."""
    given = args.model_path or args.model_path_flag
    if given:
        return given
    candidates = [p for p in (DEFAULT_MODEL + ".h5", DEFAULT_MODEL + ".keras") if os.path.isfile(p)]
    if not candidates:
        raise FileNotFoundError(
            f"No model file at {DEFAULT_MODEL}.h5 or {DEFAULT_MODEL}.keras; train one first "
            "(betavae-tf train) or pass the model's path."
        )
    return max(candidates, key=os.path.getmtime)  # the newer, if both are there


def _load_model_and_data(args):
    """The saved model, its path, and (rebuilt as `train` had it) its data."""
    from betavae_tf import load_vae
    from betavae_tf.datasets.sources import flatten
    from betavae_tf.runs import DataSettings, recorded_data_settings

    path = _model_path(args)
    model = load_vae(path)
    settings = recorded_data_settings(path)
    if args.data is not None:
        settings["data"] = args.data
    data_settings = DataSettings(**settings)
    data = data_settings.load()
    if len(model.feature_shape) == 1:
        data = flatten(data)
    if tuple(data.feature_shape) != tuple(model.feature_shape):
        raise ValueError(
            f"The model takes examples of shape {tuple(model.feature_shape)} but --data "
            f"{data_settings.data} gives {tuple(data.feature_shape)}; pass the data it was trained on."
        )
    os.makedirs(args.output_dir, exist_ok=True)
    return model, path, data, data_settings


def _pictures(args) -> int:
    import numpy as np

    from betavae_tf import plots as pictures

    model, _, data, settings = _load_model_and_data(args)
    out = args.output_dir
    display = _display_options(data)
    files = {}
    if args.command == "generate":
        from betavae_tf.validation import check_inside

        files["samples"] = os.path.join(out, "samples.png")
        images_dir = check_inside(out, args.images_dir, "--images-dir")
        pictures.plot_samples(model, n=args.n, seed=settings.seed, save_path=files["samples"],
                              individual_dir=images_dir, **display)
        files[f"{args.n} images"] = images_dir
    elif args.command == "reconstruct":
        files["reconstructions"] = os.path.join(out, "reconstructions.png")
        pictures.plot_reconstructions(model, data.test, n=args.n, save_path=files["reconstructions"],
                                      **display)
    elif args.command == "interpolate":
        for name in ("start", "end"):
            if getattr(args, name) >= len(data.test):
                raise ValueError(f"--{name} {getattr(args, name)} is out of range; the data has "
                                 f"{len(data.test)} examples.")
        files["interpolation"] = os.path.join(out, "interpolation.png")
        pictures.plot_interpolation(model, data.test[args.start], data.test[args.end],
                                    steps=args.steps, save_path=files["interpolation"], **display)
    elif args.command == "traverse":
        files["traversals"] = os.path.join(out, "traversals.png")
        gif = os.path.join(out, "traversals.gif") if args.gif else None
        pictures.plot_latent_traversals(
            model, data.test[:1000], n_dims=args.dims,
            values=np.linspace(-args.limit, args.limit, args.columns),
            save_path=files["traversals"], gif_path=gif, **display,
        )
        if gif:
            files["animation"] = gif
    else:
        files["latent plot"] = os.path.join(out, "latent_pca.png")
        labels = None if data.test_labels is None else data.test_labels[:5000]
        pictures.plot_latent_pca(model, data.test[:5000], labels=labels,
                                 save_path=files["latent plot"], label_name=data.label_name or "label")
    _report(files)
    return 0


def _evaluate(args) -> int:
    import time

    from betavae_tf import metrics
    from betavae_tf.datasets.sources import ground_truth_dataset
    from betavae_tf.evaluation import DISENTANGLEMENT_METRICS, evaluate_disentanglement, plot_evaluation_report

    model, path, data, settings = _load_model_and_data(args)
    x = data.test[:2000]
    kl = metrics.kl_per_dimension(model, x)
    report = {
        "model": os.path.abspath(path),
        "data": settings.data,
        "beta": model.beta,
        "diagnostics": {
            **{k: v for k, v in metrics.posterior_collapse_warning(model, x).items()
               if k in ("collapsed", "total_kl", "num_active_units")},
            "kl_per_dimension": [round(float(v), 5) for v in kl],
        },
    }
    dataset = ground_truth_dataset(settings.data)
    if dataset is not None:
        names = args.metrics or list(DISENTANGLEMENT_METRICS)
        report["metrics"] = {}
        for index, name in enumerate(names, 1):
            print(f"[{index}/{len(names)}] {name} ...", end="", file=sys.stderr, flush=True)
            start = time.perf_counter()
            report["metrics"].update(evaluate_disentanglement(
                model, dataset, random_state=settings.seed, metric_names=(name,), scale=args.scale))
            print(f" {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    if args.iwae_samples:
        from betavae_tf.marginal_likelihood import log_likelihood

        values = log_likelihood(model, data.test[:1000], num_samples=args.iwae_samples, seed=settings.seed)
        report["log_likelihood"] = {"mean": float(values.mean()), "examples": len(values),
                                    "num_samples": args.iwae_samples}
    json_path = os.path.join(args.output_dir, "evaluation.json")
    png_path = os.path.join(args.output_dir, "evaluation_report.png")
    with open(json_path, "w") as handle:
        json.dump(report, handle, indent=2)
    plot_evaluation_report(model, x, report.get("metrics"), png_path, **_display_options(data))
    print(json.dumps(report, indent=2))
    _report({"evaluation": json_path, "report": png_path})
    return 0


COMMANDS = {"train": _train, "sweep": _sweep, "evaluate": _evaluate, **dict.fromkeys(PICTURES, _pictures)}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `betavae-tf` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from betavae_tf.interrupts import TrainingInterrupted, interruptible

        with interruptible():
            _quiet_tensorflow()
            return COMMANDS[args.command](args)
    except (ValueError, OSError) as error:
        message = _in_flag_words(" ".join(str(error).split()), parser)
        parser.exit(2, f"betavae-tf: error: {message}\n")
    except KeyboardInterrupt as error:  # TrainingInterrupted, or Ctrl-C before the handler
        code = error.exit_code if isinstance(error, TrainingInterrupted) else 130
        parser.exit(code, f"\nbetavae-tf: {error or 'interrupted'}.\n")


if __name__ == "__main__":
    sys.exit(main())
