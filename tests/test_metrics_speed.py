"""The speed-ups of the metrics change no value.

Three checks, each against something straightforward:

* recorded values: `RECORDED` was computed with the ORIGINAL code (commit
  c6aceb0, before any speed-up: per-slice eager `model.encode`, full-canvas
  rendering, sequential DCI fits) by running the metrics below on rendered
  dSprites with `moments`, a representation that is exact in float64 (integer
  pixel sums divided by a power of two), so the values do not depend on
  BLAS's summation order; the current code must give exactly the same values;
* frozen copies of the original code paths (`reference_render`,
  `reference_encode`, `reference_importance_matrix`) against the fast ones,
  bit for bit;
* `evaluate_disentanglement` on a real model and `DSprites()` against the
  same metrics fed by the reference renderer and the eager encoder.
"""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from betavae_tf import BetaVAE
from betavae_tf.datasets import DSprites, SyntheticFactors
from betavae_tf.datasets import dsprites as dsprites_module
from betavae_tf.evaluation import (
    DISENTANGLEMENT_METRICS,
    evaluate_disentanglement,
    scaled_hyper_parameters,
)
from betavae_tf.metrics import beta_vae_score, dci, factor_vae_score, mean_representation, mig, sap
from betavae_tf.metrics.dci import importance_matrix_gbt
from betavae_tf.networks import build_mlp_encoder, build_spatial_broadcast_decoder

# ------------------------------------------------------------ recorded values
ROW, COL = np.mgrid[0:64, 0:64].reshape(2, 4096).astype(np.float64)
MOMENTS = np.stack([np.ones(4096), COL, ROW, COL * COL, ROW * ROW, COL * ROW,
                    *np.random.RandomState(1234).randint(-2, 3, size=(2, 4096))], axis=1)


def moments(x):
    """Pixel moments (area, sums of col, row, col², row², col·row) and two random
    integer projections, divided by 4096: exact in float64 whatever the summation order."""
    return (np.asarray(x, np.float64).reshape(len(x), -1) @ MOMENTS) / 4096.0


SETTINGS = {
    "mig": (mig, dict(num_train=1000)),
    "sap": (sap, dict(num_train=600, num_test=300)),
    "dci": (dci, dict(num_train=500, num_test=300)),
    "beta_vae_score": (beta_vae_score, dict(batch_size=16, num_train=200, num_eval=100)),
    "factor_vae_score": (factor_vae_score, dict(batch_size=16, num_train=300, num_eval=200,
                                                num_variance_estimate=3000)),
}

# Computed with commit c6aceb0 (the code before the speed-ups), this machine's
# NumPy 2.4.6 / scikit-learn 1.9.1.
RECORDED = {
    "mig/seed0": {"discrete_mig": 0.1940798590262795, "mig_per_factor": [
        0.3720291749800477, 0.5118224411363372, 3.09388914701645e-05, 0.04583543300040979,
        0.04068130712313254]},
    "sap/seed0": {"sap_score": 0.010666666666666668},
    "dci/seed0": {"disentanglement": 0.2209087599870324, "completeness": 0.30816315777580755,
                  "informativeness_train": 1.0, "informativeness_test": 0.41},
    "beta_vae_score/seed0": {"train_accuracy": 0.54, "eval_accuracy": 0.46},
    "factor_vae_score/seed0": {"train_accuracy": 0.49666666666666665, "eval_accuracy": 0.47,
                               "num_active_dims": 5},
    "mig/seed7": {"discrete_mig": 0.2052160543235501, "mig_per_factor": [
        0.38846104111199004, 0.5278233019163807, 0.00798611681120024, 0.05196502976370956,
        0.049844782014470235]},
    "sap/seed7": {"sap_score": 0.017333333333333326},
    "dci/seed7": {"disentanglement": 0.23720718670062887, "completeness": 0.32096629508575547,
                  "informativeness_train": 0.9987999999999999,
                  "informativeness_test": 0.44266666666666665},
    "beta_vae_score/seed7": {"train_accuracy": 0.505, "eval_accuracy": 0.48},
    "factor_vae_score/seed7": {"train_accuracy": 0.54, "eval_accuracy": 0.41,
                               "num_active_dims": 5},
}


@pytest.mark.parametrize("seed", [0, pytest.param(7, marks=pytest.mark.slow)])  # 7: a second draw
@pytest.mark.parametrize("name", list(SETTINGS))
def test_metrics_give_the_values_of_the_original_code(name, seed):
    metric, hyper_parameters = SETTINGS[name]
    assert metric(moments, DSprites(), seed, **hyper_parameters) == RECORDED[f"{name}/seed{seed}"]


# ------------------------------------------------------------------ rendering
def reference_render(latents_values, image_size=64):
    """The original renderer (commit c6aceb0): every pixel of the canvas, `**` cubes."""
    values = np.asarray(latents_values, dtype=np.float64)
    shapes = np.rint(values[:, 1]).astype(np.int64)
    out = np.empty((len(values), image_size, image_size, 1), dtype=np.float32)
    for start in range(0, len(values), 1024):
        part = values[start : start + 1024]
        out[start : start + 1024, ..., 0] = _reference_render_chunk(
            shapes[start : start + 1024], *part[:, 2:].T, image_size)
    return out


def _reference_render_chunk(shapes, scales, orientations, pos_x, pos_y, image_size):
    ratio = image_size / 64
    margin = 12.0 * ratio
    grid = np.arange(image_size, dtype=np.float32) + np.float32(0.5)
    out = np.zeros((len(shapes), image_size, image_size), dtype=np.float32)
    for shape in (1, 2, 3):
        rows = np.flatnonzero(shapes == shape)
        if not rows.size:
            continue

        def column(values, rows=rows):
            return values[rows].astype(np.float32)[:, None, None]

        centre_x = margin + column(pos_x) * (image_size - 2 * margin)
        centre_y = margin + column(pos_y) * (image_size - 2 * margin)
        dx = grid[None, None, :] - centre_x
        dy = centre_y - grid[None, :, None]
        angle = column(orientations)
        cos, sin = np.cos(angle), np.sin(angle)
        half = np.float32(8.0 * ratio) * column(scales)
        u = (cos * dx + sin * dy) / half
        v = (cos * dy - sin * dx) / half
        if shape == 1:
            inside = np.maximum(np.abs(u), np.abs(v)) <= 1.0
        elif shape == 2:
            inside = u * u + (v / 0.5) ** 2 <= 1.0
        else:
            x2 = (u * 1.139) ** 2
            y = v * 1.118 + 0.118
            inside = (x2 + y * y - 1.0) ** 3 - x2 * y**3 <= 0.0
        out[rows] = inside
    return out


def grid_values(data, indices):
    return data.latents_values(data.index_to_classes(np.asarray(indices)))


def test_rendering_is_bit_identical_to_the_original_renderer():
    data = DSprites()
    rng = np.random.RandomState(0)
    indices = rng.randint(0, data.num_images, 4000)
    # Every shape, scale and orientation at the four corners (windows clipped
    # by the canvas) and at the centre.
    classes = np.stack(np.meshgrid([0], [0, 1, 2], range(6), range(40), [0, 16, 31], [0, 16, 31],
                                   indexing="ij"), -1).reshape(-1, 6)
    for values in (grid_values(data, indices), grid_values(data, data.classes_to_index(classes))):
        np.testing.assert_array_equal(dsprites_module.render(values), reference_render(values))
    np.testing.assert_array_equal(data.images(indices[:100]), reference_render(grid_values(data, indices[:100])))


@pytest.mark.parametrize("image_size", [64, 32, 48, 128, 8])
def test_off_grid_rendering_is_bit_identical_to_the_original_renderer(image_size):
    rng = np.random.RandomState(image_size)
    n = 1500
    values = np.stack([np.ones(n), rng.randint(1, 4, n), rng.uniform(-0.2, 1.8, n),
                       rng.uniform(-7, 7, n), rng.uniform(-0.4, 1.4, n), rng.uniform(-0.4, 1.4, n)], 1)
    np.testing.assert_array_equal(dsprites_module.render(values, image_size),
                                  reference_render(values, image_size))
    values[::97, 2] = 0.0
    values[5::101, 4] = np.nan
    values[7::103, 3] = np.inf
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(dsprites_module.render(values, image_size),
                                      reference_render(values, image_size))


@pytest.mark.slow
def test_every_dsprites_image_is_bit_identical_to_the_original_renderer():
    """All 737,280 images (about a minute, most of it in the reference renderer)."""
    data = DSprites()
    for start in range(0, data.num_images, 16384):
        values = grid_values(data, np.arange(start, min(start + 16384, data.num_images)))
        np.testing.assert_array_equal(dsprites_module.render(values), reference_render(values))


# ------------------------------------------------------------------- encoding
def reference_encode(model, x, batch_size):
    """The original `mean_representation`: eager `model.encode` per slice."""
    return np.concatenate([
        np.asarray(model.encode(x[start : start + batch_size], training=False)[0])
        for start in range(0, len(x), batch_size)
    ])


def spatial_broadcast_model(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return BetaVAE(encoder=build_mlp_encoder((64, 64, 1), 10, units=64),
                   decoder=build_spatial_broadcast_decoder((64, 64, 1), 10, units=8),
                   likelihood="bernoulli")


def test_mean_representation_is_bit_identical_to_eager_encoding():
    from betavae_tf.presets import build_conv_beta_vae

    data = DSprites()
    x = data.sample_observations_from_factors(data.sample_factors(600, np.random.RandomState(0)))
    for model in (spatial_broadcast_model(), build_conv_beta_vae("dsprites", seed=0)):
        for batch_size in (256, 100, 7):
            represent = mean_representation(model, batch_size)
            for n in (1, 5, 63, 64, 256, 300, 600):
                codes = represent(x[:n])
                assert codes.dtype == np.float32 and codes.shape == (n, model.encoding_dim)
                np.testing.assert_array_equal(codes, reference_encode(model, x[:n], batch_size))
        np.testing.assert_array_equal(mean_representation(model)(x[:10].astype(np.float64)),
                                      reference_encode(model, x[:10], 256))


def test_mean_representation_falls_back_to_eager_calls():
    class NumPyEncoder:
        """Anything with encode(x) -> (z_mean, z_log_var); this one is not traceable."""

        def encode(self, x, training=False):
            x = np.asarray(x)
            return x[:, :2] * 2.0, np.zeros((len(x), 2))

    x = np.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(mean_representation(NumPyEncoder(), 4)(x), x * 2.0)
    with pytest.raises(ValueError, match="holds no examples"):
        mean_representation(NumPyEncoder())(np.zeros((0, 2)))


def test_mean_representation_follows_weight_updates():
    data = SyntheticFactors(observation_dim=None)
    model = BetaVAE(input_dim=3, encoding_dim=2, seed=0)
    _, x = data.sample(32, np.random.RandomState(0))
    represent = mean_representation(model)
    before = represent(x)
    model.set_weights([w + 0.5 for w in model.get_weights()])
    after = represent(x)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, reference_encode(model, x, 256))


# ------------------------------------------------------------------------ DCI
def reference_importance_matrix(codes_train, factors_train, codes_test, factors_test, seeds):
    """The original sequential loop (commit c6aceb0)."""
    num_latents, num_factors = codes_train.shape[1], factors_train.shape[1]
    importance = np.zeros((num_latents, num_factors))
    train_accuracy, test_accuracy = [], []
    for j in range(num_factors):
        y_train, y_test = factors_train[:, j], factors_test[:, j]
        classes = np.unique(y_train)
        if len(classes) == 1:
            def predict(x, c=classes[0]):
                return np.full(len(x), c)
        else:
            model = GradientBoostingClassifier(random_state=seeds[j])
            model.fit(codes_train, y_train)
            importance[:, j] = np.abs(model.feature_importances_)
            predict = model.predict
        train_accuracy.append(np.mean(predict(codes_train) == y_train))
        test_accuracy.append(np.mean(predict(codes_test) == y_test))
    return importance, float(np.mean(train_accuracy)), float(np.mean(test_accuracy))


def test_parallel_dci_fits_equal_the_sequential_loop():
    rng = np.random.RandomState(0)
    factors = np.stack([rng.randint(size, size=500) for size in (3, 1, 6, 4)], axis=1)
    codes = factors[:, [0, 2, 3, 0]] + rng.normal(scale=0.7, size=(500, 4))
    seeds = [11, 12, 13, 14]
    args = (codes[:300], factors[:300], codes[300:], factors[300:], seeds)
    expected = reference_importance_matrix(*args)
    for n_jobs in (1, 2):
        importance, train, test = importance_matrix_gbt(*args, n_jobs=n_jobs)
        np.testing.assert_array_equal(importance, expected[0])
        assert (train, test) == expected[1:]


def test_hist_gradient_boosting_is_an_opt_in_approximation():
    data = SyntheticFactors((4, 5, 3), observation_dim=None)
    fast = dci(lambda x: np.asarray(x, np.float64), data, 0, num_train=400, num_test=200,
               classifier="hist_gradient_boosting")
    exact = dci(lambda x: np.asarray(x, np.float64), data, 0, num_train=400, num_test=200)
    assert fast["informativeness_test"] == exact["informativeness_test"] == 1.0
    assert fast["disentanglement"] > 0.9 and fast["completeness"] > 0.9
    with pytest.raises(ValueError, match="classifier must be one of"):
        dci(moments, DSprites(), 0, classifier="xgboost")
    with pytest.raises(ValueError, match="n_jobs must be an integer >= 1"):
        dci(moments, DSprites(), 0, n_jobs=0)


# ----------------------------------------------------------------- end to end
class ReferenceDSprites(DSprites):
    """DSprites drawn through the original renderer."""

    def images(self, indices):
        return reference_render(self.latents_values(self.index_to_classes(np.atleast_1d(indices))))


def test_evaluation_equals_the_original_code_paths():
    model = spatial_broadcast_model()
    scale = 0.005
    fast = evaluate_disentanglement(model, DSprites(), random_state=3, scale=scale)
    for name, metric in DISENTANGLEMENT_METRICS.items():
        reference = metric(lambda x: reference_encode(model, x, 256), ReferenceDSprites(),
                           np.random.RandomState(3), **scaled_hyper_parameters(metric, scale))
        assert fast[name] == reference, name
