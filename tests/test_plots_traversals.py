import numpy as np
import pytest
from picture_models import (
    X_CONV,
    X_DENSE,
    assert_every_text_inside,
    build,
    data,
    informative_model,
    numpy_of,
)
from PIL import Image

from betavae_tf import BetaVAE
from betavae_tf.metrics import kl_per_dimension
from betavae_tf.plots.traversals import latent_traversal, plot_latent_traversals


def row_labels(figure):
    return [t.get_text() for t in figure.axes[0].get_yticklabels()]


def test_latent_traversal_shapes_and_values():
    model = build("conv", 1)
    images, dims = latent_traversal(model, X_CONV)
    assert images.shape == (3, 9, 8, 8, 1) and sorted(dims.tolist()) == [0, 1, 2]
    images, dims = latent_traversal(model, X_CONV[0], dims=[2, 0], values=[-1.0, 1.5])
    assert images.shape == (2, 2, 8, 8, 1) and dims.tolist() == [2, 0]
    base = numpy_of(model.encode(X_CONV[:1])[0])[0]
    code = base.copy()
    code[0] = 1.5
    np.testing.assert_allclose(images[1, 1], numpy_of(model.decode(code[None]))[0], atol=1e-6)
    images, _ = latent_traversal(model, X_CONV[:1], dims=[1], values=[0.5], relative=True)
    code = base.copy()
    code[1] += 0.5
    np.testing.assert_allclose(images[0, 0], numpy_of(model.decode(code[None]))[0], atol=1e-6)


def test_traversal_rows_are_ordered_by_kl(tmp_path):
    model = informative_model()
    kl = kl_per_dimension(model, X_DENSE)
    np.testing.assert_allclose(kl, [0, 4.5, 0.5], atol=1e-6)
    assert latent_traversal(model, X_DENSE)[1].tolist() == [1, 2, 0]
    figure = plot_latent_traversals(model, X_DENSE, save_path=tmp_path / "t.png")
    assert row_labels(figure) == ["z1  KL=4.50 nats", "z2  KL=0.50 nats", "z0  KL=0.00 nats"]
    columns = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert columns == ["-3", "-2.25", "-1.5", "-0.75", "+0", "+0.75", "+1.5", "+2.25", "+3"]
    figure = plot_latent_traversals(model, X_DENSE, n_dims=1, save_path=None)
    assert row_labels(figure) == ["z1  KL=4.50 nats"]


def test_by_default_the_ten_dimensions_with_the_highest_kl():
    model = build("dense", 3, latent=12)
    order = np.argsort(-kl_per_dimension(model, X_DENSE), kind="stable")
    expected = [f"z{d}" for d in order]
    figure = plot_latent_traversals(model, X_DENSE, values=[-1, 1], save_path=None)
    assert [label.split()[0] for label in row_labels(figure)] == expected[:10]
    assert "Latent traversals: the 10 of 12 dimensions with the highest KL" in [
        t.get_text() for t in figure.texts]
    figure = plot_latent_traversals(model, X_DENSE, n_dims="all", values=[-1, 1], save_path=None)
    assert [label.split()[0] for label in row_labels(figure)] == expected
    figure = plot_latent_traversals(model, X_DENSE, n_dims=4, values=[-1, 1], save_path=None)
    assert [label.split()[0] for label in row_labels(figure)] == expected[:4]
    assert latent_traversal(model, X_DENSE, values=[0.0])[1].tolist() == order[:10].tolist()
    assert latent_traversal(model, X_DENSE, dims="all", values=[0.0])[1].tolist() == order.tolist()


def test_three_digit_labels_are_not_cut_off():
    model = BetaVAE(input_dim=16, encoding_dim=128, seed=0)
    figure = plot_latent_traversals(model, X_DENSE, n_dims="all", values=[-1, 1], save_path=None)
    names = {label.split()[0] for label in row_labels(figure)}
    assert len(row_labels(figure)) == 128 and {"z100", "z127"} <= names
    assert_every_text_inside(figure)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_traversal_gif_has_one_frame_per_value(kind, tmp_path):
    gif = tmp_path / "gifs" / "traversal.gif"
    plot_latent_traversals(
        build(kind, 1), data(kind), values=np.linspace(-2, 2, 5), save_path=None, gif_path=gif
    )
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 5 and image.info["loop"] == 0
        image.seek(0)
        first = np.asarray(image.convert("L"), dtype=float)
        image.seek(4)
        last = np.asarray(image.convert("L"), dtype=float)
    # three rows side by side on the grid, each enlarged to >= 96 pixels
    assert first.shape[1] > 3 * 96 and first.shape[0] > 96 and first.shape == last.shape
    assert np.abs(first - last).max() > 10


def test_gif_lays_the_rows_out_on_a_labelled_grid(tmp_path):
    model = build("dense", 3, latent=12)
    gif = tmp_path / "traversal.gif"
    plot_latent_traversals(model, X_DENSE, values=[-2, 0, 2], save_path=None, gif_path=gif)
    with Image.open(gif) as image:
        frames = []
        for k in range(image.n_frames):
            image.seek(k)
            frames.append(np.asarray(image.convert("L"), dtype=float))
    height, width = frames[0].shape
    # 10 rows on 5 columns x 2 rows of >= 96-pixel cells: wide, not one tall column
    assert width >= 5 * 96 and 2 * 96 < height < width
    header = slice(0, 30)  # the value of each frame is written at the top
    assert np.abs(frames[0][header] - frames[1][header]).max() > 100
    assert (frames[0] < 100).sum() > 0  # dark text and images on white


def test_relative_traversals_label_their_columns_as_offsets():
    figure = plot_latent_traversals(informative_model(), X_DENSE, values=[-1, 1], relative=True,
                                    save_path=None)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["Δ-1", "Δ+1"]
