import os

import keras
import matplotlib.image
import numpy as np
import pytest
from picture_models import (
    RNG,
    X_CONV,
    X_DENSE,
    assert_every_text_inside,
    build,
    cell,
    data,
    mosaic_of,
    numpy_of,
)
from PIL import Image

from betavae_tf.plots.display import DisplayOptions
from betavae_tf.plots.images import (
    interpolate_latents,
    plot_interpolation,
    plot_reconstructions,
    plot_samples,
)
from betavae_tf.plots.latent import plot_latent_pca
from betavae_tf.plots.traversals import latent_traversal, plot_latent_traversals


@pytest.fixture(scope="module")
def models():
    """Two models with different weights of each kind, and their data."""
    pairs = {kind: (build(kind, 1), build(kind, 2)) for kind in ("dense", "conv")}
    for first, second in pairs.values():
        assert not np.array_equal(first.decoder.weights[0], second.decoder.weights[0])
    return pairs


RENDERERS = {
    "reconstructions": lambda model, x, path: plot_reconstructions(model, x, n=4, save_path=path),
    "samples": lambda model, x, path: plot_samples(model, n=6, seed=3, save_path=path),
    "interpolation": lambda model, x, path: plot_interpolation(
        model, x[0], x[1], steps=4, save_path=path),
    "traversals": lambda model, x, path: plot_latent_traversals(
        model, x, values=[-2, 0, 2], save_path=path),
    "latent_pca": lambda model, x, path: plot_latent_pca(
        model, x, labels=np.arange(12) % 3, save_path=path),
}


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_every_picture_is_written_and_its_pixels_depend_on_the_model(models, kind, name, tmp_path):
    paths = [tmp_path / "new" / "folder" / f"{name}_{i}.png" for i in range(2)]
    for model, path in zip(models[kind], paths):
        figure = RENDERERS[name](model, data(kind), path)
        assert figure.__class__.__name__ == "Figure"
        assert path.stat().st_size > 1000
        assert_every_text_inside(figure)
    first, second = (matplotlib.image.imread(path) for path in paths)
    assert first.ndim == 3 and first.shape == second.shape
    assert np.abs(first - second).max() > 0.1  # other weights draw other pixels
    # written atomically: no temporary file is left beside the pictures
    assert sorted(os.listdir(paths[0].parent)) == sorted(p.name for p in paths)


def test_reconstruction_grid_shows_originals_above_deterministic_reconstructions(models):
    model = models["conv"][0]
    figure = plot_reconstructions(model, X_CONV, n=3, save_path=None)
    mosaic = mosaic_of(figure)
    assert mosaic.shape == (2 * 9 - 1, 3 * 9 - 1, 4)
    expected = numpy_of(model(X_CONV[:3]))
    for i in range(3):
        np.testing.assert_allclose(cell(mosaic, 0, i), X_CONV[i, ..., 0], atol=1e-6)
        np.testing.assert_allclose(cell(mosaic, 1, i), expected[i, ..., 0], atol=1e-6)
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["original", "reconstruction"]
    # columns are examples, not digits 0-9: no numbers over them
    assert [t.get_text() for t in axes.get_xticklabels()] == []
    assert len(figure.axes) == 1  # images in [0, 1]: no colourbar
    # n larger than the data shows all of it
    assert mosaic_of(plot_reconstructions(model, X_CONV[:2], n=50, save_path=None)).shape[1] == 17


def test_vectors_are_auto_scaled_per_figure_and_postprocessed(models):
    model = models["dense"][0]
    figure = plot_reconstructions(model, X_DENSE, n=2, save_path=None)
    shown = np.concatenate([X_DENSE[:2], numpy_of(model(X_DENSE[:2]))])
    low, high = shown.min(), shown.max()
    colorbar = figure.axes[1]
    np.testing.assert_allclose(colorbar.get_ylim(), (low, high), rtol=1e-6)
    mosaic = mosaic_of(figure)
    expected = (X_DENSE[0].reshape(4, 4) - low) / (high - low)
    np.testing.assert_allclose(cell(mosaic, 0, 0, size=4), expected, atol=1e-6)

    figure = plot_reconstructions(
        model, X_DENSE, n=2, save_path=None, postprocess=lambda a: 2 * a + 5
    )
    np.testing.assert_allclose(figure.axes[1].get_ylim(), (2 * low + 5, 2 * high + 5), rtol=1e-6)
    np.testing.assert_allclose(mosaic_of(figure), mosaic, atol=1e-6)  # an affine map: same picture

    figure = plot_reconstructions(model, X_DENSE, n=2, save_path=None, vmin=0.0, vmax=0.5)
    assert figure.axes[1].get_ylim() == (0.0, 0.5)
    np.testing.assert_allclose(
        cell(mosaic_of(figure), 0, 0, size=4),
        np.clip(X_DENSE[0].reshape(4, 4) / 0.5, 0, 1),
        atol=1e-6,
    )


def test_display_options_shapes_clipping_and_nan():
    show = DisplayOptions().show
    assert show(np.zeros((2, 64))).rgba.shape == (2, 8, 8, 4)
    strip = show(np.arange(20.0).reshape(2, 10))
    assert strip.rgba.shape == (2, 1, 10, 4)
    np.testing.assert_allclose(strip.rgba[1, 0, :, 0], np.arange(10, 20) / 19)
    assert DisplayOptions(image_shape=(2, 8)).show(np.zeros((2, 16))).rgba.shape == (2, 2, 8, 4)
    rgb = show(np.array([[[[-1.0, 0.25, 2.0]]]]))
    assert not rgb.grayscale
    np.testing.assert_allclose(rgb.rgba[0, 0, 0], [0.0, 0.25, 1.0, 1.0])
    with_nan = show(np.array([[[[np.nan]], [[0.5]]]]))
    np.testing.assert_allclose(with_nan.rgba[0, :, 0], [[0, 0, 0, 0], [0.5, 0.5, 0.5, 1]])
    constant = show(np.full((1, 4), 3.0))
    np.testing.assert_allclose(constant.rgba[..., 0], 0.5)
    with pytest.raises(ValueError, match=r"image_shape must be .* 16 values .*=\(3, 5\)"):
        DisplayOptions(image_shape=(3, 5)).show(np.zeros((1, 16)))
    with pytest.raises(ValueError, match="Cannot show images with 2 channels"):
        show(np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="vmin < vmax"):
        DisplayOptions(vmin=1.0, vmax=1.0).show(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="postprocess must return an array of 1 examples"):
        DisplayOptions(postprocess=lambda a: a[0]).show(np.zeros((1, 4)))


def test_strips_for_vectors_that_are_not_square(models):
    figure = plot_samples(models["dense"][0], n=4, save_path=None, image_shape=(1, 16))
    mosaic = mosaic_of(figure)
    assert mosaic.shape[:2] == (2 * 5 - 1, 2 * 17 - 1)  # strips drawn 4 pixels high, 1-pixel gaps
    assert figure.axes[0].get_aspect() == "auto"
    assert_every_text_inside(figure)


def test_samples_match_model_sample_and_individual_files(models, tmp_path):
    model = models["conv"][0]
    folder = tmp_path / "generated_images"
    plot_samples(model, n=5, seed=3, save_path=tmp_path / "samples.png", individual_dir=folder)
    names = sorted(os.listdir(folder))
    assert names == [f"sample_{i:04d}.png" for i in range(5)]
    expected = np.round(numpy_of(model.sample(5, seed=3))[..., 0] * 255)
    for i, name in enumerate(names):
        with Image.open(folder / name) as image:
            assert image.mode == "L" and image.size == (8, 8)
            assert np.abs(np.asarray(image, dtype=float) - expected[i]).max() <= 1
    grid = mosaic_of(plot_samples(model, n=5, seed=3, save_path=None, batch_size=2))
    assert grid.shape == (2 * 9 - 1, 3 * 9 - 1, 4)  # 5 samples on a 2 x 3 grid
    np.testing.assert_allclose(cell(grid, 1, 1), expected[4] / 255, atol=1 / 255)
    assert grid[9:, 18:, 3].max() == 0  # the sixth cell is empty (transparent)
    other = mosaic_of(plot_samples(model, n=5, seed=4, save_path=None))
    assert np.abs(other - grid).max() > 0.05


def test_interpolate_latents_is_exact_and_evenly_spaced():
    path = interpolate_latents(np.array([0.0, 1.0, 2.0]), np.array([3.0, 1.0, -2.0]), 4)
    expected = [[0, 1, 2], [1, 1, 2 / 3], [2, 1, -2 / 3], [3, 1, -2]]
    np.testing.assert_allclose(path, expected, atol=1e-12)
    start, end = RNG.normal(size=(2, 5)).astype("float32")
    path = interpolate_latents(start, end[None], 7)
    assert path.shape == (7, 5) and path.dtype == np.float32
    np.testing.assert_array_equal(path[0], start)
    np.testing.assert_array_equal(path[-1], end)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((end - start) / 6, (6, 1)), atol=1e-6)
    with pytest.raises(ValueError, match=r"steps must be an integer >= 2. Received: steps=1"):
        interpolate_latents(start, end, 1)
    with pytest.raises(ValueError, match="same size; got sizes 5 and 3"):
        interpolate_latents(start, end[:3], 3)


def test_interpolation_strip_has_labelled_originals_at_its_ends(models):
    model = models["conv"][0]
    figure = plot_interpolation(model, X_CONV[0], X_CONV[1:2], steps=3, save_path=None)
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == ["start\n(original)", "t=0.00", "t=0.50", "t=1.00", "end\n(original)"]
    mosaic = mosaic_of(figure)
    z_mean = numpy_of(model.encode(X_CONV[:2])[0])
    decoded = numpy_of(model.decode(interpolate_latents(z_mean[0], z_mean[1], 3)))
    np.testing.assert_allclose(cell(mosaic, 0, 0), X_CONV[0, ..., 0], atol=1e-6)
    np.testing.assert_allclose(cell(mosaic, 0, 4), X_CONV[1, ..., 0], atol=1e-6)
    for i in range(3):
        np.testing.assert_allclose(cell(mosaic, 0, i + 1), decoded[i, ..., 0], atol=1e-6)
    assert_every_text_inside(figure)


def test_tensors_from_encode_and_sample_are_as_good_as_arrays_from_predict(models):
    """`model.sample`/`model.encode` return tensors, `model.predict` NumPy arrays:
    every picture takes either and draws the same pixels."""
    model = models["dense"][0]
    tensors = keras.ops.convert_to_tensor(X_DENSE)
    arrays = model.predict(X_DENSE, verbose=0)
    as_tensors = model(tensors)  # the same values, as a tensor
    np.testing.assert_allclose(numpy_of(as_tensors), arrays, atol=1e-5)
    for draw in (
        lambda x: plot_reconstructions(model, x, n=3, save_path=None),
        lambda x: plot_interpolation(model, x[0], x[1], steps=3, save_path=None),
        lambda x: plot_latent_traversals(model, x, values=[-1, 1], save_path=None),
    ):
        np.testing.assert_allclose(mosaic_of(draw(as_tensors)), mosaic_of(draw(arrays)), atol=1e-5)
    z_mean = model.encode(tensors)[0]  # a tensor of labels
    figure = plot_latent_pca(model, as_tensors, labels=z_mean[:, 0], save_path=None)
    np.testing.assert_allclose(figure.axes[0].collections[0].get_array(), numpy_of(z_mean[:, 0]))
    to_tensor = keras.ops.convert_to_tensor
    figure = plot_samples(model, n=4, save_path=None, postprocess=lambda a: to_tensor(2 * a))
    assert mosaic_of(figure).shape[:2] == (2 * 5 - 1, 2 * 5 - 1)
    images, _ = latent_traversal(model, model.sample(2, seed=1)[0], dims=[0], values=[0.0])
    assert images.shape == (1, 1, 16)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: plot_reconstructions(m, np.zeros((4, 10)), save_path=None),
         r"x has examples of shape \(10,\) but the model expects \(16,\)"),
        (lambda m: plot_reconstructions(m, np.zeros((0, 16)), save_path=None),
         "x has 0 examples but at least 1 are needed"),
        (lambda m: plot_reconstructions(m, X_DENSE, n=0, save_path=None),
         "n must be an integer >= 1. Received: n=0"),
        (lambda m: plot_samples(m, n=0, save_path=None),
         "n must be an integer >= 1. Received: n=0"),
        (lambda m: plot_samples(m, n=2, seed=-1, save_path=None), "seed must be an integer >= 0"),
        (lambda m: plot_interpolation(m, X_DENSE[0], X_DENSE[1], steps=1, save_path=None),
         "steps must be an integer >= 2. Received: steps=1"),
        (lambda m: plot_interpolation(m, np.zeros(10), X_DENSE[1], save_path=None),
         r"x_start has shape \(10,\) but the model expects examples of shape \(16,\)"),
        (lambda m: plot_interpolation(m, X_DENSE[0], X_DENSE[:2], save_path=None),
         "x_end must be one example of shape \\(16,\\), but it has 2 examples"),
        (lambda m: plot_latent_pca(m, X_DENSE, labels=[0, 1, 2], save_path=None),
         r"labels has shape \(3,\) but x has 12 examples; pass one label per example"),
        (lambda m: plot_latent_pca(m, np.zeros((0, 16)), save_path=None), "x has 0 examples"),
        (lambda m: plot_latent_traversals(m, X_DENSE, n_dims=4, save_path=None),
         "n_dims=4 but the model has 3 latent dimensions; pass n_dims <= 3"),
        (lambda m: plot_latent_traversals(m, X_DENSE, n_dims="most", save_path=None),
         "n_dims must be an integer >= 1"),
        (lambda m: plot_latent_traversals(m, np.zeros((0, 16)), save_path=None),
         "x has 0 examples"),
        (lambda m: plot_latent_traversals(m, X_DENSE, values=[], save_path=None),
         "values must be a non-empty 1-D sequence"),
        (lambda m: latent_traversal(m, X_DENSE, dims=[0, 3]),
         r"dims must be latent indices in \[0, 2\]"),
        (lambda m: plot_samples(m, n=2, image_shape=(3, 3), save_path=None),
         "image_shape must be .* with 16 values"),
    ],
)
def test_bad_arguments_give_one_line_errors(models, call, message):
    with pytest.raises(ValueError, match=message) as error:
        call(models["dense"][0])
    assert "\n" not in str(error.value)


def test_a_misspelt_display_option_names_the_right_ones(models):
    message = (r"plot_samples\(\) got an unexpected keyword argument 'imge_shape'; its "
               r"display options are image_shape, postprocess, vmin, vmax")
    with pytest.raises(TypeError, match=message):
        plot_samples(models["dense"][0], n=2, save_path=None, imge_shape=(4, 4))
