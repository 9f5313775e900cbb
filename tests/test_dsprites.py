import doctest

import numpy as np
import pytest

from betavae_tf.datasets import DSprites, DSpritesArrays, GroundTruthData, load_dsprites
from betavae_tf.datasets import dsprites as dsprites_module

OFFICIAL_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


@pytest.fixture(scope="module")
def data():
    return DSprites()


def values(shape, scale=1.0, orientation=0.0, pos_x=0.5, pos_y=0.5):
    """One official-layout latents row (color 1, shape 1/2/3)."""
    return [1.0, shape, scale, orientation, pos_x, pos_y]


def centre_of_mass(image):
    rows, cols = np.nonzero(image[..., 0])
    return rows.mean(), cols.mean()


def test_counts_and_interface(data):
    assert isinstance(data, GroundTruthData)
    assert len(data) == data.num_images == 737_280
    assert data.latents_sizes == (1, 3, 6, 40, 32, 32)
    assert data.factor_sizes == (3, 6, 40, 32, 32) and data.num_factors == 5
    assert data.observation_shape == (64, 64, 1)
    np.testing.assert_array_equal(data.latents_bases, [737280, 245760, 40960, 1024, 32, 1])


def test_index_classes_round_trip(data):
    indices = np.concatenate([[0, 1, 32, 737_279], np.random.default_rng(0).integers(0, 737_280, 500)])
    classes = data.index_to_classes(indices)
    assert classes.shape == (504, 6) and classes.dtype == np.int64
    np.testing.assert_array_equal(classes[0], [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(classes[1], [0, 0, 0, 0, 0, 1])  # posY fastest
    np.testing.assert_array_equal(classes[2], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(classes[3], [0, 2, 5, 39, 31, 31])
    np.testing.assert_array_equal(data.classes_to_index(classes), indices)
    with pytest.raises(ValueError, match="index 737280 is out of range"):
        data.index_to_classes([737_280])
    with pytest.raises(ValueError, match="classes out of range"):
        data.classes_to_index([0, 3, 0, 0, 0, 0])


def test_latents_values_follow_the_official_grid_and_order(data):
    grids = (
        [1.0],
        [1.0, 2.0, 3.0],
        np.linspace(0.5, 1, 6),
        np.linspace(0, 2 * np.pi, 40),
        np.linspace(0, 1, 32),
        np.linspace(0, 1, 32),
    )
    # The official file lists all combinations in C order (posY fastest).
    official = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 6)
    assert official.shape == (737_280, 6)
    indices = np.concatenate([[0, 737_279], np.random.default_rng(1).integers(0, 737_280, 1000)])
    np.testing.assert_allclose(data.latents_values(data.index_to_classes(indices)), official[indices])
    np.testing.assert_allclose(data.latents_values(data.index_to_classes([0]))[0], [1, 1, 0.5, 0, 0, 0])


def test_images_are_binary_64x64_and_shapes_differ(data):
    images = data.images([0, 245_760, 491_520])  # square, ellipse, heart; all else class 0
    assert images.shape == (3, 64, 64, 1) and images.dtype == np.float32
    assert set(np.unique(images)) == {0.0, 1.0}
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(images[i] - images[j]).sum() > 5
    square = data.render([values(1)])[0, ..., 0]  # 16 px square at the centre
    assert square.sum() == 256
    rows, cols = np.nonzero(square)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (24, 39, 24, 39)


def test_area_grows_with_scale_squared(data):
    rng = np.random.default_rng(0)
    for shape in range(3):
        factors = data.sample_factors(40, rng)
        factors[:, 0] = shape
        big, small = factors.copy(), factors.copy()
        big[:, 1], small[:, 1] = 5, 0  # scale 1 vs 0.5
        ratio = data.sample_observations_from_factors(big).sum() / data.sample_observations_from_factors(small).sum()
        assert ratio == pytest.approx(4.0, rel=0.15), shape


def test_posx_moves_right_and_posy_moves_down(data):
    # Square at orientation 0: centre pixel coordinate 12 + 40·pos (index − 0.5).
    left, right, top, bottom = data.render(
        [values(1, pos_x=0.0), values(1, pos_x=1.0), values(1, pos_y=0.0), values(1, pos_y=1.0)]
    )
    assert centre_of_mass(left) == pytest.approx((31.5, 11.5), abs=0.6)
    assert centre_of_mass(right) == pytest.approx((31.5, 51.5), abs=0.6)
    assert centre_of_mass(top) == pytest.approx((11.5, 31.5), abs=0.6)
    assert centre_of_mass(bottom) == pytest.approx((51.5, 31.5), abs=0.6)
    # The same through the factor grid: posX is factor 3, posY factor 4.
    factors = np.array([[2, 3, 5, 0, 16], [2, 3, 5, 31, 16], [2, 3, 5, 16, 0], [2, 3, 5, 16, 31]])
    a, b, c, d = data.sample_observations_from_factors(factors)
    assert centre_of_mass(b)[1] - centre_of_mass(a)[1] == pytest.approx(40, abs=1)
    assert centre_of_mass(d)[0] - centre_of_mass(c)[0] == pytest.approx(40, abs=1)


def test_shapes_stay_inside_the_canvas_at_every_orientation_and_position(data):
    corners = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
    rows = [
        values(shape, 1.0, angle, x, y)
        for shape in (1, 2, 3)
        for angle in np.linspace(0, 2 * np.pi, 40)
        for x, y in corners
    ]
    images = data.render(rows)[..., 0]
    assert images.sum(axis=(1, 2)).min() > 50
    border = np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)
    assert border.max() == 0


def test_rotation_symmetries_and_direction(data):
    ellipse_0, ellipse_pi, ellipse_half_pi, ellipse_quarter = data.render(
        [
            values(2, 0.8, 0.0, 0.3, 0.7),
            values(2, 0.8, np.pi, 0.3, 0.7),
            values(2, 0.8, np.pi / 2, 0.3, 0.7),
            values(2, 0.8, np.pi / 4, 0.3, 0.7),
        ]
    )
    assert np.abs(ellipse_0 - ellipse_pi).sum() <= 3  # 180° leaves an ellipse unchanged
    assert np.abs(ellipse_0 - ellipse_half_pi).sum() > 20  # 90° does not
    rows, cols = np.nonzero(ellipse_0[..., 0])
    assert np.ptp(cols) > 1.5 * np.ptp(rows)  # long axis horizontal at orientation 0
    rows, cols = np.nonzero(ellipse_quarter[..., 0])
    assert np.corrcoef(rows, cols)[0, 1] < -0.5  # counter-clockwise: up and to the right

    heart_0, heart_pi = data.render([values(3, 1.0, 0.0), values(3, 1.0, np.pi)])
    assert np.abs(heart_0 - heart_pi).sum() > 30
    top, bottom = heart_0[:32].sum(), heart_0[32:].sum()
    assert top > bottom  # lobes up, point down
    np.testing.assert_array_equal(heart_pi[::-1, ::-1], heart_0)  # centred: 180° = flip both axes


def test_sample_factors_is_seeded_and_in_range(data):
    a = data.sample_factors(2000, np.random.RandomState(3))
    b = data.sample_factors(2000, np.random.RandomState(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2000, 5) and a.dtype == np.int64
    assert (a.min(axis=0) == 0).all() and (a.max(axis=0) == np.array(data.factor_sizes) - 1).all()
    c = data.sample_factors(2000, np.random.default_rng(3))
    np.testing.assert_array_equal(c, data.sample_factors(2000, np.random.default_rng(3)))
    assert not np.array_equal(c, data.sample_factors(2000, np.random.default_rng(4)))
    factors, images = data.sample(4, np.random.default_rng(5))
    np.testing.assert_array_equal(factors, data.sample_factors(4, np.random.default_rng(5)))
    np.testing.assert_array_equal(images, data.sample_observations_from_factors(factors, None))
    with pytest.raises(ValueError, match="rng must be a np.random.RandomState or np.random.Generator"):
        data.sample_factors(3, 0)
    with pytest.raises(ValueError, match=r"factors\[0, 1\]=6 is out of range; factor 1 takes values 0..5"):
        data.sample_observations_from_factors([[0, 6, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"factors must have shape \(n, 5\)"):
        data.sample_observations_from_factors(np.zeros((2, 6), int))


def test_docstring_examples_run():
    result = doctest.testmod(dsprites_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------- the official file

SMALL_SIZES = (1, 3, 2, 2, 2, 2)


def write_fake_dsprites(path, sizes=SMALL_SIZES, shuffle=False):
    """A tiny file with the official keys, layout and a pickled metadata entry."""
    grids = [np.linspace(0, 1, s) if s > 1 else np.ones(1) for s in sizes]
    classes = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, 6)
    values = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, 6)
    imgs = np.random.default_rng(0).integers(0, 2, (len(classes), 64, 64), dtype=np.uint8)
    if shuffle:
        classes = classes[::-1]
    np.savez_compressed(
        path,
        imgs=imgs,
        latents_values=values,
        latents_classes=classes.astype(np.int64),
        metadata=np.array({"date": "April 2017"}, dtype=object),
    )
    return imgs, values


def test_official_file_layout_is_read(tmp_path):
    path = tmp_path / OFFICIAL_NAME
    imgs, values_ = write_fake_dsprites(path)
    data = load_dsprites(path)
    assert isinstance(data, DSpritesArrays) and isinstance(data, GroundTruthData)
    assert data.latents_sizes == SMALL_SIZES and data.factor_sizes == (3, 2, 2, 2, 2)
    assert len(data) == 48 and data.observation_shape == (64, 64, 1)
    images = data.images([0, 47])
    assert images.shape == (2, 64, 64, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(images[..., 0], imgs[[0, 47]])
    factors = data.sample_factors(10, np.random.default_rng(0))
    expected = data.classes_to_index(data.factors_to_classes(factors))
    np.testing.assert_array_equal(data.sample_observations_from_factors(factors)[..., 0], imgs[expected])
    np.testing.assert_array_equal(data.latents_values(data.index_to_classes([5])), values_[[5]])


def test_file_can_be_found_through_the_environment(tmp_path, monkeypatch):
    (tmp_path / "dsprites").mkdir()
    write_fake_dsprites(tmp_path / "dsprites" / OFFICIAL_NAME)
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path))
    assert len(load_dsprites()) == 48
    assert len(load_dsprites(tmp_path / "dsprites")) == 48


def test_missing_corrupt_and_wrong_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("BETAVAE_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"No dSprites file at .*missing\.npz.*; pass the path"):
        load_dsprites(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="BETAVAE_DATA_DIR is unset"):
        load_dsprites()
    with pytest.raises(FileNotFoundError, match=f"No {OFFICIAL_NAME} in"):
        load_dsprites(tmp_path)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"broken\.npz.*corrupt"):
        load_dsprites(tmp_path / "broken.npz")
    np.savez(tmp_path / "other.npz", imgs=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"lacks \['latents_values', 'latents_classes'\]"):
        load_dsprites(tmp_path / "other.npz")
    write_fake_dsprites(tmp_path / "shuffled.npz", shuffle=True)
    with pytest.raises(ValueError, match="not the full factor grid in official"):
        load_dsprites(tmp_path / "shuffled.npz")
