"""What each `betavae-tf` command does: printing over library functions.

TensorFlow is imported only here, when a command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from betavae_tf.cli.parser import CATALOG, DEFAULT_MODEL, PICTURES


# --------------------------------------------------------------------- helpers
def quiet_tensorflow() -> None:
    """Imports TensorFlow, showing its real errors but not its start-up chatter."""
    from betavae_tf.tf_logging import import_tensorflow_quietly

    import_tensorflow_quietly()


_API_WORDS = {  # library wording -> the flag a command-line user passes
    "pass data_dir=<folder with the 4 MNIST IDX files>": "pass --data mnist:DIR (the folder with the 4 MNIST IDX files)",
    "change extensions=": "convert them to JPEG or PNG",
}


def in_flag_words(message: str, parser: argparse.ArgumentParser) -> str:
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
        "compiled_epoch": {"auto": "auto", "on": True, "off": False}[args.compiled_epoch],
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
    from betavae_tf.atomic import write_json
    from betavae_tf.datasets.sources import ground_truth_dataset
    from betavae_tf.evaluation import (
        DISENTANGLEMENT_METRICS,
        evaluate_disentanglement,
        plot_evaluation_report,
    )

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
    write_json(json_path, report)
    plot_evaluation_report(model, x, report.get("metrics"), png_path, **_display_options(data))
    print(json.dumps(report, indent=2))
    _report({"evaluation": json_path, "report": png_path})
    return 0


def _study(args) -> int:
    from betavae_tf.study.report import write_report
    from betavae_tf.study.runner import STUDY_FILE, run_study
    from betavae_tf.study.spec import check_spec, load_spec

    raw = {}
    if args.config:
        raw = load_spec(args.config).to_dict()
    elif args.report_only and os.path.exists(os.path.join(args.output_dir, STUDY_FILE)):
        with open(os.path.join(args.output_dir, STUDY_FILE), encoding="utf-8") as handle:
            raw = json.load(handle)
    for key in ("dataset", "seeds", "steps", "batch_size", "learning_rate", "network",
                "encoding_dim", "n_samples", "eval_scale", "udr_points"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if args.objectives:
        raw["models"] = args.objectives
    if "models" not in raw:
        raise ValueError("Name the models: pass a study file or --objectives, e.g. "
                         "--objectives beta:beta=1,4 factor:gamma=20.")
    spec = check_spec(raw, args.config or "flags")
    if args.report_only:
        files = write_report(os.path.abspath(args.output_dir), spec)
        _report(files)
        return 0
    records = run_study(spec, args.output_dir, jobs=args.jobs, threads_per_job=args.threads_per_job)
    return 0 if all(r["status"] == "finished" for r in records) else 1


COMMANDS = {"train": _train, "sweep": _sweep, "evaluate": _evaluate, "study": _study,
            **dict.fromkeys(PICTURES, _pictures)}
