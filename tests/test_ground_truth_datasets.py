"""Colour/noisy dSprites, Shapes3D and MPI3D on fixture files in the official layouts.

No test uses the network: `urlretrieve` (what `keras.utils.get_file`
downloads with) fails unless a test replaces it with a fake server.
"""

import doctest
import hashlib
import os
import pickle

import h5py
import numpy as np
import pytest
from keras.src.utils import file_utils

from betavae_tf.datasets import (
    MPI3D,
    ColorDSprites,
    DSprites,
    GroundTruthData,
    NoisyDSprites,
    Shapes3D,
    dsprites_variants,
    grid,
    load_dsprites,
    load_mpi3d,
    load_shapes3d,
    mpi3d,
    shapes3d,
)

DSPRITES_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url, *args, **kwargs):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(file_utils, "urlretrieve", refuse)
    monkeypatch.delenv("BETAVAE_DATA_DIR", raising=False)


def encoded_images(indices, shape=(64, 64, 3)):
    """uint8 images whose 3 channels spell their index (low, middle, high byte)."""
    indices = np.asarray(indices, dtype=np.int64)
    images = np.empty((len(indices), *shape), dtype=np.uint8)
    for channel in range(3):
        images[..., channel] = (indices >> (8 * channel) & 255)[:, None, None]
    return images


def decoded_indices(images):
    """Inverse of `encoded_images` for float32 images in [0, 1]."""
    raw = np.rint(images * 255).astype(np.int64)
    assert (raw == raw[:, :1, :1, :]).all()
    return raw[:, 0, 0, 0] + (raw[:, 0, 0, 1] << 8) + (raw[:, 0, 0, 2] << 16)


def grid_classes(sizes):
    """All class rows of a factor grid in mixed-radix order (last fastest)."""
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(
        -1, len(sizes)
    )


# ------------------------------------------------------------- colour / noisy dSprites


def write_fake_dsprites(path, sizes=(1, 3, 2, 2, 2, 2)):
    """A small official-layout dSprites file with random binary sprites."""
    classes = grid_classes(sizes)
    values = classes.astype(np.float64)
    imgs = np.random.default_rng(0).integers(0, 2, (len(classes), 64, 64), dtype=np.uint8)
    np.savez(path, imgs=imgs, latents_values=values, latents_classes=classes)
    return imgs


@pytest.fixture(params=["rendered", "file"])
def sprites(request, tmp_path):
    if request.param == "rendered":
        return DSprites()
    write_fake_dsprites(tmp_path / DSPRITES_NAME)
    return load_dsprites(tmp_path / DSPRITES_NAME)


def test_color_dsprites_colours_each_sprite_uniformly_in_half_to_one(sprites):
    data = ColorDSprites(sprites)
    assert isinstance(data, GroundTruthData) and data.dsprites is sprites
    assert data.factor_sizes == sprites.factor_sizes and data.observation_shape == (64, 64, 3)
    assert len(data) == len(sprites)
    factors = data.sample_factors(64, np.random.RandomState(1))
    masks = sprites.sample_observations_from_factors(factors)  # (n, 64, 64, 1), 0/1
    images = data.sample_observations_from_factors(factors, np.random.RandomState(2))
    assert images.shape == (64, 64, 64, 3) and images.dtype == np.float32
    on = np.broadcast_to(masks == 1, images.shape)
    assert (images[~on] == 0).all()  # the background stays black
    colours = images.max(axis=(1, 2))  # (n, 3): one colour per image
    assert colours.min() >= 0.5 and colours.max() <= 1.0
    np.testing.assert_array_equal(images, masks * colours[:, None, None, :])
    # disentanglement_lib's draw: rng.uniform(0.5, 1, (n, 1, 1, 3)).
    expected = np.random.RandomState(2).uniform(0.5, 1, (64, 1, 1, 3)).astype(np.float32)
    shown = masks.reshape(64, -1).max(axis=1) > 0
    np.testing.assert_array_equal(colours[shown], expected[shown, 0, 0])


def test_noisy_dsprites_puts_white_sprites_on_uniform_noise(sprites):
    data = NoisyDSprites(sprites)
    assert data.factor_sizes == sprites.factor_sizes and data.observation_shape == (64, 64, 3)
    factors = data.sample_factors(16, np.random.RandomState(1))
    masks = sprites.sample_observations_from_factors(factors)
    images = data.sample_observations_from_factors(factors, np.random.RandomState(3))
    assert images.shape == (16, 64, 64, 3) and images.dtype == np.float32
    on = np.broadcast_to(masks == 1, images.shape)
    assert (images[on] == 1).all()
    background = images[~on]
    assert background.min() >= 0 and background.max() <= 1
    assert abs(background.mean() - 0.5) < 0.01 and background.std() > 0.28  # U(0, 1): 0.289
    noise = np.random.RandomState(3).uniform(0, 1, (16, 64, 64, 3))
    np.testing.assert_array_equal(images, np.minimum(masks + noise, 1).astype(np.float32))


@pytest.mark.parametrize("variant", [ColorDSprites, NoisyDSprites])
def test_the_seed_changes_only_the_colour_or_noise(variant):
    data = variant()
    factors = data.sample_factors(8, np.random.default_rng(0))
    masks = DSprites().sample_observations_from_factors(factors) == 1
    a = data.sample_observations_from_factors(factors, np.random.default_rng(1))
    b = data.sample_observations_from_factors(factors, np.random.default_rng(1))
    c = data.sample_observations_from_factors(factors, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    on = np.broadcast_to(masks, a.shape)
    for images in (a, c):  # the sprite sits where the factors put it, whatever the seed
        if variant is ColorDSprites:
            np.testing.assert_array_equal(images > 0, on)
        else:
            assert (images[on] == 1).all() and (images[~on] < 1).mean() > 0.99
    # Factors are drawn as in dSprites, so `sample` pairs them with their sprites.
    factors_again, images = data.sample(8, np.random.default_rng(0))
    np.testing.assert_array_equal(factors_again, factors)
    assert images.shape == (8, 64, 64, 3)


def test_dsprites_variants_refuse_bad_arguments():
    with pytest.raises(ValueError, match="rng must be a np.random.RandomState"):
        ColorDSprites().sample_observations_from_factors([[0, 0, 0, 0, 0]], None)
    with pytest.raises(ValueError, match=r"factors must have shape \(n, 5\)"):
        NoisyDSprites().sample_observations_from_factors([[0, 0, 0]], np.random.default_rng(0))
    with pytest.raises(ValueError, match="dsprites must be DSprites"):
        ColorDSprites(np.zeros((3, 64, 64)))


def test_dsprites_variants_docstring_examples_run():
    result = doctest.testmod(dsprites_variants, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------------- Shapes3D

SMALL_SHAPES3D = (2, 3, 2, 2, 2, 3)


def shapes3d_label_grids(sizes):
    return (
        np.linspace(0, 1, sizes[0], endpoint=False),
        np.linspace(0, 1, sizes[1], endpoint=False),
        np.linspace(0, 1, sizes[2], endpoint=False),
        np.linspace(0.75, 1.25, sizes[3]),
        np.arange(sizes[4], dtype=np.float64),
        np.linspace(-30, 30, sizes[5]),
    )


def write_shapes3d(path, sizes=SMALL_SHAPES3D, written=None, labels_order=None):
    """An HDF5 file in the official layout (gzip-compressed chunks, like 3dshapes.h5).

    Images at `written` indices (all when None) spell their index; the rest
    are never written (HDF5 stores no chunk for them, so a file of the full
    480,000 images stays small).
    """
    classes = grid_classes(sizes)
    grids = shapes3d_label_grids(sizes)
    labels = np.stack([g[classes[:, i]] for i, g in enumerate(grids)], axis=1)
    if labels_order is not None:
        labels = labels[labels_order]  # also a subset of the rows
    n = len(labels)
    with h5py.File(path, "w") as handle:
        images = handle.create_dataset(
            "images", shape=(n, 64, 64, 3), dtype=np.uint8, chunks=(10, 64, 64, 3),
            compression="gzip",
        )
        written = np.arange(n) if written is None else np.sort(written)
        images[written] = encoded_images(written)
        handle.create_dataset("labels", data=labels, dtype=np.float64, compression="gzip")
    return labels


@pytest.fixture
def small_shapes3d(tmp_path):
    path = tmp_path / "3dshapes.h5"
    labels = write_shapes3d(path)
    return path, labels


@pytest.fixture(scope="module")
def full_shapes3d(tmp_path_factory):
    """480,000 images (10, 10, 10, 8, 4, 15) with only 200 of them written."""
    path = tmp_path_factory.mktemp("full") / "3dshapes.h5"
    written = np.random.default_rng(0).choice(480_000, 200, replace=False)
    write_shapes3d(path, shapes3d.FACTOR_SIZES, written=written)
    assert os.path.getsize(path) < 20e6
    return path, np.sort(written)


def test_shapes3d_reads_the_official_layout(small_shapes3d):
    path, labels = small_shapes3d
    data = load_shapes3d(path)
    assert isinstance(data, Shapes3D) and isinstance(data, GroundTruthData)
    assert data.factor_sizes == SMALL_SHAPES3D and data.num_factors == 6 and len(data) == 144
    assert data.observation_shape == (64, 64, 3)
    assert data.factor_names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    np.testing.assert_array_equal(data.index_to_factors(np.arange(144)), grid_classes(SMALL_SHAPES3D))
    factors = data.sample_factors(50, np.random.default_rng(0))
    indices = data.factors_to_index(factors)
    np.testing.assert_array_equal(data.index_to_factors(indices), factors)
    np.testing.assert_array_equal(data.factor_values(factors), labels[indices])
    images = data.sample_observations_from_factors(factors, np.random.default_rng(1))
    assert images.shape == (50, 64, 64, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(decoded_indices(images), indices)
    np.testing.assert_array_equal(images, encoded_images(indices) / np.float32(255))
    data.close()


def test_shapes3d_full_grid_takes_the_official_sizes_and_reads_lazily(full_shapes3d, monkeypatch):
    path, written = full_shapes3d
    reads = []
    original = h5py.Dataset.__getitem__

    def counting(self, key):
        result = original(self, key)
        if self.name == "/images":
            reads.append(np.arange(len(self))[key] if not isinstance(key, np.ndarray) else key)
        return result

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    monkeypatch.setattr(grid, "READ_CHUNK", 16)
    data = load_shapes3d(path)
    assert reads == []  # opening reads the labels only
    assert data.factor_sizes == (10, 10, 10, 8, 4, 15) and len(data) == 480_000
    np.testing.assert_array_equal(data.factor_bases, [48000, 4800, 480, 60, 15, 1])
    np.testing.assert_allclose(data.factor_grids[5], np.linspace(-30, 30, 15))
    factors = data.index_to_factors(written)
    wanted = np.concatenate([factors, factors[:5]])[::-1]  # unsorted, with repeats
    images = data.sample_observations_from_factors(wanted, np.random.default_rng(0))
    np.testing.assert_array_equal(decoded_indices(images), data.factors_to_index(wanted))
    read = np.concatenate(reads)
    assert max(len(r) for r in reads) <= 16 and len(reads) == 13  # 200 distinct, 16 a time
    np.testing.assert_array_equal(read, written)  # each once, in increasing order
    unwritten = data.images([int(np.setdiff1d(np.arange(300), written)[0])])
    assert unwritten.shape == (1, 64, 64, 3) and unwritten.max() == 0


def test_shapes3d_pickles_by_path_and_reopens_after_close(small_shapes3d):
    path, _ = small_shapes3d
    with load_shapes3d(path) as data:
        first = data.images([3, 1])
        copy = pickle.loads(pickle.dumps(data))
    assert data._file is None
    np.testing.assert_array_equal(data.images([3, 1]), first)  # reopened
    np.testing.assert_array_equal(copy.images([3, 1]), first)
    data.close()
    copy.close()


def test_shapes3d_finds_files_like_dsprites(tmp_path, monkeypatch):
    (tmp_path / "3dshapes").mkdir()
    write_shapes3d(tmp_path / "3dshapes" / "3dshapes.h5")
    assert len(load_shapes3d(tmp_path)) == 144
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path))
    assert len(load_shapes3d()) == 144
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path / "3dshapes" / "3dshapes.h5"))
    assert len(load_shapes3d()) == 144


def test_missing_shapes3d_files_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="BETAVAE_DATA_DIR is unset.*download=True.*3dshapes.h5"):
        load_shapes3d()
    with pytest.raises(FileNotFoundError, match=r"No 3dshapes.h5 in .* or its 3dshapes/ folder"):
        load_shapes3d(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"No Shapes3D file at .*nothing\.h5"):
        load_shapes3d(tmp_path / "nothing.h5")


def test_shapes3d_checks_a_given_sha256(small_shapes3d):
    path, _ = small_shapes3d
    right = hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(load_shapes3d(path, sha256=right)) == 144
    with pytest.raises(ValueError, match=f"has SHA-256 {right} but {shapes3d.SHAPES3D_SHA256} was"):
        load_shapes3d(path, sha256=shapes3d.SHAPES3D_SHA256)
    assert path.exists()  # a user's copy is never deleted


def test_shapes3d_refuses_wrong_layouts(tmp_path):
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match=r"text\.h5' is not an HDF5 file"):
        load_shapes3d(tmp_path / "text.h5")
    with h5py.File(tmp_path / "no_labels.h5", "w") as handle:
        handle["images"] = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"lacks the datasets \['labels'\] \(it has \['images'\]\)"):
        load_shapes3d(tmp_path / "no_labels.h5")
    with h5py.File(tmp_path / "float.h5", "w") as handle:
        handle["images"] = np.zeros((2, 64, 64, 3), np.float32)
        handle["labels"] = np.zeros((2, 6))
    with pytest.raises(ValueError, match=r"images \(2, 64, 64, 3\) of float32; expected uint8"):
        load_shapes3d(tmp_path / "float.h5")
    with h5py.File(tmp_path / "labels.h5", "w") as handle:
        handle["images"] = np.zeros((2, 64, 64, 3), np.uint8)
        handle["labels"] = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"labels \(2, 5\) of float64 for 2 images"):
        load_shapes3d(tmp_path / "labels.h5")
    order = np.arange(144)
    order[[0, 1]] = order[[1, 0]]
    write_shapes3d(tmp_path / "shuffled.h5", labels_order=order)
    with pytest.raises(ValueError, match=r"column 5 \(orientation\) is out of order"):
        load_shapes3d(tmp_path / "shuffled.h5")
    write_shapes3d(tmp_path / "partial.h5", labels_order=np.arange(100))
    with pytest.raises(ValueError, match="not the full factor grid.*100 rows but"):
        load_shapes3d(tmp_path / "partial.h5")


def fake_server(files, calls):
    """`urlretrieve` that serves `files[url]` (bytes) and records the URLs."""

    def urlretrieve(url, target, *args):
        calls.append(url)
        with open(target, "wb") as handle:
            handle.write(files[url])

    return urlretrieve


def test_shapes3d_downloads_only_when_asked_and_checks_the_published_hash(
    tmp_path, small_shapes3d, monkeypatch
):
    fixture, _ = small_shapes3d
    calls = []
    monkeypatch.setattr(
        file_utils, "urlretrieve", fake_server({shapes3d.SHAPES3D_URL: fixture.read_bytes()}, calls)
    )
    folder = tmp_path / "data"
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_shapes3d(folder)
    assert calls == []
    # The fixture is not DeepMind's file: the published SHA-256 refuses it and it is deleted.
    with pytest.raises(ValueError, match=f"but {shapes3d.SHAPES3D_SHA256} was expected.*deleted"):
        load_shapes3d(folder, download=True)
    assert calls == [shapes3d.SHAPES3D_URL]
    assert not (folder / "3dshapes" / "3dshapes.h5").exists()
    right = hashlib.sha256(fixture.read_bytes()).hexdigest()
    assert len(load_shapes3d(folder, sha256=right, download=True)) == 144
    assert (folder / "3dshapes" / "3dshapes.h5").is_file() and len(calls) == 2
    assert len(load_shapes3d(folder, download=True)) == 144  # found: no second download
    assert len(load_shapes3d(folder)) == 144 and len(calls) == 2


# ---------------------------------------------------------------------------- MPI3D

SMALL_MPI3D = (2, 3, 1, 2, 1, 3, 2)


def write_mpi3d(path, sizes=SMALL_MPI3D, compressed=False):
    n = int(np.prod(sizes))
    (np.savez_compressed if compressed else np.savez)(path, images=encoded_images(np.arange(n)))
    return n


class FakeImages:
    """A uint8 `(n, 64, 64, 3)` array-like that makes the images it is asked for."""

    dtype = np.dtype(np.uint8)

    def __init__(self, n):
        self.shape = (n, 64, 64, 3)
        self.requests = []

    def __getitem__(self, key):
        indices = np.arange(self.shape[0])[key]
        self.requests.append(indices)
        return encoded_images(indices)


def test_mpi3d_memory_maps_the_official_layout(tmp_path):
    path = tmp_path / "mpi3d_toy.npz"
    n = write_mpi3d(path)
    data = load_mpi3d(path=path, factor_sizes=SMALL_MPI3D)
    assert isinstance(data, MPI3D) and isinstance(data, GroundTruthData)
    assert isinstance(data.raw_images, np.memmap) and data.raw_images.filename == str(path)
    assert data.variant == "toy" and data.factor_sizes == SMALL_MPI3D and len(data) == n
    assert data.observation_shape == (64, 64, 3) and data.factor_names == mpi3d.FACTOR_NAMES
    np.testing.assert_array_equal(data.index_to_factors(np.arange(n)), grid_classes(SMALL_MPI3D))
    factors = data.sample_factors(40, np.random.default_rng(0))
    np.testing.assert_array_equal(data.index_to_factors(data.factors_to_index(factors)), factors)
    images = data.sample_observations_from_factors(factors, np.random.default_rng(0))
    assert images.shape == (40, 64, 64, 3) and images.dtype == np.float32
    np.testing.assert_array_equal(decoded_indices(images), data.factors_to_index(factors))
    copy = pickle.loads(pickle.dumps(data))  # re-maps the file instead of copying the images
    assert isinstance(copy.raw_images, np.memmap)
    assert len(pickle.dumps(data)) < 10_000
    np.testing.assert_array_equal(copy.sample_observations_from_factors(factors), images)


@pytest.mark.parametrize("n, sizes", [(1_036_800, (6, 6, 2, 3, 3, 40, 40)), (460_800, (4, 4, 2, 3, 3, 40, 40))])
def test_mpi3d_full_grids_read_only_the_requested_images(n, sizes, monkeypatch):
    monkeypatch.setattr(grid, "READ_CHUNK", 8)
    raw = FakeImages(n)
    data = MPI3D(raw, variant="real")
    assert data.factor_sizes == sizes and len(data) == n
    if n == 460_800:  # the README's formula for the 2019 release
        np.testing.assert_array_equal(data.factor_bases, [115200, 28800, 14400, 4800, 1600, 40, 1])
    else:
        np.testing.assert_array_equal(data.factor_bases, [172800, 28800, 14400, 4800, 1600, 40, 1])
    factors = data.sample_factors(20, np.random.default_rng(0))
    factors[0] = np.asarray(sizes) - 1
    factors = np.concatenate([factors, factors[:3]])
    images = data.sample_observations_from_factors(factors)
    indices = data.factors_to_index(factors)
    assert indices[0] == n - 1
    np.testing.assert_array_equal(decoded_indices(images), indices)
    assert all(len(r) <= 8 for r in raw.requests)
    np.testing.assert_array_equal(np.concatenate(raw.requests), np.unique(indices))


def test_mpi3d_file_lengths_and_factor_sizes_must_agree(tmp_path):
    path = tmp_path / "mpi3d_toy.npz"
    write_mpi3d(path)
    with pytest.raises(ValueError, match="holds 72 images, not the 1036800.*pass factor_sizes"):
        load_mpi3d(path=path)
    with pytest.raises(ValueError, match=r"factor_sizes must be 7 integers >= 1 whose product"):
        load_mpi3d(path=path, factor_sizes=(2, 3, 1, 2, 1, 3, 3))
    with pytest.raises(ValueError, match="variant must be one of"):
        load_mpi3d("complex", path=path)


def test_mpi3d_compressed_files_need_in_memory(tmp_path):
    path = tmp_path / "mpi3d_real.npz"
    write_mpi3d(path, compressed=True)
    with pytest.raises(ValueError, match=r"stores 'images' compressed.*in_memory=True to load all 72"):
        load_mpi3d("real", path=tmp_path, factor_sizes=SMALL_MPI3D)
    data = load_mpi3d("real", path=tmp_path, factor_sizes=SMALL_MPI3D, in_memory=True)
    assert not isinstance(data.raw_images, np.memmap) and data.variant == "real"
    np.testing.assert_array_equal(decoded_indices(data.images(np.arange(72))), np.arange(72))


def test_mpi3d_finds_files_and_checks_hashes(tmp_path, monkeypatch):
    (tmp_path / "mpi3d_realistic").mkdir()
    path = tmp_path / "mpi3d_realistic" / "mpi3d_realistic.npz"
    write_mpi3d(path)
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(tmp_path))
    assert len(load_mpi3d("realistic", factor_sizes=SMALL_MPI3D)) == 72
    with pytest.raises(FileNotFoundError, match=r"No mpi3d_toy.npz in .* or its mpi3d_toy/ folder"):
        load_mpi3d("toy", factor_sizes=SMALL_MPI3D)
    right = hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(load_mpi3d("realistic", sha256=right, factor_sizes=SMALL_MPI3D)) == 72
    with pytest.raises(ValueError, match=f"has SHA-256 {right} but {'0' * 64} was expected"):
        load_mpi3d("realistic", sha256="0" * 64, factor_sizes=SMALL_MPI3D)
    assert path.exists()
    monkeypatch.delenv("BETAVAE_DATA_DIR")
    with pytest.raises(FileNotFoundError, match=r"BETAVAE_DATA_DIR is unset.*huggingface.co.*mpi3d_toy\.npz"):
        load_mpi3d()


def test_mpi3d_refuses_wrong_layouts(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"broken\.npz.*not an .npz file"):
        load_mpi3d(path=tmp_path / "broken.npz")
    np.savez(tmp_path / "other.npz", imgs=np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"has no 'images' array \(it has \['imgs'\]\)"):
        load_mpi3d(path=tmp_path / "other.npz")
    np.savez(tmp_path / "gray.npz", images=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"images \(2, 64, 64\) of uint8; expected uint8 \(n, 64, 64, 3\)"):
        load_mpi3d(path=tmp_path / "gray.npz")
    np.savez(tmp_path / "objects.npz", images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="of object; expected uint8"):
        load_mpi3d(path=tmp_path / "objects.npz")
    write_mpi3d(tmp_path / "cut.npz")
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz"):
        load_mpi3d(path=tmp_path / "cut.npz", factor_sizes=SMALL_MPI3D)


def test_mpi3d_downloads_only_when_asked(tmp_path, monkeypatch):
    fixture = tmp_path / "fixture.npz"
    write_mpi3d(fixture)
    calls = []
    url = mpi3d.MPI3D_URLS["toy"]
    assert url == "https://huggingface.co/datasets/waleedgondal/mpi3d/resolve/main/mpi3d_toy.npz"
    monkeypatch.setattr(file_utils, "urlretrieve", fake_server({url: fixture.read_bytes()}, calls))
    with pytest.raises(ValueError, match="was expected.*deleted"):
        load_mpi3d(path=tmp_path / "data", sha256="0" * 64, download=True, factor_sizes=SMALL_MPI3D)
    assert not (tmp_path / "data" / "mpi3d_toy" / "mpi3d_toy.npz").exists()
    data = load_mpi3d(path=tmp_path / "data", download=True, factor_sizes=SMALL_MPI3D)
    assert calls == [url, url] and len(data) == 72
    assert data.raw_images.filename == str(tmp_path / "data" / "mpi3d_toy" / "mpi3d_toy.npz")
    target = tmp_path / "elsewhere" / "mpi3d_toy.npz"  # a file path that does not exist yet
    assert len(load_mpi3d(path=target, download=True, factor_sizes=SMALL_MPI3D)) == 72
    assert target.is_file() and len(calls) == 3
