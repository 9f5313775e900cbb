"""Command line: `betavae-tf COMMAND ...` (also `python -m betavae_tf ...`).

A thin layer: argparse (`cli.parser`, built from the library's registries and
signatures without importing TensorFlow) and printing over library functions
(`cli.commands`: `betavae_tf.runs.train_run`, `beta_sweep`, the picture
functions, `evaluate_disentanglement`). TensorFlow is imported only when a
command runs, with its start-up chatter filtered (`betavae_tf.tf_logging`).

Commands: train, sweep, generate, reconstruct, interpolate, traverse,
latent-plot, evaluate, study. Each prints where it wrote its files.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from betavae_tf.cli.commands import COMMANDS, in_flag_words, quiet_tensorflow
from betavae_tf.cli.parser import CATALOG, build_parser

__all__ = ["build_parser", "main", "reference_markdown"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `betavae-tf` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from betavae_tf.interrupts import TrainingInterrupted, interruptible

        with interruptible():
            quiet_tensorflow()
            return COMMANDS[args.command](args)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        if args.command != "study":  # a study's keys are written as in its file, not as flags
            message = in_flag_words(message, parser)
        parser.exit(2, f"betavae-tf: error: {message}\n")
    except KeyboardInterrupt as error:  # TrainingInterrupted, or Ctrl-C before the handler
        code = error.exit_code if isinstance(error, TrainingInterrupted) else 130
        parser.exit(code, f"\nbetavae-tf: {error or 'interrupted'}.\n")


def reference_markdown() -> str:
    """The command-line reference (docs/cli.md), from the argparse definitions."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # the same line breaks on every terminal
    try:
        return _reference_markdown(build_parser())
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


def _reference_markdown(parser) -> str:
    lines = [
        "# Command-line reference",
        "",
        "Generated from the argparse definitions in `betavae_tf/cli/parser.py` by "
        "`python docs/make_cli_reference.py`; `tests/test_cli_catalog.py` fails when it is out "
        "of date.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
        "",
        "## Data sources (`--data KIND[:PATH]`)",
        "",
        "| KIND | path | what | ground-truth factors |",
        "| --- | --- | --- | --- |",
        *(f"| `{kind}` | {source['path']} | {source['help']} | {'yes' if source['ground_truth'] else ''} |"
          for kind, source in CATALOG["data_sources"].items()),
    ]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in subparsers.choices.items():
        lines += ["", f"## `betavae-tf {name}`", "", "```text", command.format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"
