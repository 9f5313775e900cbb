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


def test_legends_sit_under_the_curves_and_epochs_are_whole_numbers():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = plot_vae_history(dict(LOGS, loss=[10.0, 8.0, 7.0, 6.5, 6.0], val_loss=[11.0] * 5,
                                   reconstruction_loss=[9.0] * 5, kl_loss=[1.0] * 5,
                                   val_reconstruction_loss=[9.5] * 5, val_kl_loss=[1.1] * 5,
                                   beta=[0.0, 0.5, 1.0, 1.0, 1.0]), save_path=None)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    for axes in figure.axes[:2]:
        legend = axes.get_legend().get_window_extent(renderer)
        assert legend.y1 < axes.get_window_extent(renderer).y0  # below the plotting area
        assert legend.y0 >= 0  # and not cut off
        ticks = [t.get_text() for t in axes.get_xticklabels() if t.get_text()]
        assert ticks and all(t.isdigit() for t in ticks)
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == [
        "train", "validation", "β (right axis)"]
