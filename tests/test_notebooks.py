"""Executes every notebook in notebooks/ with tiny settings, in a scratch folder,
and checks the committed copies: stored with their outputs, none of them an error."""

import glob
import os
import subprocess

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from conftest import real_mnist_dir
from nbclient import NotebookClient

NOTEBOOK_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "notebooks"))
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
NEEDS_MNIST = ("02_mnist_beta_sweep.ipynb",)
IMAGE_TYPES = ("image/png", "image/gif")
REGENERATE = "python notebooks/make_notebooks.py --execute"


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


def has_image(cell) -> bool:
    return any(kind in output.get("data", {}) for output in cell.get("outputs", [])
               for kind in IMAGE_TYPES)


def errors_in(cell) -> list[str]:
    """The stored outputs of `cell` that are an error or print a traceback."""
    found = []
    for output in cell.get("outputs", []):
        text = output.get("text", "") + "".join(output.get("data", {}).get("text/plain", ""))
        if output.get("output_type") == "error" or "Traceback (most recent call last)" in text:
            found.append(output.get("ename") or text[:200])
    return found


def untracked_or_changed(folder: str) -> list[str]:
    """`git status --porcelain` of `folder` (ignored files excluded), or the folder
    listing where this is not a git checkout."""
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "."],
                                cwd=folder, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return sorted(os.listdir(folder))
    return sorted(status.stdout.splitlines())


def test_notebook_outputs_are_git_ignored():
    """Jupyter runs a notebook in notebooks/, so its `outputs/` folder must be ignored."""
    probe = os.path.join(NOTEBOOK_DIR, "outputs", "03_dsprites", "model.keras")
    result = subprocess.run(["git", "check-ignore", "-q", probe], cwd=NOTEBOOK_DIR, check=False)
    if result.returncode == 128:
        pytest.skip("not a git checkout")
    assert result.returncode == 0, "add notebooks/outputs/ to .gitignore"


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

    committed = nbformat.read(path, as_version=4)
    assert REGENERATE in committed.cells[0].source, (
        "the first cell should say how long a full run takes and how to regenerate the notebook "
        f"({REGENERATE})"
    )
    for index, cell in enumerate(committed.cells):
        assert not errors_in(cell), f"cell {index} was committed with an error: {errors_in(cell)}"

    work = tmp_path / "run"
    work.mkdir()
    before = untracked_or_changed(NOTEBOOK_DIR)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()

    images = [index for index, cell in enumerate(notebook.cells) if has_image(cell)]
    assert images, "a notebook that shows no picture"
    missing = [index for index in images if not has_image(committed.cells[index])]
    assert not missing, (
        f"cells {missing} draw a picture but were committed without it: commit the notebooks with "
        f"their outputs ({REGENERATE})"
    )
    saved = glob.glob(str(work / "**" / "*.h5"), recursive=True) + glob.glob(
        str(work / "**" / "*.keras"), recursive=True)
    assert saved, "every notebook saves a model"
    assert sorted(os.listdir(work)) == ["outputs"], (
        "a notebook writes every file under outputs/ (git-ignored beside the notebooks)"
    )
    assert untracked_or_changed(NOTEBOOK_DIR) == before, "running a notebook changed notebooks/"


def test_stored_outputs_drop_tensorflows_start_up_lines_and_keep_real_ones():
    """make_notebooks uses the command line's noise list (tf_logging.NOISE) plus
    two notebook-only lines; anything else stays in the stored outputs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", os.path.join(NOTEBOOK_DIR, "make_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = ("I0000 port.cc:153] oneDNN custom operations are on. You may see ...\n"
            "E0000 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
            "W0000 remapper failed: INVALID_ARGUMENT: Mutation::Apply error: x\n"
            "Epoch 1/3\n"
            "UserWarning: a real warning\n")
    assert module.without_noise(text) == "Epoch 1/3\nUserWarning: a real warning\n"
