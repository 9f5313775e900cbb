import matplotlib.image
import numpy as np
import pytest

from betavae_tf import plot_vae_history

LOGS = {
    "loss": [10.0, 8.0, 7.0], "val_loss": [11.0, 9.0, 8.5],
    "reconstruction_loss": [9.0, 6.0, 5.0], "val_reconstruction_loss": [10.0, 7.0, 6.5],
    "kl_loss": [1.0, 2.0, 2.0], "val_kl_loss": [1.0, 2.0, 2.0],
    "beta": [0.0, 0.5, 1.0],
}


def test_plot_is_written_with_two_panels_and_depends_on_the_data(tmp_path):
    path = tmp_path / "sub" / "vae_loss_plot.png"
    figure = plot_vae_history(LOGS, path)
    assert path.stat().st_size > 1000
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[:2] == ["Total loss (reconstruction + β·KL)", "Loss terms"]
    assert len(figure.axes[1].get_lines()) == 4  # reconstruction and KL, train and val
    other = dict(LOGS, loss=[20.0, 3.0, 1.0])
    plot_vae_history(other, tmp_path / "other.png")
    first = matplotlib.image.imread(path)
    second = matplotlib.image.imread(tmp_path / "other.png")
    assert first.shape == second.shape and not np.array_equal(first, second)


def test_plot_without_a_file_and_bad_histories():
    assert plot_vae_history({"loss": [1.0]}, save_path=None) is not None
    with pytest.raises(ValueError, match="history has no 'loss' values"):
        plot_vae_history({"loss": []})
    with pytest.raises(ValueError, match="history must be a keras History or a dict"):
        plot_vae_history([1, 2])
