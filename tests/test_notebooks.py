"""Executes every notebook in notebooks/ with tiny settings, in a scratch folder."""

import glob
import os

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from nbclient import NotebookClient

from conftest import real_mnist_dir

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb")))
NEEDS_MNIST = ("02_mnist_beta_sweep.ipynb",)


def test_every_promised_notebook_is_there():
    names = {os.path.basename(path) for path in NOTEBOOKS}
    assert names >= {
        "01_beta_vae_quickstart.ipynb", "02_mnist_beta_sweep.ipynb", "03_dsprites.ipynb",
        "04_faces.ipynb", "05_generation_and_interpolation.ipynb",
    }


def write_small_image_folder(folder, n=24):
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 255, size=(40, 32, 3), dtype=np.uint8)
        tf.io.write_file(os.path.join(folder, f"{i:03d}.jpg"), tf.io.encode_jpeg(pixels))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, tmp_path, monkeypatch):
    name = os.path.basename(path)
    mnist = real_mnist_dir()
    if name in NEEDS_MNIST and mnist is None:
        pytest.skip("real MNIST not available (set BETAVAE_DATA_DIR)")
    if mnist is not None:
        monkeypatch.setenv("BETAVAE_DATA_DIR", str(mnist))
    else:
        monkeypatch.delenv("BETAVAE_DATA_DIR", raising=False)
    faces = tmp_path / "faces"
    write_small_image_folder(str(faces))
    monkeypatch.setenv("BETAVAE_FACES_DIR", str(faces))
    monkeypatch.setenv("BETAVAE_FAST", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")

    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "commit notebooks with outputs stripped (python notebooks/make_notebooks.py)"
    )
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [o for cell in notebook.cells for o in cell.get("outputs", [])
              if "image/png" in o.get("data", {}) or "image/gif" in o.get("data", {})]
    assert images, "a notebook that shows no picture"
    saved = glob.glob(str(tmp_path / "**" / "*.h5"), recursive=True) + glob.glob(
        str(tmp_path / "**" / "*.keras"), recursive=True)
    assert saved, "every notebook saves a model"
