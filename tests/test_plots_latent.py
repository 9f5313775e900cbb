import keras
import numpy as np
from picture_models import X_DENSE, assert_every_text_inside, build, numpy_of
from sklearn.decomposition import PCA

from betavae_tf import BetaVAE
from betavae_tf.plots.latent import plot_latent_pca, robust_limits


def test_latent_pca_scatter_legend_and_colourbar(tmp_path):
    model = build("dense", 1)
    figure = plot_latent_pca(model, X_DENSE, save_path=None)
    z_mean = numpy_of(model.encode(X_DENSE)[0]).astype(float)
    expected = PCA(n_components=2).fit_transform(z_mean)
    np.testing.assert_allclose(figure.axes[0].collections[0].get_offsets(), expected, atol=1e-5)

    figure = plot_latent_pca(
        model, X_DENSE, labels=np.arange(12) % 3, label_name="digit", save_path=None
    )
    legend = figure.axes[0].get_legend()
    assert legend.get_title().get_text() == "digit"
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    assert len(figure.axes) == 1
    figure = plot_latent_pca(model, X_DENSE, labels=np.array(list("abcabcabcabc")), save_path=None)
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["a", "b", "c"]

    factor = np.linspace(0.0, 1.0, 12)
    figure = plot_latent_pca(
        model, X_DENSE, labels=factor, label_name="scale", save_path=tmp_path / "c.png"
    )
    assert figure.axes[0].get_legend() is None and figure.axes[1].get_ylabel() == "scale"
    np.testing.assert_allclose(figure.axes[0].collections[0].get_array(), factor)
    # 12 distinct integers: a continuous scale unless categorical=True
    figure = plot_latent_pca(model, X_DENSE, labels=np.arange(12), save_path=None)
    assert len(figure.axes) == 2
    figure = plot_latent_pca(model, X_DENSE, labels=np.arange(12), categorical=True, save_path=None)
    assert len(figure.axes[0].get_legend().get_texts()) == 12
    assert_every_text_inside(figure)


def test_latent_pca_of_a_one_dimensional_latent_and_of_one_example(tmp_path):
    keras.utils.set_random_seed(7)
    model = BetaVAE(input_dim=16, encoding_dim=1)
    labels = np.linspace(0, 1, 12)
    figure = plot_latent_pca(model, X_DENSE, labels=labels, save_path=tmp_path / "p.png")
    axes = figure.axes[0]
    assert axes.get_xlabel() == "example index"
    offsets = axes.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], np.arange(12))
    np.testing.assert_allclose(offsets[:, 1], numpy_of(model.encode(X_DENSE)[0])[:, 0], atol=1e-6)
    assert (tmp_path / "p.png").stat().st_size > 1000
    single = build("dense", 1)
    figure = plot_latent_pca(single, X_DENSE[:1], save_path=None)
    np.testing.assert_allclose(figure.axes[0].collections[0].get_offsets(), [[0.0, 0.0]])


def test_robust_limits_leave_out_far_outliers_only():
    normal = np.random.default_rng(0).normal(size=5000)
    assert robust_limits(normal) is None  # normal data: every point shown
    assert robust_limits(np.array([0.0, 1.0, 2.0, 3.0])) is None
    assert robust_limits(np.zeros(10)) is None
    low, high = robust_limits(np.append(normal, -27.0))
    assert -6 < low < -3  # the side of the outlier stops near the bulk of the points
    assert high >= normal.max()  # the other side shows every point
    small = np.append(np.linspace(-1, 1, 39), 40.0)  # one outlier among 40 points
    low, high = robust_limits(small)
    assert low <= -1 and 1 <= high < 5


def test_one_far_point_does_not_squeeze_the_latent_plot():
    """A point at PC1 = −27 used to squeeze every other point into a sliver."""
    model = build("dense", 1, latent=4)
    x = np.random.default_rng(1).normal(size=(300, 16)).astype("float32")
    x[7] *= 80  # one far-off input
    labels = np.arange(300) % 3
    figure = plot_latent_pca(model, x, labels=labels, save_path=None)
    axes = figure.axes[0]
    z_mean = numpy_of(model.encode(x)[0]).astype(float)
    coords = PCA(n_components=2).fit_transform(z_mean)
    others = np.delete(coords, 7, axis=0)
    (x_low, x_high), (y_low, y_high) = axes.get_xlim(), axes.get_ylim()
    # the view fits the other points, not the outlier ...
    assert ((x_high - x_low) < 1.5 * np.ptp(others[:, 0])
            or (y_high - y_low) < 1.5 * np.ptp(others[:, 1]))
    assert not (x_low <= coords[7, 0] <= x_high and y_low <= coords[7, 1] <= y_high)
    # ... which is drawn as a cross on the border with every other point beyond
    # the axes, and counted under the plot
    beyond = ~((x_low <= coords[:, 0]) & (coords[:, 0] <= x_high)
               & (y_low <= coords[:, 1]) & (coords[:, 1] <= y_high))
    count = int(beyond.sum())
    assert beyond[7] and count < 10
    crosses = [c for c in axes.collections if len(c.get_offsets()) and
               c.get_paths()[0].vertices.shape != axes.collections[0].get_paths()[0].vertices.shape]
    assert sum(len(c.get_offsets()) for c in crosses) == count
    for cross in np.concatenate([c.get_offsets() for c in crosses]):
        assert x_low <= cross[0] <= x_high and y_low <= cross[1] <= y_high
    assert (f"{count} of 300 points {'lies' if count == 1 else 'lie'} beyond the axes, drawn as × "
            "on the border") in axes.get_xlabel()
    assert sum(len(c.get_offsets()) for c in axes.collections) == 300  # every point drawn once
    assert_every_text_inside(figure)
