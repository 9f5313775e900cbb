"""The `betavae-tf` argument parser, built from the library's catalog (no TensorFlow).

Choices come from the library's registries and defaults from its signatures,
through `betavae_tf.catalog`'s JSON snapshot, so parsing, `--help` and
argument errors answer at once. Errors are one line: `betavae-tf: error: ...`.
"""

from __future__ import annotations

import argparse
import math
import os

from betavae_tf.catalog import load_catalog

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
    parser.add_argument("--seed", type=_bounded(int, 0, 2**32 - 1), default=data["seed"],
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
    speed.add_argument("--compiled-epoch", choices=("auto", "on", "off"),
                       default={True: "on", False: "off"}.get(train["compiled_epoch"],
                                                              train["compiled_epoch"]),
                       help="run each epoch over the data as one XLA program (same losses to "
                       "float rounding); auto (default): only small dense networks on a CPU "
                       "with enough steps to pay for the compilation")
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

    _add_study_command(commands)

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


def _objective_grid(text: str) -> dict:
    """`NAME[:KEY=V1,V2[:KEY=V]...]`, e.g. `factor:gamma=10,20` -> a study model entry."""
    name, *pairs = text.split(":")
    if name not in CATALOG["objectives"]:
        raise argparse.ArgumentTypeError(
            f"{name!r} is not an objective; use one of {', '.join(CATALOG['objectives'])}")
    entry: dict = {"objective": name}
    for pair in pairs:
        key, _, values = pair.partition("=")
        if not values:
            raise argparse.ArgumentTypeError(f"{pair!r} in {text!r} is not KEY=VALUE[,VALUE...]")
        parsed = []
        for value in values.split(","):
            try:
                parsed.append(int(value) if value.isdigit() else float(value))
            except ValueError:
                parsed.append(value)
        entry[key] = parsed if len(parsed) > 1 else parsed[0]
    return entry


def _add_study_command(commands) -> None:
    keys, study = CATALOG["study_keys"], DEFAULTS["study"]
    parser = commands.add_parser(
        "study", help="train many models and seeds on ground-truth data, then compare them",
        description="Run a disentanglement study: every model (objective and hyper-parameters) "
        "with every seed on one dataset with ground-truth factors, each run in its own process, "
        "then every metric, UDR (unsupervised model selection), results.csv, summary.md, "
        "figures and report.html. Killed and started again, it skips the finished runs. "
        "The study comes from a TOML/JSON file (see docs/disentanglement.md), from the flags, "
        "or both (flags win).")
    parser.add_argument("config", metavar="STUDY", nargs="?", default=None,
                        help="a study file (.toml or .json)")
    parser.add_argument("--objectives", nargs="+", type=_objective_grid, default=None,
                        metavar="NAME[:KEY=V1,V2...]",
                        help="models, e.g. beta:beta=1,4 annealed factor:gamma=20 tcvae:beta=6 "
                        f"(objectives: {', '.join(CATALOG['objectives'])})")
    parser.add_argument("--dataset", type=_data_spec, default=None,
                        help=f"{keys['dataset']} (default {study['dataset']})")
    parser.add_argument("--seeds", type=_bounded(int, 0, 2**32 - 1), nargs="+", default=None,
                        help=f"default {' '.join(map(str, study['seeds']))}")
    parser.add_argument("--steps", type=_bounded(int, 1), default=None,
                        help=f"{keys['steps']} (default {study['steps']})")
    parser.add_argument("--batch-size", type=_bounded(int, 2), default=None,
                        help=f"default {study['batch_size']}")
    parser.add_argument("--learning-rate", type=_bounded(float, 0.0, exclusive_minimum=True),
                        default=None, help=f"default {study['learning_rate']:g}")
    parser.add_argument("--network", choices=CATALOG["study_networks"], default=None,
                        help="auto (default): the spatial-broadcast net for images, dense for vectors")
    parser.add_argument("--encoding-dim", type=_bounded(int, 1), default=None,
                        help=f"latent size (default {study['encoding_dim']})")
    parser.add_argument("--n-samples", type=_bounded(int, 2), default=None,
                        help=f"{keys['n_samples']} (default {study['n_samples']})")
    parser.add_argument("--eval-scale", type=_bounded(float, 0.0, 1.0, exclusive_minimum=True),
                        default=None, help=f"{keys['eval_scale']} (default {study['eval_scale']})")
    parser.add_argument("--udr-points", type=_bounded(int, 10), default=None,
                        help=f"{keys['udr_points']} (default {study['udr_points']})")
    parser.add_argument("--jobs", type=_bounded(int, 1), default=None,
                        help="runs at once, each in its own process (default: one per CPU, at most 8)")
    parser.add_argument("--threads-per-job", type=_bounded(int, 1), default=None,
                        help="TensorFlow threads of each run (default: CPUs / jobs)")
    parser.add_argument("--output-dir", default="study", help="the study's folder (default study/)")
    parser.add_argument("--report-only", action="store_true",
                        help="only rewrite the report of the runs already in --output-dir")


def _dims(text: str):
    return "all" if text == "all" else _bounded(int, 1)(text)
