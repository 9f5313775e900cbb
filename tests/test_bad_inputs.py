"""Bad input, tried systematically: one table of inputs every public entry
point must refuse with a one-line error that says what is wrong (and how to
fix it), before any training starts.

Each row is `(call, exception type, regex of the message)`; `call(tmp_path)`
makes the bad input (files go in `tmp_path`) and calls the entry point.
Training rows save to `tmp_path / "best.h5"`, so "no training happened" is
checked as: that checkpoint does not exist and the model was never compiled.
Command-line rows are a second table (`CLI_CASES`): argparse's exit code 2
and its message, or the CLI's own one-line `betavae-tf: error: ...`.

More refusals live beside the code they test (e.g. `train_vae`'s own table
in test_training.py, the constructor table in test_models.py); the rows here
are other values of the same kinds plus the entry points those do not cover.
docs/reliability.md counts both.
"""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import pickle
import warnings
from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np
import pytest
import tensorflow as tf

from betavae_tf import BetaVAE, KLAnnealing, build_conv_beta_vae, load_vae, save_vae, train_vae
from betavae_tf.cli import main
from betavae_tf.data_sources import load_data_source
from betavae_tf.datasets import (
    DSprites,
    image_folder_dataset,
    load_array_file,
    load_dsprites,
    load_mnist,
    load_vectors,
)
from betavae_tf.datasets.image_folder import UnreadableImageWarning
from betavae_tf.datasets.mnist import IMAGES_MAGIC, read_idx
from betavae_tf.presets import conv_preset

RNG = np.random.default_rng(0)
X8 = RNG.normal(size=(32, 8)).astype("float32")
IMAGES = RNG.uniform(size=(16, 8, 8, 1)).astype("float32")

# The last model `train` built, so the test can check it was never compiled.
LAST_MODEL: dict = {}


def tiny_conv(likelihood="mse", **overrides):
    return build_conv_beta_vae("mnist", input_shape=(8, 8, 1), filters=(2,), encoding_dim=2,
                               dense_units=4, likelihood=likelihood, **overrides)


def train(tmp, model=None, **overrides):
    """`train_vae` on a tiny dense model (or `model`), one epoch, checkpoint in tmp."""
    model = BetaVAE(input_dim=8, encoding_dim=2) if model is None else model
    LAST_MODEL["model"] = model
    arguments = {"X_train": X8, "X_val": X8[:8], "epochs": 1, "verbose": 0, "batch_size": 8,
                 "save_path": str(tmp / "best.h5"), **overrides}
    return train_vae(model, **arguments)


def train_images(tmp, likelihood="mse", **overrides):
    return train(tmp, tiny_conv(likelihood), **{"X_train": IMAGES, "X_val": IMAGES[:4], **overrides})


def with_value(x, index, value):
    x = np.array(x, copy=True)
    x[index] = value
    return x


def write(tmp, name, content) -> pathlib.Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def saved_npz(tmp, name="data.npz", **arrays) -> pathlib.Path:
    np.savez(tmp / name, **arrays)
    return tmp / name


def saved_npy(tmp, array, name="data.npy") -> pathlib.Path:
    np.save(tmp / name, array)
    return tmp / name


def idx_bytes(array, magic=None) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()


def good_model_file(tmp, extension) -> pathlib.Path:
    return pathlib.Path(save_vae(BetaVAE(input_dim=8, encoding_dim=2), str(tmp / f"good.{extension}")))


def truncated_copy(tmp, source: pathlib.Path, name: str, keep: float) -> pathlib.Path:
    data = source.read_bytes()
    return write(tmp, name, data[: int(len(data) * keep)])


def zip_with(tmp, name, members: dict) -> pathlib.Path:
    import zipfile

    with zipfile.ZipFile(tmp / name, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return tmp / name


def renamed(path: pathlib.Path, name: str) -> pathlib.Path:
    return path.rename(path.with_name(name))


def npy_claiming(shape, descr="<f8", data=bytes(64)) -> bytes:
    """A .npy header claiming `shape`, followed by only `data`."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + data


def npy_with_header(text: bytes) -> bytes:
    """A version 1.0 .npy file whose header is `text`."""
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + bytes(48)


def npz_with_broken_deflate(tmp) -> pathlib.Path:
    import zipfile

    with zipfile.ZipFile(tmp / "deflate.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", npy_claiming((4, 2)))
    data = bytearray((tmp / "deflate.npz").read_bytes())
    data[30 + len("x.npy")] = 0xFF  # the stream's first byte: an invalid block type
    return write(tmp, "deflate.npz", bytes(data))


def fifo(tmp, name) -> pathlib.Path:
    """A named pipe: opening it for reading would block the test forever."""
    os.mkfifo(tmp / name)
    return tmp / name


def folder(tmp, name) -> pathlib.Path:
    (tmp / name).mkdir()
    return tmp / name


def hdf5_without_model(tmp) -> pathlib.Path:
    import h5py

    with h5py.File(tmp / "weights_only.h5", "w") as handle:
        handle["x"] = np.zeros(3)
    return tmp / "weights_only.h5"


def image_folder(tmp, good=0, bad=None) -> pathlib.Path:
    """A folder of `good` 6x6 PNGs and the unreadable files in `bad` (name -> bytes)."""
    folder = tmp / "images"
    folder.mkdir(exist_ok=True)
    for i in range(good):
        tf.io.write_file(str(folder / f"good_{i}.png"),
                         tf.io.encode_png(tf.constant(RNG.integers(0, 256, (6, 6, 3)), tf.uint8)))
    for name, data in (bad or {}).items():
        (folder / name).write_bytes(data)
    return folder


UNREADABLE = {
    "empty.png": b"",
    "text.jpg": b"this is not an image",
    "html.jpeg": b"<html>404 Not Found</html>",
    "cut.png": b"\x89PNG\r\n\x1a\n\x00\x00",  # a PNG signature, then nothing
}


class Case(NamedTuple):
    call: Callable[[pathlib.Path], object]
    error: type | tuple
    message: str


def case(id, call, error, message, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(Case(call, error, message), id=id, marks=marks)


# --------------------------------------------------------------------- the table
CASES = [
    # --- wrong rank or feature count (train_vae)
    case("train: 3-D examples for a dense model",
         lambda t: train(t, X_train=X8.reshape(32, 2, 4)), ValueError,
         r"X_train has examples of shape \(2, 4\) but the model expects \(8,\); reshape"),
    case("train: 7 features for an 8-feature model",
         lambda t: train(t, X_train=X8[:, :7]), ValueError,
         r"X_train has examples of shape \(7,\) but the model expects \(8,\)"),
    case("train: flat vectors for a conv model",
         lambda t: train_images(t, X_train=IMAGES.reshape(16, 64)), ValueError,
         r"X_train has examples of shape \(64,\) but the model expects \(8, 8, 1\)"),
    case("train: images without the channel axis",
         lambda t: train_images(t, X_train=IMAGES[..., 0]), ValueError,
         r"X_train has examples of shape \(8, 8\) but the model expects \(8, 8, 1\)"),
    case("train: a scalar",
         lambda t: train(t, X_train=np.float32(3.0)), ValueError,
         r"X_train must have shape \(examples, features...\), but it has shape \(\)"),
    # --- NaN / Inf
    case("train: -Inf in the training data",
         lambda t: train(t, X_train=with_value(X8, (5, 2), -np.inf)), ValueError,
         r"X_train contains NaN or Inf in 1 example\(s\) \(first at index 5\); drop or impute"),
    case("train: NaN in the validation data",
         lambda t: train(t, X_val=with_value(X8[:8], (7, 0), np.nan)), ValueError,
         r"X_val contains NaN or Inf in 1 example\(s\) \(first at index 7\)"),
    case("train: NaN in images",
         lambda t: train_images(t, X_train=with_value(IMAGES, (3, 1, 1, 0), np.nan)), ValueError,
         r"X_train contains NaN or Inf in 1 example\(s\) \(first at index 3\)"),
    case("train: float64 values too large for float32",
         lambda t: train(t, X_train=with_value(X8.astype(np.float64), (2, 0), 1e300)), ValueError,
         r"X_train has values beyond float32's range .* \(first at index 2\); rescale"),
    # --- empty or single-example data
    case("train: no validation examples",
         lambda t: train(t, X_val=X8[:0]), ValueError,
         r"X_val has 0 examples but at least 2 are needed; pass more data"),
    case("train: no images",
         lambda t: train_images(t, X_train=IMAGES[:0]), ValueError, r"X_train has 0 examples"),
    case("train: a single image",
         lambda t: train_images(t, X_train=IMAGES[:1]), ValueError,
         r"X_train has 1 examples but at least 2 are needed"),
    case("train: a single validation example",
         lambda t: train(t, X_val=X8[:1]), ValueError, r"X_val has 1 examples but at least 2"),
    # --- integer images outside [0, 255]; images outside [0, 1] for Bernoulli
    case("train: int32 images up to 300",
         lambda t: train_images(t, X_train=with_value((IMAGES * 255).astype(np.int32), (0, 0, 0, 0), 300)),
         ValueError, r"X_train holds integer images with values in \[\d+, 300\], outside the 8-bit range"),
    case("train: int16 images with negative values",
         lambda t: train_images(t, X_val=with_value((IMAGES[:4] * 255).astype(np.int16), (1, 2, 3, 0), -5)),
         ValueError, r"X_val holds integer images with values in \[-5, \d+\]"),
    case("train: uint16 images (0..65535)",
         lambda t: train_images(t, X_train=(IMAGES * 65535).astype(np.uint16)), ValueError,
         r"outside the 8-bit range \[0, 255\]; scale them to \[0, 1\] floats first"),
    case("train: uint8 images for a Bernoulli model",
         lambda t: train_images(t, "bernoulli", X_train=with_value((IMAGES * 255).astype(np.uint8), 0, 255)),
         ValueError,
         r"X_train has values in \[0, 255\] but the bernoulli likelihood needs data in \[0, 1\]; divide 8-bit images by 255"),
    case("train: validation images up to 1.5 for a Bernoulli model",
         lambda t: train_images(t, "bernoulli", X_val=with_value(IMAGES[:4], 0, 1.5)), ValueError,
         r"X_val has values in \[[\d.e-]+, 1.5\] but the bernoulli likelihood needs data in \[0, 1\]"),
    # --- mismatched train / validation
    case("train: 3-channel validation images for a 1-channel model",
         lambda t: train_images(t, X_val=np.repeat(IMAGES[:4], 3, axis=-1)), ValueError,
         r"X_val has examples of shape \(8, 8, 3\) but the model expects \(8, 8, 1\)"),
    case("train: validation images of another size",
         lambda t: train_images(t, X_val=IMAGES[:4, :7, :7]), ValueError,
         r"X_val has examples of shape \(7, 7, 1\)"),
    case("train: complex numbers",
         lambda t: train(t, X_train=X8 + 1j), ValueError,
         r"X_train holds complex numbers \(complex\d+\); pass real values"),
    case("train: ragged rows",
         lambda t: train(t, X_train=[[1.0] * 8, [2.0] * 7]), ValueError,
         r"X_train could not be read as a numeric array \(.*inhomogeneous.*\); pass a NumPy array"),
    case("train: an empty tf.data dataset",
         lambda t: train(t, X_train=tf.data.Dataset.from_tensor_slices(X8[:0]).batch(4), X_val=None),
         ValueError, r"X_train .*(empty|no batches|0 examples)"),
    case("train: save_path is an existing folder",
         lambda t: train(t, save_path=str(folder(t, "ckpt.h5"))), (OSError, ValueError),
         r"ckpt.h5'? is a (folder|directory)"),
    case("train: validation data of strings",
         lambda t: train(t, X_val=np.array([["a"] * 8] * 4)), ValueError,
         r"X_val must hold numbers, but its dtype is <U1; convert text columns"),
    case("train: a dataset of strings",
         lambda t: train(t, X_train=tf.data.Dataset.from_tensor_slices(np.array([["a"] * 8] * 4)).batch(2)),
         ValueError, r"X_train yields string tensors; it must yield numbers"),
    # --- batch size and other training arguments
    case("train: batch_size one larger than the data",
         lambda t: train(t, batch_size=33), ValueError,
         r"batch_size=33 is larger than the 32 examples in X_train; pass batch_size <= 32"),
    case("train: batch_size 0",
         lambda t: train(t, batch_size=0), ValueError, r"batch_size must be an integer >= 1. Received: batch_size=0"),
    case("train: batch_size True",
         lambda t: train(t, batch_size=True), ValueError, r"batch_size must be an integer >= 1. Received: batch_size=True"),
    case("train: patience -1",
         lambda t: train(t, patience=-1), ValueError, r"patience must be an integer >= 0. Received: patience=-1"),
    case("train: learning_rate NaN",
         lambda t: train(t, learning_rate=float("nan")), ValueError,
         r"learning_rate must be a finite number > 0.0. Received: learning_rate=nan"),
    case("train: a string as kl_scheduler",
         lambda t: train(t, kl_scheduler="linear"), ValueError,
         r"kl_scheduler must be a keras Callback such as KLAnnealing; got str"),
    case("train: annealing to a negative beta",
         lambda t: train(t, kl_scheduler=KLAnnealing(0.0, -1.0, 5)), ValueError,
         r"target_beta must be a finite number >= 0.0. Received: target_beta=-1.0"),
    case("train: checkpoint folder below a file",
         lambda t: train(t, save_path=str(write(t, "file.txt", "x") / "best.h5")), OSError,
         r"Cannot create the checkpoint folder .*file.txt'.*; pass a save_path in a writable folder"),
    case("train: not a BetaVAE",
         lambda t: train_vae(keras.Sequential([keras.layers.Dense(8)]), X8), ValueError,
         r"model must be a BetaVAE; got Sequential"),
    # --- model arguments: beta < 0, encoding_dim <= 0, unknown names
    case("model: beta a tiny bit below 0",
         lambda t: BetaVAE(input_dim=8, beta=-1e-9), ValueError,
         r"beta must be a finite number >= 0.0. Received: beta=-1e-09"),
    case("model: beta Inf",
         lambda t: BetaVAE(input_dim=8, beta=float("inf")), ValueError, r"Received: beta=inf"),
    case("model: beta as a string",
         lambda t: BetaVAE(input_dim=8, beta="4"), ValueError, r"beta must be a finite number >= 0.0. Received: beta='4'"),
    case("conv model: negative beta",
         lambda t: tiny_conv(beta=-2.0), ValueError,
         r"beta must be a finite number >= 0.0. Received: beta=-2.0"),
    case("model: encoding_dim -3",
         lambda t: BetaVAE(input_dim=8, encoding_dim=-3), ValueError,
         r"encoding_dim must be an integer >= 1. Received: encoding_dim=-3"),
    case("model: encoding_dim 2.5",
         lambda t: BetaVAE(input_dim=8, encoding_dim=2.5), ValueError, r"Received: encoding_dim=2.5"),
    case("conv model: encoding_dim 0",
         lambda t: build_conv_beta_vae("mnist", input_shape=(8, 8, 1), filters=(2,), encoding_dim=0),
         ValueError,
         r"encoding_dim must be an integer >= 1. Received: encoding_dim=0"),
    case("model: input_dim 0",
         lambda t: BetaVAE(input_dim=0), ValueError, r"input_dim must be an integer >= 1. Received: input_dim=0"),
    case("model: likelihood in capitals",
         lambda t: BetaVAE(input_dim=8, likelihood="Bernoulli"), ValueError,
         r"Unknown likelihood 'Bernoulli'; choose one of \['bernoulli', 'gaussian', 'mse'\]"),
    case("model: likelihood None",
         lambda t: BetaVAE(input_dim=8, likelihood=None), ValueError, r"Unknown likelihood None; choose one of"),
    case("model: unknown objective",
         lambda t: BetaVAE(input_dim=8, objective="vanilla"), ValueError,
         r"Unknown objective 'vanilla'; choose one of \['annealed', 'beta', 'capacity', 'dip1', 'dip2', 'factor', 'tcvae'\]"),
    case("preset: unknown name",
         lambda t: build_conv_beta_vae("celeba"), ValueError,
         r"Unknown preset 'celeba'; choose one of \['dsprites', 'faces', 'mnist'\]"),
    case("preset: name in capitals",
         lambda t: conv_preset("MNIST"), ValueError, r"Unknown preset 'MNIST'"),
    case("preset: unknown likelihood",
         lambda t: tiny_conv(likelihood="poisson"), ValueError, r"Unknown likelihood 'poisson'"),
    # --- corrupt / truncated model files
    case("load_vae: empty .h5",
         lambda t: load_vae(write(t, "empty.h5", b"")), ValueError,
         r"empty.h5' is not a valid HDF5 file \(corrupt or truncated\?\); re-save the model"),
    case("load_vae: empty .keras",
         lambda t: load_vae(write(t, "empty.keras", b"")), ValueError,
         r"empty.keras' is not a valid .keras archive \(corrupt or truncated\?\)"),
    case("load_vae: .keras cut short at the end",
         lambda t: load_vae(truncated_copy(t, good_model_file(t, "keras"), "cut.keras", 0.95)), ValueError,
         r"cut.keras' is not a valid .keras archive|Could not load a model from .*cut.keras"),
    case("load_vae: .h5 cut to three quarters",
         lambda t: load_vae(truncated_copy(t, good_model_file(t, "h5"), "cut.h5", 0.75)), ValueError,
         r"Could not load a model from .*cut.h5' \(OSError: .*truncated file.*\); it is corrupt or not a betavae_tf model"),
    case("load_vae: .keras without config.json",
         lambda t: load_vae(zip_with(t, "noconfig.keras", {"metadata.json": "{}"})), ValueError,
         r"Could not load a model from .*noconfig.keras' \(KeyError: .*config.json"),
    case("load_vae: .keras with broken JSON",
         lambda t: load_vae(zip_with(t, "badjson.keras", {"config.json": "{not json", "metadata.json": "{}"})),
         ValueError, r"Could not load a model from .*badjson.keras' \(JSONDecodeError"),
    case("load_vae: HDF5 file without a model",
         lambda t: load_vae(hdf5_without_model(t)), ValueError,
         r"Could not load a model .*No model config found.*re-save the model or use another file"),
    case("load_vae: an .npz renamed .keras",
         lambda t: load_vae(renamed(saved_npz(t, x=X8), "data.keras")),
         ValueError, r"Could not load a model from .*data.keras"),
    case("load_vae: a FIFO named .h5",
         lambda t: load_vae(fifo(t, "pipe.h5")), ValueError,
         r"pipe.h5' is not a regular file \(it is a FIFO\); pass a model file"),
    # --- corrupt / truncated data files
    case("load_array_file: .npz cut in half",
         lambda t: load_array_file(truncated_copy(t, saved_npz(t, x=X8), "cut.npz", 0.5)), ValueError,
         r"Could not read .*cut.npz' \(.*\); the file is corrupt or truncated, save or download it again"),
    case("load_array_file: empty .npz",
         lambda t: load_array_file(write(t, "empty.npz", b"")), ValueError,
         r"Could not read .*empty.npz' .*the file is corrupt"),
    case("load_array_file: .npy cut short",
         lambda t: load_array_file(truncated_copy(t, saved_npy(t, X8), "cut.npy", 0.6)), ValueError,
         r"Could not read .*cut.npy'"),
    case("load_array_file: .npy whose header claims 8 TB",
         lambda t: load_array_file(write(t, "huge.npy", npy_claiming((10**7, 10**5)))), ValueError,
         r"Could not read .*huge.npy': its header claims shape \(10000000, 100000\) of float64, 8 TB, but "
         r"the file holds only 192 bytes; it is corrupt or truncated, save or download it again"),
    case("load_array_file: .npz member whose header claims 8 TB",
         lambda t: load_array_file(zip_with(t, "huge.npz", {"x.npy": npy_claiming((10**7, 10**5))})), ValueError,
         r"Could not read .*huge.npz': the header of its array 'x' claims shape \(10000000, 100000\) of "
         r"float64, 8 TB, but the archive holds only 192 bytes for it; it is corrupt or truncated"),
    case("load_array_file: .npy with an unclosed header",
         lambda t: load_array_file(write(t, "open.npy", npy_with_header(b"{'descr': '<f8', 'shape': (2, 3\n"))),
         ValueError, r"Could not read .*open.npy' \(.*EOF in multi-line statement.*\); the file is corrupt"),
    case("load_array_file: .npy header of 9,000 characters",
         lambda t: load_array_file(write(t, "long.npy", npy_with_header(
             b"{'descr': '" + b"y" * 9000 + b"', 'fortran_order': False, 'shape': (2,)}\n"))),
         ValueError, r"Could not read .*long.npy' \(.*\.\.\.\); the file is corrupt or truncated"),
    case("load_array_file: .npz with a broken deflate stream",
         lambda t: load_array_file(npz_with_broken_deflate(t)), ValueError,
         r"Could not read .*deflate.npz' \(Error -3 while decompressing data: invalid block type\); the file is "
         r"corrupt or truncated"),
    case("load_array_file: random bytes named .npy",
         lambda t: load_array_file(write(t, "random.npy", bytes(range(1, 256)) * 4)), ValueError,
         r"random.npy' is not a valid .npy file \(it starts with neither NumPy's nor zip's signature\); it is "
         r"corrupt or not a NumPy file, save it with np.save"),
    case("load_array_file: random bytes named .npz",
         lambda t: load_array_file(write(t, "random.npz", b"\x01garbage" * 50)), ValueError,
         r"random.npz' is not a valid .npz file \(it starts with neither NumPy's nor zip's signature\); "
         r"it is corrupt or not a NumPy file, save it with np.savez"),
    case("load_array_file: a real pickle named .npy",
         lambda t: load_array_file(write(t, "list.npy", pickle.dumps([[1.0, 2.0]]))), ValueError,
         r"list.npy' holds pickled Python objects, which are never loaded \(they can run code\)"),
    case("load_array_file: a folder named .npy",
         lambda t: load_array_file(folder(t, "data.npy")), ValueError, r"data.npy' is a folder, not a data file"),
    case("load_array_file: a FIFO named .csv",
         lambda t: load_array_file(fifo(t, "pipe.csv")), ValueError,
         r"pipe.csv' is not a regular file \(it is a FIFO\); pass a data file"),
    case("load_array_file: .npz without the named key",
         lambda t: load_array_file(saved_npz(t, x=X8), key="y"), ValueError,
         r"has no array 'y'; it has \['x'\]"),
    case("load_array_file: .npy with no rows",
         lambda t: load_array_file(saved_npy(t, np.zeros((0, 3)))), ValueError,
         r"data.npy has 0 examples but at least 1 are needed"),
    case("load_array_file: 1-D .npy",
         lambda t: load_array_file(saved_npy(t, np.arange(5.0))), ValueError,
         r"data.npy must have shape \(examples, features...\).*x.reshape\(-1, 1\)"),
    case("load_array_file: .npy of text",
         lambda t: load_array_file(saved_npy(t, np.array([["1", "a"]]))), ValueError,
         r"data.npy must hold numbers, but its dtype is <U1"),
    case("load_array_file: Inf in an .npz",
         lambda t: load_array_file(saved_npz(t, x=with_value(X8, (9, 1), np.inf))), ValueError,
         r"data.npz contains NaN or Inf in 1 example\(s\) \(first at index 9\)"),
    case("load_array_file: .npy of 16-bit images",
         lambda t: load_array_file(saved_npy(t, np.full((2, 4, 4, 1), 4000, np.uint16))), ValueError,
         r"holds integer images with values in \[4000, 4000\]"),
    case("load_array_file: unknown extension",
         lambda t: load_array_file(write(t, "data.parquet", b"PAR1")), ValueError,
         r"Unsupported data file .*data.parquet'; use .csv, .npy or .npz"),
    # --- CSV with text columns or ragged rows
    case("csv: a text column after the header",
         lambda t: load_array_file(write(t, "d.csv", "a,b,c\n1,2,3\n4,red,6\n")), ValueError,
         r"d.csv' line 3, column 2: 'red' is not a number; drop or encode text columns"),
    case("csv: a row longer than the header",
         lambda t: load_array_file(write(t, "d.csv", "a,b\n1,2\n3,4,5\n")), ValueError,
         r"d.csv' line 3 has 3 columns but the file has 2; fix the ragged row"),
    case("csv: a row shorter than the first, no header",
         lambda t: load_array_file(write(t, "d.csv", "1,2,3\n4,5\n")), ValueError,
         r"line 2 has 2 columns but the file has 3"),
    case("csv: inf as a value",
         lambda t: load_array_file(write(t, "d.csv", "1,2\ninf,3\n")), ValueError, r"d.csv contains NaN or Inf"),
    case("csv: a value too large for float32",
         lambda t: load_array_file(write(t, "d.csv", "1,2\n3,1e39\n")), ValueError,
         r"d.csv has values beyond float32's range \(about ±3.4e38\) in 1 example\(s\) \(first at index 1\); "
         r"rescale the data"),
    case("csv: only blank lines",
         lambda t: load_array_file(write(t, "d.csv", "\n ,\n\n")), ValueError, r"d.csv' holds no rows"),
    case("csv: a field of 200,000 characters",
         lambda t: load_array_file(write(t, "d.csv", "a,b\n1,2\n" + "1" * 200_000 + ",3\n")), ValueError,
         r"d.csv' line 3 has a field longer than 131,072 characters; it is not a CSV of numbers"),
    case("csv: binary bytes",
         lambda t: load_array_file(write(t, "d.csv", b"1,2\n\x00\x01\x02\xff\n")), ValueError,
         r"d.csv' is not a text file \(byte 0x00 at offset 4\); save it as a UTF-8 CSV of numbers"),
    case("csv: UTF-16 text",
         lambda t: load_array_file(write(t, "d.csv", "a,b\n1,2\n3,4\n".encode("utf-16"))), ValueError,
         r"d.csv' is not a text file \(byte 0x00 at offset 3\); save it as a UTF-8 CSV"),
    case("csv: NA in the first row is data, not a header",
         lambda t: load_array_file(write(t, "d.csv", "1,NA,3\n4,5,6\n7,8,9\n")), ValueError,
         r"d.csv' line 1, column 2: 'NA' is a missing value; drop or impute the examples with missing values"),
    case("csv: an empty first-row cell is data, not a header",
         lambda t: load_array_file(write(t, "d.csv", "1,,3\n4,5,6\n")), ValueError,
         r"d.csv' line 1, column 2: '' is a missing value"),
    case("csv: NA after a header",
         lambda t: load_array_file(write(t, "d.csv", "a,b\n1,2\nN/A,4\n")), ValueError,
         r"d.csv' line 3, column 1: 'N/A' is a missing value; drop or impute"),
    case("csv: the line number counts blank lines",
         lambda t: load_array_file(write(t, "d.csv", "a,b\n\n1,2\n\n3,x\n")), ValueError,
         r"d.csv' line 5, column 2: 'x' is not a number"),
    case("csv: a long text cell is shortened in the message",
         lambda t: load_array_file(write(t, "d.csv", "a,b\n1,2\n3," + "x" * 5000 + "\n")), ValueError,
         r"d.csv' line 3, column 2: 'xxx+\.\.\.' \(5,000 characters\) is not a number"),
    case("load_vectors: too few rows to split",
         lambda t: load_vectors(write(t, "d.csv", "1,2\n3,4\n5,6\n")), ValueError,
         r"Splitting 3 examples with val_fraction=0.2 leaves fewer than 2 for training or validation"),
    # --- IDX (MNIST) files
    case("read_idx: empty file",
         lambda t: read_idx(write(t, "x-idx3-ubyte", b"")), ValueError,
         r"is 0 bytes long, too short for an IDX header; the file is truncated, download it again"),
    case("read_idx: trailing bytes",
         lambda t: read_idx(write(t, "x-idx3-ubyte", idx_bytes(np.zeros((2, 3, 3))) + b"\x00"), IMAGES_MAGIC),
         ValueError, r"holds 19 data bytes but its IDX header \(2, 3, 3\) needs 18; the file is corrupt \(it has trailing bytes\)"),
    case("read_idx: header of 0 dimensions",
         lambda t: read_idx(write(t, "x-idx3-ubyte", (0x0800).to_bytes(4, "big"))), ValueError,
         r"has a broken IDX header \(0 dimensions in 4 bytes\)"),
    case("read_idx: labels file where images are expected",
         lambda t: read_idx(write(t, "x-idx3-ubyte", idx_bytes(np.zeros(4))), IMAGES_MAGIC), ValueError,
         r"has IDX magic number 0x00000801, expected 0x00000803"),
    case("read_idx: .gz that is not gzip",
         lambda t: read_idx(write(t, "x-idx3-ubyte.gz", idx_bytes(np.zeros((1, 2, 2))))), ValueError,
         r"Could not read .*x-idx3-ubyte.gz' \(.*\); the file is truncated or corrupt, download it again"),
    case("load_mnist: gzip cut short",
         lambda t: load_mnist(mnist_folder_with_cut_gzip(t)), ValueError,
         r"Could not read .*train-images-idx3-ubyte.gz' .*truncated or corrupt"),
    # --- dSprites
    case("load_dsprites: a .npy instead of the .npz",
         lambda t: load_dsprites(saved_npy(t, np.zeros((2, 64, 64), np.uint8))), ValueError,
         r"is a single .npy array; pass the official dSprites .npz"),
    case("load_dsprites: imgs of the wrong rank",
         lambda t: load_dsprites(saved_npz(t, imgs=np.zeros((2, 64)), latents_values=np.zeros((2, 6)),
                                           latents_classes=np.zeros((2, 6)))), ValueError,
         r"has imgs \(2, 64\), latents_values \(2, 6\) and latents_classes \(2, 6\); expected \(n, H, W\)"),
    case("load_dsprites: imgs whose header claims 8 TB",
         lambda t: load_dsprites(zip_with(t, "dsprites.npz", {
             "imgs.npy": npy_claiming((10**7, 10**5)), "latents_values.npy": npy_claiming((2, 6), data=bytes(96)),
             "latents_classes.npy": npy_claiming((2, 6), data=bytes(96))})), ValueError,
         r"Could not read .*dsprites.npz': the header of its array 'imgs' claims shape \(10000000, 100000\)"),
    case("dsprites: latents of 5 columns",
         lambda t: DSprites().render(np.zeros((2, 5))), ValueError,
         r"latents_values must have shape \(n, 6\)"),
    case("dsprites: index out of range",
         lambda t: DSprites().images([737280]), ValueError, r"index 737280 is out of range; pass indices in 0..737279"),
    # --- image folders
    case("images: a folder of only unreadable files",
         lambda t: image_folder_dataset(image_folder(t, bad=UNREADABLE), image_size=4), ValueError,
         r"None of the 4 image files in .*images' could be read \(e.g. '.*'\); they are corrupt or not"),
    case("images: a validation split of only unreadable files",
         lambda t: image_folder_dataset(image_folder(t, bad={f"bad_{i}.png": b"" for i in range(4)}),
                                        image_size=4, validation_fraction=0.5, split="validation"),
         ValueError, r"None of the 2 image files"),
    case("images: crop_size 0",
         lambda t: image_folder_dataset(image_folder(t, good=1), crop_size=0), ValueError,
         r"crop_size must be an integer >= 1. Received: crop_size=0"),
    case("images: validation_fraction 1.5",
         lambda t: image_folder_dataset(image_folder(t, good=2), validation_fraction=1.5, split="train"),
         ValueError, r"validation_fraction must be a finite number > 0.0 and < 1.0"),
    # --- named data sources
    case("source: images without a folder",
         lambda t: load_data_source("images:"), ValueError, r"'images:' needs a path, e.g. images:/data/my_images"),
    case("source: unknown kind",
         lambda t: load_data_source("cifar10:/data"), ValueError, r"'cifar10:/data' is not a data source; use digits"),
    case("source: missing .npy",
         lambda t: load_data_source(f"npy:{t / 'missing.npy'}"), FileNotFoundError,
         r"No data file at .*missing.npy'; check the path"),
    case("source: too few generated dSprites",
         lambda t: load_data_source("dsprites", n_samples=3), ValueError,
         r"n_samples must be an integer >= 4. Received: n_samples=3"),
    case("source: val_fraction 0",
         lambda t: load_data_source("digits", val_fraction=0.0), ValueError,
         r"val_fraction must be a finite number > 0.0 and < 1.0. Received: val_fraction=0.0"),
]


def mnist_folder_with_cut_gzip(tmp):
    folder = tmp / "mnist"
    folder.mkdir()
    data = gzip.compress(idx_bytes(np.zeros((3, 28, 28))))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3))))
    return folder


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_with_a_one_line_error(bad, tmp_path):
    LAST_MODEL.clear()
    with pytest.raises(bad.error, match=bad.message) as error:
        bad.call(tmp_path)
    expected = bad.error if isinstance(bad.error, tuple) else (bad.error,)
    assert type(error.value) in expected or OSError in expected
    message = str(error.value)
    assert "\n" not in message and message.strip() == message and len(message) < 400
    assert not (tmp_path / "best.h5").exists()  # no checkpoint: training never started
    if "model" in LAST_MODEL:
        assert not LAST_MODEL["model"].compiled


# ------------------------------------------------------------- command line
def cli_model(tmp, corrupt=False):
    if corrupt:
        return str(write(tmp, "corrupt.h5", os.urandom(512)))
    return save_vae(BetaVAE(input_dim=64, encoding_dim=2), str(tmp / "m.h5"))


CLI_CASES = [
    # argparse range and choice checks (exit 2, "argument --x: ...")
    ("train --encoding-dim 0", lambda t: ["train", "--encoding-dim", "0"],
     "argument --encoding-dim: 0 is out of range; it must be >= 1"),
    ("train --beta nan", lambda t: ["train", "--beta", "nan"], "argument --beta: nan is out of range; it must be >= 0.0"),
    ("train --beta inf", lambda t: ["train", "--beta", "inf"], "argument --beta: inf is out of range"),
    ("train --learning-rate 0", lambda t: ["train", "--learning-rate", "0"],
     "argument --learning-rate: 0 is out of range; it must be > 0.0"),
    ("train --batch-size 0", lambda t: ["train", "--batch-size", "0"], "argument --batch-size: 0 is out of range"),
    ("train --batch-size 2.5", lambda t: ["train", "--batch-size", "2.5"],
     "argument --batch-size: '2.5' is not a valid int"),
    ("train --epochs -3", lambda t: ["train", "--epochs", "-3"], "argument --epochs: -3 is out of range; it must be >= 1"),
    ("train --dropout-rate 1.5", lambda t: ["train", "--dropout-rate", "1.5"],
     "argument --dropout-rate: 1.5 is out of range; it must be >= 0.0 and <= 0.99"),
    ("train --val-fraction 0.95", lambda t: ["train", "--val-fraction", "0.95"],
     "argument --val-fraction: 0.95 is out of range; it must be > 0.0 and <= 0.9"),
    ("train --likelihood laplace", lambda t: ["train", "--likelihood", "laplace"],
     "argument --likelihood: invalid choice: 'laplace'"),
    ("train --preset cifar", lambda t: ["train", "--preset", "cifar"], "argument --preset: invalid choice: 'cifar'"),
    ("train --objective vae", lambda t: ["train", "--objective", "vae"], "argument --objective: invalid choice: 'vae'"),
    ("train --model-format pt", lambda t: ["train", "--model-format", "pt"],
     "argument --model-format: invalid choice: 'pt'"),
    ("train --data images:", lambda t: ["train", "--data", "images:"], "'images:' needs a path"),
    ("sweep --betas 1 -1", lambda t: ["sweep", "--betas", "1", "-1"], "argument --betas: -1 is out of range"),
    ("generate --n 0", lambda t: ["generate", "--n", "0"], "argument --n: 0 is out of range; it must be >= 1 and <= 10000"),
    ("interpolate --steps 1", lambda t: ["interpolate", "--steps", "1"], "argument --steps: 1 is out of range"),
    ("traverse --columns 1", lambda t: ["traverse", "--columns", "1"], "argument --columns: 1 is out of range"),
    ("traverse --limit 0", lambda t: ["traverse", "--limit", "0"], "argument --limit: 0 is out of range; it must be > 0.0"),
    ("evaluate --scale 0", lambda t: ["evaluate", "m.h5", "--scale", "0"], "argument --scale: 0 is out of range"),
    ("evaluate --metrics unknown", lambda t: ["evaluate", "m.h5", "--metrics", "accuracy"],
     "argument --metrics: invalid choice: 'accuracy'"),
    # the CLI's own one-line errors for bad files (exit 2, "betavae-tf: error: ...")
    ("train --data csv:missing", lambda t: ["train", "--data", f"csv:{t / 'missing.csv'}", "--output-dir", str(t)],
     "betavae-tf: error: No data file at"),
    ("train --data npy with NaN",
     lambda t: ["train", "--data", f"npy:{saved_npy(t, with_value(np.ones((40, 3)), (4, 1), np.nan))}",
                "--output-dir", str(t)],
     "contains NaN or Inf in 1 example(s)"),
    ("train --data csv with a text column",
     lambda t: ["train", "--data", f"csv:{write(t, 'd.csv', 'a,b' + chr(10) + '1,2' + chr(10) + 'x,3')}",
                "--output-dir", str(t)],
     "line 3, column 1: 'x' is not a number"),
    ("train --data npy whose header claims 8 TB",
     lambda t: ["train", "--data", f"npy:{write(t, 'huge.npy', npy_claiming((10**7, 10**5)))}",
                "--output-dir", str(t)],
     "its header claims shape (10000000, 100000) of float64, 8 TB, but the file holds only 192 bytes"),
    ("train --data npy of random bytes",
     lambda t: ["train", "--data", f"npy:{write(t, 'r.npy', bytes(range(1, 256)))}", "--output-dir", str(t)],
     "is not a valid .npy file"),
    ("train --data csv with a 200,000-character field",
     lambda t: ["train", "--data", f"csv:{write(t, 'd.csv', '1,2' + chr(10) + '3' * 200_000 + ',4')}",
                "--output-dir", str(t)],
     "line 2 has a field longer than 131,072 characters"),
    ("train --data csv of binary bytes",
     lambda t: ["train", "--data", f"csv:{write(t, 'd.csv', bytes(range(256)))}", "--output-dir", str(t)],
     "is not a text file (byte 0x00 at offset 0)"),
    ("train --data csv with NA in the first row",
     lambda t: ["train", "--data", f"csv:{write(t, 'd.csv', '1,NA' + chr(10) + '3,4' + chr(10) + '5,6')}",
                "--output-dir", str(t)],
     "line 1, column 2: 'NA' is a missing value"),
    ("train --data images: of unreadable files",
     lambda t: ["train", "--data", f"images:{image_folder(t, bad=UNREADABLE)}", "--output-dir", str(t)],
     "image files in"),
    ("train --data mnist:empty folder",
     lambda t: ["train", "--data", f"mnist:{t}", "--output-dir", str(t)], "No train-images-idx3-ubyte[.gz]"),
    pytest.param("train --output-dir is a file",
                 lambda t: ["train", "--output-dir", str(write(t, "file", "x")), "--epochs", "1"],
                 "pass --output-dir", id="train --output-dir is a file"),
    ("generate --model-path missing",
     lambda t: ["generate", "--model-path", str(t / "nothing.h5"), "--output-dir", str(t)], "No model file at"),
    ("generate --model-path corrupt",
     lambda t: ["generate", "--model-path", cli_model(t, corrupt=True), "--output-dir", str(t)],
     "is not a valid HDF5 file (corrupt or truncated?)"),
    ("generate --model-path FIFO",
     lambda t: ["generate", "--model-path", str(fifo(t, "pipe.h5")), "--output-dir", str(t)],
     "pipe.h5' is not a regular file (it is a FIFO)"),
    ("generate with data of another shape",
     lambda t: ["generate", "--model-path", cli_model(t), "--data", f"npy:{saved_npy(t, np.ones((40, 3)))}",
                "--output-dir", str(t)],
     "The model takes examples of shape (64,) but --data"),
]


def _cli_param(row):
    if hasattr(row, "marks"):  # an xfail row, already a pytest.param
        _, argv, message = row.values
        return pytest.param(argv, message, id=row.id, marks=row.marks)
    name, argv, message = row
    return pytest.param(argv, message, id=name)


@pytest.mark.parametrize("argv, message", [_cli_param(row) for row in CLI_CASES])
def test_bad_command_line_input_exits_2_with_one_clear_line(argv, message, tmp_path, capsys):
    arguments = argv(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    last = err.rstrip("\n").splitlines()[-1]  # argparse prints its usage first
    assert message in last and (last.startswith("betavae-tf") or ": error: " in last)
    assert not (tmp_path / "checkpoints" / "best_vae.h5").exists()


# ----------------------------------------------- image folders: skip and warn
def test_unreadable_images_are_skipped_with_one_warning_naming_them(tmp_path):
    damaged_later = {"z_cut.png": UNREADABLE["cut.png"]}  # sorted after the good files
    folder = image_folder(tmp_path, good=3, bad={**UNREADABLE, **damaged_later})
    with pytest.warns(UnreadableImageWarning, match=r"Skipping 4 of 8 files in .*images' that are not "
                      r"readable images \(e.g. 'empty.png'\); remove or replace them") as record:
        dataset = image_folder_dataset(folder, image_size=4, batch_size=10, shuffle=False)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    # Three files fail the format check and cut.png fails to decode while the
    # first readable image is looked for; z_cut.png starts like a PNG and is
    # dropped while reading (and named in a warning). Only the 3 good ones remain.
    images = np.concatenate([batch.numpy() for batch in dataset])
    assert images.shape == (3, 4, 4, 3)


def test_a_folder_of_good_images_gives_no_warning(tmp_path):
    folder = image_folder(tmp_path, good=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadableImageWarning)
        dataset = image_folder_dataset(folder, image_size=4, batch_size=10)
    assert next(iter(dataset)).shape == (2, 4, 4, 3)


def test_the_table_is_large_enough():
    assert len(CASES) + len(CLI_CASES) >= 40
