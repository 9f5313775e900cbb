import csv

import matplotlib.image
import pytest

from betavae_tf import BetaVAE
from betavae_tf.sweep import COLUMNS, beta_sweep


def test_sweep_trains_one_model_per_beta_and_writes_the_comparison(digits, tmp_path):
    x_train, _ = digits
    # Train and test from one split: standardised rare pixels make the
    # validation split's KL noisy, which is not what this test is about.
    rows = beta_sweep(
        lambda beta: BetaVAE(input_dim=64, encoding_dim=4, beta=beta, seed=0),
        [0.01, 8.0], x_train[:800], x_train[800:1100], tmp_path, epochs=15, batch_size=64,
    )
    assert [row["beta"] for row in rows] == [0.01, 8.0]
    low, high = rows
    # A larger beta buys a smaller KL with a worse reconstruction.
    assert high["test_kl"] < low["test_kl"] and high["test_reconstruction"] > low["test_reconstruction"]
    for row in rows:
        assert row["test_total"] == pytest.approx(row["test_reconstruction"] + row["beta"] * row["test_kl"], rel=1e-4)
        assert row["epochs"] == 15 and row["seconds_per_epoch"] > 0
    with open(tmp_path / "beta_sweep.csv") as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == COLUMNS and len(table) == 2
    markdown = (tmp_path / "beta_sweep.md").read_text().splitlines()
    assert markdown[0].startswith("| β |") and markdown[2].startswith("| 0.01 |")
    for name in ("beta_sweep.png", "beta_sweep_traversals.png", "beta_0.01/vae_loss_plot.png", "beta_8/best_vae.h5"):
        assert (tmp_path / name).stat().st_size > 0
    mosaic = matplotlib.image.imread(tmp_path / "beta_sweep_traversals.png")
    assert mosaic.shape[1] > mosaic.shape[0]  # panels side by side


def test_sweep_refuses_bad_arguments(digits, tmp_path):
    x_train, x_val = digits
    build = lambda beta: BetaVAE(input_dim=64, beta=beta)  # noqa: E731
    with pytest.raises(ValueError, match="betas is empty"):
        beta_sweep(build, [], x_train, x_val, tmp_path)
    with pytest.raises(ValueError, match="beta must be a finite number >= 0.0. Received: beta=-1"):
        beta_sweep(build, [1, -1], x_train, x_val, tmp_path)
    with pytest.raises(ValueError, match=r"x_test has examples of shape \(8,\)"):
        beta_sweep(build, [1], x_train, x_val[:, :8], tmp_path)


def test_sweep_plot_labels_the_beta_axis_with_the_betas(tmp_path):
    from betavae_tf.sweep import plot_sweep

    rows = [{"beta": beta, "train_reconstruction": 30.0 + i, "test_reconstruction": 31.0 + i,
             "train_kl": 20.0 / (i + 1), "test_kl": 21.0 / (i + 1)}
            for i, beta in enumerate([0.1, 1.0, 4.0, 10.0])]
    figure = plot_sweep(rows, tmp_path / "beta_sweep.png")
    assert (tmp_path / "beta_sweep.png").stat().st_size > 1000
    for axes in figure.axes[:2]:
        assert axes.get_xscale() == "log" and axes.get_xlabel() == "β (log scale)"
        assert [t.get_text() for t in axes.get_xticklabels()] == ["0.1", "1", "4", "10"]
        assert axes.xaxis.get_minor_ticks() == []  # no unlabelled 10^k ticks
    # with β = 0 the axis is linear, still labelled with the betas
    rows[0]["beta"] = 0.0
    figure = plot_sweep(rows, None)
    assert figure.axes[0].get_xscale() == "linear"
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["0", "1", "4", "10"]
