import numpy as np
import pytest

from betavae_tf.datasets import Standardizer, load_array_file, load_digits, load_vectors, train_val_split


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
    }
    assert all(hasattr(datasets, name) for name in datasets.__all__)
