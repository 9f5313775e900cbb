import numpy as np
import pytest

from betavae_tf.datasets import (
    Standardizer,
    load_array_file,
    load_digits,
    load_vectors,
    train_val_split,
)


def test_digits_are_embedded_split_and_standardised_with_training_statistics():
    x_train, x_val, scaler = load_digits(val_fraction=0.2, seed=0)
    assert x_train.shape == (1438, 64) and x_val.shape == (359, 64)
    assert x_train.dtype == np.float32
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-5)
    varying = scaler.std != 1.0
    np.testing.assert_allclose(x_train.std(axis=0)[varying], 1, atol=1e-4)
    raw_val = scaler.inverse_transform(x_val)
    assert raw_val.min() >= -1e-4 and raw_val.max() <= 16 + 1e-4  # pixel values 0..16


def test_split_is_seeded_and_disjoint():
    x = np.arange(100, dtype="float32").reshape(50, 2)
    a_train, a_val = train_val_split(x, 0.2, seed=1)
    b_train, b_val = train_val_split(x, 0.2, seed=1)
    np.testing.assert_array_equal(a_val, b_val)
    assert len(a_val) == 10 and len(a_train) == 40
    assert not set(a_train[:, 0]) & set(a_val[:, 0])
    with pytest.raises(ValueError, match="leaves fewer than 2"):
        train_val_split(x[:3], 0.2)


def test_constant_features_do_not_divide_by_zero():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], "float32")
    np.testing.assert_array_equal(Standardizer.fit(x).transform(x), [[-1, 0], [1, 0]])


def test_csv_with_header_npy_and_npz(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,c\n1,2,3\n4,5,6\n\n7,8,9\n")
    np.testing.assert_array_equal(load_array_file(tmp_path / "d.csv"), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.save(tmp_path / "d.npy", np.ones((4, 3)))
    assert load_array_file(tmp_path / "d.npy").shape == (4, 3)
    np.savez(tmp_path / "d.npz", x=np.ones((5, 2)), labels=np.arange(5))
    assert load_array_file(tmp_path / "d.npz").shape == (5, 2)
    x_train, x_val, _ = load_vectors(tmp_path / "d.npz", val_fraction=0.4)
    assert x_train.shape == (3, 2) and x_val.shape == (2, 2)


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b\n1,2\n3,x\n", r"line 3, column 2: 'x' is not a number"),
        ("1,2\n3\n", r"line 2 has 1 columns but the file has 2"),
        ("", r"holds no rows"),
        ("a,b\n", r"has a header but no data rows"),
        ("1,2\nnan,3\n", r"contains NaN or Inf"),
    ],
)
def test_bad_csv_files_are_refused_with_the_place_of_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_array_file(path)


def test_unreadable_and_unsafe_array_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="No data file"):
        load_array_file(tmp_path / "missing.npy")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="broken.npy"):
        load_array_file(tmp_path / "broken.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled Python objects, which are never loaded"):
        load_array_file(tmp_path / "objects.npy")
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"several arrays \['a', 'b'\]"):
        load_array_file(tmp_path / "two.npz")
    (tmp_path / "data.txt").write_text("1,2")
    with pytest.raises(ValueError, match="use .csv, .npy or .npz"):
        load_array_file(tmp_path / "data.txt")


def test_package_reexports_the_old_module_and_the_new_loaders():
    import betavae_tf.datasets as datasets
    from betavae_tf.datasets import arrays

    for name in ("Standardizer", "train_val_split", "load_digits", "load_array_file", "load_vectors"):
        assert getattr(datasets, name) is getattr(arrays, name)
    assert set(datasets.__all__) == {
        "Standardizer", "train_val_split", "load_digits", "load_array_file", "load_vectors",
        "load_mnist", "load_dsprites", "DSprites", "DSpritesArrays", "GroundTruthData",
        "image_folder_dataset", "SyntheticFactors",
        "ColorDSprites", "NoisyDSprites", "Shapes3D", "load_shapes3d", "MPI3D", "load_mpi3d",
    }
    assert all(hasattr(datasets, name) for name in datasets.__all__)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda rng: rng.normal(3, 1, (200, 3)) * 1e30, id="float64 1e30"),
        pytest.param(lambda rng: (rng.normal(3, 1, (200, 3)) * 1e30).astype(np.float32), id="float32 1e30"),
        pytest.param(lambda rng: rng.integers(-(2**62), 2**62, (200, 3)), id="int64 4.6e18"),
        pytest.param(lambda rng: rng.normal(3, 1, (200, 3)) * 1e19, id="float64 1e19"),
        pytest.param(lambda rng: rng.normal(3, 1, (200, 3)) * 1e-30, id="float64 1e-30"),
        pytest.param(lambda rng: (rng.normal(3, 1, (200, 3)) * 1e-30).astype(np.float32), id="float32 1e-30"),
    ],
)
def test_very_large_and_very_small_values_are_standardised_not_zeroed(tmp_path, make):
    # float32 statistics overflow (std = inf, everything maps to 0) or
    # underflow (std = 0, nothing is scaled); float64 ones are exact.
    x = make(np.random.default_rng(0))
    np.save(tmp_path / "d.npy", x)
    x_train, x_val, scaler = load_vectors(tmp_path / "d.npy")
    raw_train, _ = train_val_split(x.astype(np.float32), 0.2, 0)
    assert np.isfinite(scaler.mean).all() and np.isfinite(scaler.std).all()
    np.testing.assert_allclose(scaler.std, raw_train.astype(np.float64).std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0), 1, atol=1e-5)
    assert np.isfinite(x_val).all() and np.abs(x_val).max() < 10
    scale = np.abs(raw_train).max()
    np.testing.assert_allclose(scaler.inverse_transform(x_train), raw_train, rtol=1e-5, atol=1e-6 * scale)


def test_standardizer_refuses_values_beyond_float32_in_one_line():
    x = np.array([[1.0, 2.0], [3.0, 1e300], [5.0, -4.0]])
    with pytest.raises(ValueError, match=r"x column 2 has values in \[-4, 1e\+300\], which overflow float32 "
                       r"\(about ±3.4e38\); rescale the data") as error:
        Standardizer.fit(x)
    assert "\n" not in str(error.value)


def test_values_spanning_all_of_float32_are_standardised():
    big = np.finfo(np.float32).max
    x = np.array([[big], [-big], [big]], np.float32)  # x − mean overflows float32
    scaler = Standardizer.fit(x)
    np.testing.assert_allclose(scaler.transform(x)[:, 0], [2**-0.5, -(2**0.5), 2**-0.5], rtol=1e-6)


def test_latin1_csv_is_read_and_a_utf8_bom_does_not_hide_the_first_row(tmp_path):
    (tmp_path / "latin1.csv").write_bytes("température,durée\n1,2\n3,4\n".encode("latin-1"))
    np.testing.assert_array_equal(load_array_file(tmp_path / "latin1.csv"), [[1, 2], [3, 4]])
    (tmp_path / "bom.csv").write_bytes("1,2\n3,4\n".encode("utf-8-sig"))
    np.testing.assert_array_equal(load_array_file(tmp_path / "bom.csv"), [[1, 2], [3, 4]])
    (tmp_path / "utf8.csv").write_text("größe,µm\n1,2\n", encoding="utf-8")
    np.testing.assert_array_equal(load_array_file(tmp_path / "utf8.csv"), [[1, 2]])


def test_a_header_is_a_row_with_a_name_that_is_not_a_missing_value_marker(tmp_path):
    (tmp_path / "d.csv").write_text("x,NA,\n1,2,3\n")  # 'x' is a name: a header with odd names
    np.testing.assert_array_equal(load_array_file(tmp_path / "d.csv"), [[1, 2, 3]])
    (tmp_path / "e.csv").write_text("NA,null,None\n1,2,3\n")  # only markers: data
    with pytest.raises(ValueError, match=r"line 1, column 1: 'NA' is a missing value"):
        load_array_file(tmp_path / "e.csv")
