"""The `betavae_tf.plots` package: one way to make and save figures, old import
paths kept, and no import of pyplot, training or the CLI."""

import ast
import importlib
import os
import pathlib

import matplotlib.image
import numpy as np
import pytest

import betavae_tf
from betavae_tf import plots
from betavae_tf.plots import figures

PLOTS = pathlib.Path(plots.__file__).parent


@pytest.mark.parametrize(
    "old_module, names",
    [
        ("betavae_tf.pictures", ["interpolate_latents", "latent_traversal", "plot_interpolation",
                                 "plot_latent_pca", "plot_latent_traversals",
                                 "plot_reconstructions", "plot_samples",
                                 "DEFAULT_TRAVERSAL_VALUES"]),
        ("betavae_tf.plotting", ["plot_vae_history", "figure_to_rgba"]),
        ("betavae_tf.evaluation", ["plot_evaluation_report"]),
        ("betavae_tf.sweep", ["plot_sweep", "plot_sweep_traversals"]),
        ("betavae_tf", ["plot_vae_history", "plot_samples", "plot_reconstructions",
                        "plot_interpolation", "plot_latent_traversals", "latent_traversal",
                        "plot_latent_pca", "interpolate_latents"]),
    ],
)
def test_old_import_paths_give_the_plots_functions(old_module, names):
    module = importlib.import_module(old_module)
    for name in names:
        assert getattr(module, name) is getattr(plots, name), name


def test_plots_import_neither_pyplot_nor_training_nor_the_cli():
    forbidden = ("matplotlib.pyplot", "betavae_tf.training", "betavae_tf.cli",
                 "betavae_tf.train_loop", "betavae_tf.callbacks", "betavae_tf.sweep")
    for path in PLOTS.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in imported:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
    assert len(list(PLOTS.glob("*.py"))) >= 8
    for path in PLOTS.glob("*.py"):  # small modules
        assert len(path.read_text().splitlines()) < 400, path.name


def test_figures_are_saved_atomically_into_new_folders(tmp_path):
    figure = figures.make_figure(3, 2, title="A title")
    figure.add_subplot().plot([0, 1], [1, 0])
    path = tmp_path / "new" / "plot.png"
    figures.save_figure(figure, path)
    assert matplotlib.image.imread(path).shape == (200, 300, 4)
    assert figure.get_suptitle() == "A title"
    before = path.read_bytes()

    def broken(temporary, **kwargs):  # writes half a file, then fails
        with open(temporary, "wb") as handle:
            handle.write(b"\x89PNG half")
        raise OSError("disk full")

    figure.savefig = broken
    with pytest.raises(OSError, match="disk full"):
        figures.save_figure(figure, path)
    assert path.read_bytes() == before  # the old picture is intact
    assert os.listdir(path.parent) == ["plot.png"]  # and no temporary file is left
    figures.save_figure(figure, None)  # nothing to write

    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 3] = 255
    figures.save_rgba(rgba, tmp_path / "other" / "mosaic.png")
    np.testing.assert_array_equal(
        (matplotlib.image.imread(tmp_path / "other" / "mosaic.png") * 255).astype(np.uint8), rgba)


def test_figure_to_rgba_has_the_pixels_of_the_saved_png(tmp_path):
    figure = betavae_tf.plot_vae_history({"loss": [3.0, 2.0, 1.0]}, tmp_path / "loss.png")
    rgba = figures.figure_to_rgba(figure)
    saved = matplotlib.image.imread(tmp_path / "loss.png")
    assert rgba.shape == saved.shape and rgba.dtype == np.uint8
    assert np.abs(rgba / 255.0 - saved).mean() < 0.01


def test_text_sizes_grow_with_the_text():
    short, tall = figures.text_size("z1", 8), figures.text_size("z109\nKL", 8)
    assert 0 < short[0] < figures.text_size("z109  KL=0.12 nats", 8)[0]
    assert tall[1] > 1.8 * short[1]
    assert figures.text_size("z1", 16)[0] == pytest.approx(2 * short[0], rel=0.1)
