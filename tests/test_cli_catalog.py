"""The command line's snapshots of the library stay current: its catalog of
registries and defaults, and the generated reference in docs/cli.md."""

import pathlib

from betavae_tf.cli import reference_markdown
from betavae_tf.cli_catalog import build_catalog, load_catalog

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_catalog_is_what_the_library_says():
    # Regenerate with: python -m betavae_tf.cli_catalog
    assert load_catalog() == build_catalog()


def test_the_cli_reference_is_current():
    # Regenerate with: python docs/make_cli_reference.py
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == reference_markdown()


def test_the_cli_offers_every_registered_name():
    from betavae_tf.cli import build_parser
    from betavae_tf.datasets.sources import DATA_SOURCES
    from betavae_tf.losses import LIKELIHOODS
    from betavae_tf.objectives import OBJECTIVES
    from betavae_tf.presets import CONV_PRESETS

    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    choices = {a.dest: a.choices for a in train._actions}
    assert set(choices["likelihood"]) == set(LIKELIHOODS)
    assert set(choices["objective"]) == set(OBJECTIVES)
    assert set(choices["preset"]) == set(CONV_PRESETS)
    data = next(a for a in train._actions if a.dest == "data")
    assert all(kind in data.help for kind in DATA_SOURCES)
