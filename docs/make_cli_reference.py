"""Writes docs/cli.md, the command-line reference, from the argparse definitions."""

import os

from betavae_tf.cli import reference_markdown

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli.md")

if __name__ == "__main__":
    with open(PATH, "w", encoding="utf-8") as handle:
        handle.write(reference_markdown())
    print(f"Wrote {PATH}")
