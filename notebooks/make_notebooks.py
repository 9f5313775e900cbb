"""Writes the notebooks in this folder from the cell sources below, and runs them.

    python notebooks/make_notebooks.py --execute         # rebuild, run, store outputs
    python notebooks/make_notebooks.py --execute 03 05   # only some (name prefixes)
    python notebooks/make_notebooks.py 03                # rebuild only: outputs stripped

The notebooks are committed WITH their outputs (pictures, tables, numbers), so
a reader sees real results without running anything. `--execute` rebuilds a
notebook from its cells, runs it in place at full settings (never the tests'
`BETAVAE_FAST=1`) with its working folder here, and writes into its first
cell how long the run took on which machine. Every file a notebook writes
goes to `notebooks/outputs/<notebook name>/`, which git ignores; it is
emptied before each run. Notebooks 02 and 05 need the MNIST IDX files:
set `BETAVAE_DATA_DIR` (otherwise 02 downloads MNIST with Keras and 05
falls back to the 8×8 digits, see `needs_mnist`).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import shutil
import sys
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from betavae_tf.tf_logging import is_noise

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUTPUTS = "outputs"  # beside the notebooks, git-ignored


def settings(name: str) -> str:
    """The first code cell of every notebook: fast mode and the output folder."""
    return (
        "import os\n\n"
        "# BETAVAE_FAST=1 (set by the test suite) shrinks every run to seconds.\n"
        "FAST = os.environ.get(\"BETAVAE_FAST\") == \"1\"\n"
        "# Every file this notebook writes goes here (git-ignored).\n"
        f"OUT = os.path.join(\"{OUTPUTS}\", \"{name}\")\n"
        "os.makedirs(OUT, exist_ok=True)"
    )


QUICKSTART = [
    new_markdown_cell(
        "# β-VAE quick start\n\n"
        "Train the dense β-VAE on scikit-learn's 8×8 digits (shipped with scikit-learn, no download), "
        "anneal β from 0 to 1, plot the losses, save the best model to `.h5`, reload it, and look at "
        "reconstructions, samples from the prior and latent traversals."
    ),
    new_code_cell(settings("01_beta_vae_quickstart")),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "import numpy as np\n\n"
        "from betavae_tf import (BetaVAE, KLAnnealing, load_vae, plot_latent_traversals,\n"
        "                        plot_reconstructions, plot_samples, plot_vae_history, train_vae)\n"
        "from betavae_tf.datasets import load_digits\n\n"
        "keras.utils.set_random_seed(0)\n"
        "x_train, x_val, scaler = load_digits(val_fraction=0.2, seed=0)  # standardised pixels\n"
        "x_train.shape, x_val.shape"
    ),
    new_markdown_cell(
        "## Train\n\n`train_vae` wires early stopping, a best-only `.h5` checkpoint and a learning-rate "
        "scheduler; `KLAnnealing` raises β from 0 to 1 over the first 10 epochs (the checkpoint and "
        "early stopping start watching once β has reached its target)."
    ),
    new_code_cell(
        "EPOCHS = 12 if FAST else 200  # early stopping (patience 10) ends it sooner\n"
        "model = BetaVAE(input_dim=64, encoding_dim=16, beta=0.0, seed=0)\n"
        "history, model = train_vae(\n"
        "    model, x_train, x_val, epochs=EPOCHS, batch_size=64, patience=10,\n"
        "    save_path=os.path.join(OUT, \"best_vae.h5\"),\n"
        "    kl_scheduler=KLAnnealing(start_beta=0.0, target_beta=1.0, n_epochs=10),\n"
        "    verbose=0,\n"
        ")\n"
        "print(f\"{len(history.history['loss'])} epochs, final beta = {model.beta}\")\n"
        "print(f\"best val_loss once beta = 1: {min(history.history['val_loss'][10:]):.2f}\")"
    ),
    new_code_cell("plot_vae_history(history, os.path.join(OUT, \"vae_loss_plot.png\"))"),
    new_markdown_cell("## Reload the best checkpoint\n\nThe reloaded model gives identical outputs."),
    new_code_cell(
        "reloaded = load_vae(os.path.join(OUT, \"best_vae.h5\"))\n"
        "same = np.array_equal(reloaded.predict(x_val, verbose=0), model.predict(x_val, verbose=0))\n"
        "assert same, \"reloaded model differs\"\n"
        "print(\"identical predictions:\", same, \"| beta:\", reloaded.beta)"
    ),
    new_markdown_cell(
        "## Reconstructions and samples from the prior\n\n"
        "The pictures undo the standardisation (`postprocess=scaler.inverse_transform`) and show "
        "the digits' 0–16 grey levels."
    ),
    new_code_cell(
        "DIGITS = dict(image_shape=(8, 8), postprocess=scaler.inverse_transform, vmin=0, vmax=16)\n"
        "plot_reconstructions(reloaded, x_val, n=12, save_path=os.path.join(OUT, \"reconstructions.png\"),\n"
        "                     **DIGITS)"
    ),
    new_code_cell(
        "plot_samples(reloaded, n=36, seed=0, save_path=os.path.join(OUT, \"samples.png\"), **DIGITS)"
    ),
    new_markdown_cell(
        "## Latent traversals\n\n"
        "Each row sets one latent dimension to the values on top, the others kept at the code of "
        "the first validation digit; rows are ordered by the dimension's KL (most informative first)."
    ),
    new_code_cell(
        "plot_latent_traversals(reloaded, x_val, n_dims=8, save_path=os.path.join(OUT, \"traversals.png\"),\n"
        "                       **DIGITS)"
    ),
]

MNIST_SWEEP = [
    new_markdown_cell(
        "# The β trade-off on MNIST\n\n"
        "Train the same convolutional β-VAE (the `mnist` preset: Bernoulli likelihood on pixels in "
        "[0, 1]) at several β, then compare reconstruction and KL per image on the test set. Larger β "
        "buys a smaller KL (a simpler, smoother code) with blurrier reconstructions.\n\n"
        "Needs MNIST: `load_mnist()` reads the IDX files from the folder in `BETAVAE_DATA_DIR`, "
        "or downloads them with Keras when it is unset."
    ),
    new_code_cell(settings("02_mnist_beta_sweep")),
    new_code_cell(
        "%matplotlib inline\n"
        "from IPython.display import Image, Markdown, display\n\n"
        "from betavae_tf import beta_sweep, build_conv_beta_vae, load_vae, plot_samples\n"
        "from betavae_tf.datasets import load_mnist\n\n"
        "(x_train, _), (x_test, _) = load_mnist()\n"
        "BETAS = [0.1, 2.0, 4.0] if FAST else [0.1, 1.0, 4.0, 16.0]\n"
        "EPOCHS = 1 if FAST else 5\n"
        "SIZE = dict(filters=(8, 16), dense_units=32, encoding_dim=8) if FAST else {}\n"
        "if FAST:\n"
        "    x_train, x_test = x_train[:1024], x_test[:256]\n"
        "x_train.shape, x_test.shape"
    ),
    new_markdown_cell(
        "Each run: the `mnist` preset (conv 32→64, dense 256, 32-d latent), Adam 1e-3, batch 128, "
        "the same seed, on all 60,000 training images; the table gives nats per image."
    ),
    new_code_cell(
        "SWEEP = os.path.join(OUT, \"mnist_sweep\")\n"
        "rows = beta_sweep(\n"
        "    lambda beta: build_conv_beta_vae(\"mnist\", beta=beta, seed=0, **SIZE),\n"
        "    BETAS, x_train, x_test, SWEEP, epochs=EPOCHS, batch_size=128,\n"
        ")\n"
        "display(Markdown(open(os.path.join(SWEEP, \"beta_sweep.md\")).read()))"
    ),
    new_code_cell("Image(os.path.join(SWEEP, \"beta_sweep.png\"))"),
    new_markdown_cell("Latent traversals of each model, most informative dimensions (by KL) first:"),
    new_code_cell("Image(os.path.join(SWEEP, \"beta_sweep_traversals.png\"))"),
    new_markdown_cell(
        "Samples from the prior of each model (the same 24 draws of z). With a small β the code "
        "does not fill the prior, so many draws decode to strokes between digits; around β = 1 "
        "most samples are digits; a large β leaves few latents in use (see the traversals) and "
        "the samples become blurry averages."
    ),
    new_code_cell(
        "for beta in BETAS:\n"
        "    run = os.path.join(SWEEP, f\"beta_{beta:g}\")\n"
        "    display(Markdown(f\"**β = {beta:g}**\"))\n"
        "    display(plot_samples(load_vae(os.path.join(run, \"best_vae.h5\")), n=24, seed=0,\n"
        "                         save_path=os.path.join(run, \"samples.png\")))"
    ),
]

DSPRITES = [
    new_markdown_cell(
        "# Disentanglement on dSprites\n\n"
        "`DSprites` renders the dSprites factor grid (shape × scale × orientation × x × y, 737,280 "
        "combinations) on demand, so no download is needed. Train a β-TCVAE (β = 6, "
        "minibatch-stratified estimator) with a spatial broadcast decoder, the network that reaches "
        "MIG ≈ 0.4 in the README's benchmark, then measure its disentanglement (MIG, SAP, DCI; "
        "disentanglement_lib's definitions), see which latent carries which factor, and look at "
        "its latent traversals."
    ),
    new_code_cell(settings("03_dsprites")),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "import numpy as np\n"
        "from IPython.display import Markdown, display\n"
        "from matplotlib.figure import Figure\n"
        "from sklearn.metrics import mutual_info_score\n\n"
        "from betavae_tf import (BetaVAE, active_units, build_mlp_encoder, build_spatial_broadcast_decoder,\n"
        "                        evaluate_disentanglement, kl_per_dimension, plot_latent_traversals,\n"
        "                        plot_reconstructions, plot_vae_history, train_vae)\n"
        "from betavae_tf.datasets import DSprites\n"
        "from betavae_tf.evaluation import flat_scores\n\n"
        "FACTORS = (\"shape\", \"scale\", \"orientation\", \"position x\", \"position y\")\n"
        "dsprites = DSprites()\n"
        "rng = np.random.RandomState(0)\n"
        "_, x_train = dsprites.sample(256 if FAST else 25_000, rng)\n"
        "factors, x_test = dsprites.sample(128 if FAST else 5_000, rng)\n"
        "x_train.shape, dsprites.factor_sizes"
    ),
    new_markdown_cell(
        "## Train\n\n"
        "The encoder is an MLP (4096 → 256 → 256 → 10-d Gaussian); the spatial broadcast decoder "
        "(Watters et al., 2019) tiles z over the 64×64 canvas with x/y coordinate channels, then "
        "two per-pixel layers of 32 units. Bernoulli likelihood, Adam 1e-3, batch 64, a fixed "
        "learning rate, no early stopping."
    ),
    new_code_cell(
        "EPOCHS = 1 if FAST else 8\n"
        "keras.utils.set_random_seed(0)\n"
        "model = BetaVAE(\n"
        "    encoder=build_mlp_encoder((64, 64, 1), 10, units=256),\n"
        "    decoder=build_spatial_broadcast_decoder((64, 64, 1), 10),\n"
        "    likelihood=\"bernoulli\", objective=\"tcvae\", beta=6.0, tcvae_estimator=\"mss\", seed=0,\n"
        ")\n"
        "history, model = train_vae(model, x_train, None, epochs=EPOCHS, batch_size=64, patience=None,\n"
        "                           lr_scheduler=None, save_path=os.path.join(OUT, \"dsprites_tcvae.keras\"),\n"
        "                           verbose=0)\n"
        "last = {key: values[-1] for key, values in history.history.items()}\n"
        "print(f\"{len(history.history['loss'])} epochs of {len(x_train):,} images: \"\n"
        "      f\"reconstruction {last['reconstruction_loss']:.1f}, KL {last['kl_loss']:.1f} nats per image\")"
    ),
    new_code_cell("plot_vae_history(history, os.path.join(OUT, \"loss.png\"))"),
    new_markdown_cell(
        "Test images and their reconstructions: position and size come back, shape and "
        "orientation hardly (the README's benchmark model, trained longer, neither encodes "
        "orientation)."
    ),
    new_code_cell("plot_reconstructions(model, x_test, n=10, save_path=os.path.join(OUT, \"reconstructions.png\"))"),
    new_markdown_cell(
        "## Disentanglement scores\n\n"
        "MIG and SAP at disentanglement_lib's default point counts, DCI at a fifth of them; "
        "MIG per factor is the gap between the two latents that know most about the factor, "
        "divided by the factor's entropy."
    ),
    new_code_cell(
        "SCALE = 0.05 if FAST else 1.0  # fraction of disentanglement_lib's point counts\n"
        "results = evaluate_disentanglement(model, dsprites, 0, (\"mig\", \"sap\"), SCALE)\n"
        "results.update(evaluate_disentanglement(model, dsprites, 0, (\"dci\",), SCALE / 5))\n"
        "kl = kl_per_dimension(model, x_test)\n"
        "scores = {**flat_scores(results, labels=True), \"KL (nats)\": kl.sum(),\n"
        "          \"active units\": active_units(model, x_test)[\"num_active_units\"]}\n"
        "per_factor = dict(zip(FACTORS, results[\"mig\"][\"mig_per_factor\"]))\n"
        "table = [\"| score | value |\", \"| --- | ---: |\"]\n"
        "table += [f\"| {name} | {value:.3f} |\" if isinstance(value, float) else f\"| {name} | {value} |\"\n"
        "          for name, value in scores.items()]\n"
        "table += [f\"| MIG of {name} | {value:.3f} |\" for name, value in per_factor.items()]\n"
        "display(Markdown(\"\\n\".join(table)))"
    ),
    new_markdown_cell(
        "## Which latent carries which factor\n\n"
        "Mutual information between each latent mean (20 bins) and each factor, divided by the "
        "factor's entropy, on the test images; latents ordered by KL (most informative first). "
        "A disentangled code has one bright cell per row and per column."
    ),
    new_code_cell(
        "z_mean = keras.ops.convert_to_numpy(model.encode(x_test)[0])\n"
        "order = np.argsort(kl)[::-1]\n"
        "bins = [np.digitize(z, np.histogram_bin_edges(z, 20)[1:-1]) for z in z_mean.T[order]]\n"
        "mi = np.array([[mutual_info_score(f, b) / mutual_info_score(f, f) for f in factors.T] for b in bins])\n\n"
        "figure = Figure(figsize=(6.5, 5), layout=\"constrained\")\n"
        "axes = figure.subplots()\n"
        "image = axes.imshow(mi, cmap=\"viridis\", vmin=0, vmax=1)\n"
        "for (row, col), value in np.ndenumerate(mi):\n"
        "    axes.text(col, row, f\"{value:.2f}\", ha=\"center\", va=\"center\", fontsize=8,\n"
        "              color=\"black\" if value > 0.5 else \"white\")\n"
        "axes.set_xticks(range(len(FACTORS)), FACTORS, rotation=30, ha=\"right\")\n"
        "axes.set_yticks(range(len(order)), [f\"z{d} (KL {kl[d]:.1f} nats)\" for d in order])\n"
        "axes.set_title(\"mutual information / factor entropy\")\n"
        "figure.colorbar(image, ax=axes)\n"
        "figure.savefig(os.path.join(OUT, \"mutual_information.png\"))\n"
        "figure"
    ),
    new_markdown_cell(
        "## Latent traversals\n\n"
        "Each row sets one latent to the values on top (the others kept at the code of the first "
        "test image), most informative latents first:"
    ),
    new_code_cell(
        "plot_latent_traversals(model, x_test, n_dims=6, save_path=os.path.join(OUT, \"traversals.png\"))"
    ),
]

FACES = [
    new_markdown_cell(
        "# Faces from an image folder\n\n"
        "`image_folder_dataset` streams a flat folder of `.jpg`/`.png` files (the CelebA "
        "`img_align_celeba/` layout) through `tf.data`: centre crop, resize to 64×64, shuffle, batch, "
        "prefetch; the folder is never loaded into memory. Point `BETAVAE_FACES_DIR` at your CelebA "
        "folder. Without one, this notebook first writes a folder of synthetic 'faces' (cartoon heads "
        "with random skin, hair, background, shape, eyes and mouth), so it runs anywhere; the stored "
        "outputs were made that way."
    ),
    new_code_cell(settings("04_faces")),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "import numpy as np\n"
        "import tensorflow as tf\n\n"
        "from betavae_tf import (build_conv_beta_vae, plot_interpolation, plot_latent_traversals,\n"
        "                        plot_reconstructions, plot_samples, plot_vae_history, train_vae)\n"
        "from betavae_tf.datasets import image_folder_dataset\n\n"
        "FACES_DIR = os.environ.get(\"BETAVAE_FACES_DIR\", \"img_align_celeba\")\n\n"
        "HAIR = np.array([[0.1, 0.07, 0.05], [0.35, 0.2, 0.1], [0.85, 0.7, 0.35], [0.6, 0.25, 0.1], [0.6, 0.6, 0.6]])\n\n"
        "def write_synthetic_faces(folder, n, size=(80, 64), seed=0):\n"
        "    \"\"\"Cartoon heads on a plain background: a stand-in for CelebA.\"\"\"\n"
        "    os.makedirs(folder, exist_ok=True)\n"
        "    rng = np.random.default_rng(seed)\n"
        "    y, x = np.mgrid[: size[0], : size[1]] / np.array(size).reshape(2, 1, 1)\n"
        "    for i in range(n):\n"
        "        skin = np.array([0.95, 0.75, 0.6]) * rng.uniform(0.45, 1.0) + rng.uniform(-0.05, 0.05, 3)\n"
        "        hair = HAIR[rng.integers(len(HAIR))] * rng.uniform(0.7, 1.1)\n"
        "        background = rng.uniform(0.2, 1.0, 3)\n"
        "        cx, width, height = 0.5 + rng.uniform(-0.06, 0.06), rng.uniform(0.25, 0.36), rng.uniform(0.3, 0.38)\n"
        "        head = ((x - cx) / width) ** 2 + ((y - 0.55) / height) ** 2 <= 1\n"
        "        hairline = 0.55 - height * rng.uniform(0.35, 0.75)\n"
        "        hair_cap = (((x - cx) / (width * 1.08)) ** 2 + ((y - 0.53) / (height * 1.08)) ** 2 <= 1) & (y < hairline)\n"
        "        eye_dx, eye_y, eye_r = width * rng.uniform(0.3, 0.45), 0.5 + rng.uniform(-0.03, 0.03), rng.uniform(0.02, 0.035)\n"
        "        eyes = (((np.abs(x - cx) - eye_dx) ** 2 + ((y - eye_y) * 0.8) ** 2) < eye_r ** 2) & head\n"
        "        smile, mouth_w = rng.uniform(-0.6, 1.5), width * rng.uniform(0.3, 0.55)\n"
        "        mouth_y = 0.7 + smile * 0.05 * (1 - ((x - cx) / mouth_w) ** 2)\n"
        "        mouth = (np.abs(y - mouth_y) < 0.012) & (np.abs(x - cx) < mouth_w) & head\n"
        "        image = np.where(head[..., None], skin, background)\n"
        "        image[hair_cap] = hair\n"
        "        image[eyes] = 0.05\n"
        "        image[mouth] = [0.55, 0.1, 0.1]\n"
        "        pixels = tf.constant((np.clip(image, 0, 1) * 255).astype(np.uint8))\n"
        "        tf.io.write_file(os.path.join(folder, f\"{i:06d}.jpg\"), tf.io.encode_jpeg(pixels, quality=95))\n\n"
        "if not os.path.isdir(FACES_DIR):\n"
        "    FACES_DIR = os.path.join(OUT, \"synthetic_faces\")\n"
        "    write_synthetic_faces(FACES_DIR, n=64 if FAST else 3000)\n"
        "train = image_folder_dataset(FACES_DIR, image_size=64, batch_size=32, seed=0,\n"
        "                             validation_fraction=0.1, split=\"train\")\n"
        "val = image_folder_dataset(FACES_DIR, image_size=64, batch_size=64, shuffle=False,\n"
        "                           validation_fraction=0.1, split=\"validation\")\n"
        "print(f\"{len(os.listdir(FACES_DIR)):,} images in {FACES_DIR}\")\n"
        "train.element_spec"
    ),
    new_markdown_cell(
        "## Train\n\n"
        "The `faces` preset (4 × Conv2D 32→256 with LeakyReLU, mirrored transposed convolutions, "
        "Bernoulli likelihood on pixels in [0, 1]) with a 32-d latent, β = 1, Adam 1e-3, batch 32, "
        "early stopping on the validation loss. BatchNorm is switched off: on a folder this small "
        "its moving statistics lag behind, and with it the validation loss rose while the "
        "training loss fell (on CelebA's 200,000 images keep the preset's `batch_norm=True`).\n\n"
        "With continuous pixel targets the Bernoulli loss cannot reach 0: its floor, the "
        "targets' own entropy, is about 6,950 nats per image on the synthetic faces."
    ),
    new_code_cell(
        "keras.utils.set_random_seed(0)\n"
        "SIZE = dict(filters=(8, 16, 16, 32), encoding_dim=16) if FAST else dict(encoding_dim=32)\n"
        "model = build_conv_beta_vae(\"faces\", beta=1.0, seed=0, batch_norm=False, **SIZE)\n"
        "history, model = train_vae(model, train, val, epochs=2 if FAST else 35,\n"
        "                           save_path=os.path.join(OUT, \"faces.keras\"), verbose=0)\n"
        "best = min(range(len(history.history[\"val_loss\"])), key=history.history[\"val_loss\"].__getitem__)\n"
        "print(f\"{len(history.history['loss'])} epochs; best validation epoch {best + 1}: reconstruction \"\n"
        "      f\"{history.history['val_reconstruction_loss'][best]:,.0f}, \"\n"
        "      f\"KL {history.history['val_kl_loss'][best]:.1f} nats per image\")\n"
        "plot_vae_history(history, os.path.join(OUT, \"loss.png\"))"
    ),
    new_code_cell(
        "x_val = np.concatenate([batch.numpy() for batch in val])\n"
        "plot_reconstructions(model, x_val, n=8, save_path=os.path.join(OUT, \"reconstructions.png\"))"
    ),
    new_code_cell(
        "plot_samples(model, n=24, seed=0, save_path=os.path.join(OUT, \"samples.png\"),\n"
        "             individual_dir=os.path.join(OUT, \"generated_images\"))"
    ),
    new_code_cell(
        "plot_interpolation(model, x_val[0], x_val[1], steps=8, save_path=os.path.join(OUT, \"interpolation.png\"))"
    ),
    new_code_cell(
        "plot_latent_traversals(model, x_val, n_dims=6, save_path=os.path.join(OUT, \"traversals.png\"))"
    ),
]

GENERATION = [
    new_markdown_cell(
        "# Generation and interpolation\n\n"
        "Train a convolutional β-VAE on MNIST (when `BETAVAE_DATA_DIR` points at the IDX files; "
        "otherwise on scikit-learn's 8×8 digits with the dense model), then sample new images from "
        "the prior, interpolate between two test images in latent space, traverse single latent "
        "dimensions (also as an animated GIF) and look at the latent space coloured by digit."
    ),
    new_code_cell(settings("05_generation_and_interpolation")),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "from IPython.display import Image\n\n"
        "from betavae_tf import (BetaVAE, build_conv_beta_vae, plot_interpolation, plot_latent_pca,\n"
        "                        plot_latent_traversals, plot_samples, train_vae)\n"
        "from betavae_tf.datasets import load_mnist\n\n"
        "keras.utils.set_random_seed(0)\n"
        "if os.environ.get(\"BETAVAE_DATA_DIR\"):\n"
        "    (x_train, _), (x_test, y_test) = load_mnist()\n"
        "    if FAST:\n"
        "        x_train, x_test, y_test = x_train[:1024], x_test[:256], y_test[:256]\n"
        "    SIZE = dict(filters=(8, 16), dense_units=32, encoding_dim=8) if FAST else dict(encoding_dim=10)\n"
        "    model = build_conv_beta_vae(\"mnist\", beta=2.0, seed=0, **SIZE)\n"
        "else:\n"
        "    from sklearn.datasets import load_digits\n"
        "    digits = load_digits()\n"
        "    x = (digits.data / 16.0).astype(\"float32\")  # pixels in [0, 1]\n"
        "    x_train, x_test, y_test = x[:1500], x[1500:], digits.target[1500:]\n"
        "    model = BetaVAE(input_dim=64, encoding_dim=8, beta=2.0, likelihood=\"bernoulli\", seed=0)\n"
        "EPOCHS = 2 if FAST else 20\n"
        "history, model = train_vae(model, x_train, x_test, epochs=EPOCHS, batch_size=128,\n"
        "                           save_path=os.path.join(OUT, \"generation.h5\"), verbose=0)\n"
        "print(f\"{len(history.history['loss'])} epochs on {len(x_train):,} images; test: \"\n"
        "      f\"BCE {history.history['val_reconstruction_loss'][-1]:.1f}, \"\n"
        "      f\"KL {history.history['val_kl_loss'][-1]:.1f} nats per image\")"
    ),
    new_code_cell(
        "plot_samples(model, n=64, seed=0, save_path=os.path.join(OUT, \"samples.png\"),\n"
        "             individual_dir=os.path.join(OUT, \"generated_images\"))"
    ),
    new_code_cell(
        "plot_interpolation(model, x_test[0], x_test[1], steps=10, save_path=os.path.join(OUT, \"interpolation.png\"))"
    ),
    new_markdown_cell(
        "Latent traversals: each row sets one latent to the values on top, the others kept at "
        "the code of the first test image, most informative latents (by KL) first."
    ),
    new_code_cell(
        "plot_latent_traversals(model, x_test, save_path=os.path.join(OUT, \"traversals.png\"),\n"
        "                       gif_path=os.path.join(OUT, \"traversals.gif\"))"
    ),
    new_markdown_cell("The same traversals as an animated GIF, one frame per column:"),
    new_code_cell("Image(os.path.join(OUT, \"traversals.gif\"))"),
    new_code_cell(
        "plot_latent_pca(model, x_test[:3000], labels=y_test[:3000], label_name=\"digit\",\n"
        "                save_path=os.path.join(OUT, \"latent_pca.png\"))"
    ),
]

NOTEBOOKS = {
    "01_beta_vae_quickstart.ipynb": QUICKSTART,
    "02_mnist_beta_sweep.ipynb": MNIST_SWEEP,
    "03_dsprites.ipynb": DSPRITES,
    "04_faces.ipynb": FACES,
    "05_generation_and_interpolation.ipynb": GENERATION,
}

NEEDS_MNIST = ("02_mnist_beta_sweep.ipynb", "05_generation_and_interpolation.ipynb")


def regenerate_command(name: str) -> str:
    return f"python notebooks/make_notebooks.py --execute {name[:2]}"


def machine() -> str:
    """E.g. "2-core AMD EPYC CPU", from /proc/cpuinfo where there is one."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    return f"{os.cpu_count()}-core {model} CPU"


def run_note(name: str, seconds: float | None) -> str:
    if seconds is None:
        return (f"*Outputs not stored: `{regenerate_command(name)}` runs this notebook and stores "
                "them.*")
    minutes, rest = divmod(round(seconds), 60)
    took = f"{minutes} min {rest} s" if minutes else f"{rest} s"
    return (f"*The outputs below are stored from a full run that took **{took}** on a "
            f"{machine()} (no GPU, {time.strftime('%Y-%m-%d')}); `{regenerate_command(name)}` "
            "rebuilds this notebook and runs it again. Files it writes go to the git-ignored "
            f"`notebooks/{OUTPUTS}/{name[:-6]}/`.*")


# TensorFlow's start-up chatter, which ipykernel captures from the kernel's stderr:
# the command line's list (betavae_tf.tf_logging.NOISE) plus two harmless lines
# that notebooks also get while running.
NOTEBOOK_NOISE = (
    "oneDNN supports DT_INT32 only on platforms with AVX-512",
    "remapper failed: INVALID_ARGUMENT: Mutation::Apply error",  # Grappler, harmless
)


def without_noise(text: str) -> str:
    """`text` less TensorFlow's start-up lines."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not (is_noise(line) or any(marker in line for marker in NOTEBOOK_NOISE)))


def drop_noise(notebook: nbformat.NotebookNode) -> None:
    """Removes the noise above from every stream output (and outputs left empty)."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "stream":
                output.text = without_noise(output.text)
        cell.outputs = [o for o in cell.outputs if o.output_type != "stream" or o.text.strip()]


def build(name: str, seconds: float | None = None) -> nbformat.NotebookNode:
    """The notebook `name` from its cells, outputs empty; the first cell gets the run note."""
    cells = copy.deepcopy(NOTEBOOKS[name])
    for index, cell in enumerate(cells):
        cell.id = f"cell-{index:02d}"  # stable ids: rebuilding changes nothing
    cells[0].source += "\n\n" + run_note(name, seconds)
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def execute(name: str) -> float:
    """Rebuilds `name`, runs it here at full settings, stores it with outputs; returns seconds."""
    from nbclient import NotebookClient

    out = os.path.join(HERE, OUTPUTS, name[:-6])
    shutil.rmtree(out, ignore_errors=True)
    notebook = build(name)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=3600, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": HERE}}).execute()
    seconds = time.perf_counter() - start
    drop_noise(notebook)
    notebook.cells[0].source = build(name, seconds).cells[0].source
    nbformat.validate(notebook)
    nbformat.write(notebook, os.path.join(HERE, name))
    return seconds


def chosen(prefixes: list[str]) -> list[str]:
    names = [name for name in NOTEBOOKS if not prefixes or any(name.startswith(p) for p in prefixes)]
    unknown = [p for p in prefixes if not any(name.startswith(p) for name in NOTEBOOKS)]
    if unknown:
        sys.exit(f"no notebook starts with {unknown}; choose from {sorted(NOTEBOOKS)}")
    return names


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes, e.g. 03 (default: all)")
    parser.add_argument("--execute", action="store_true",
                        help="run each notebook at full settings and store its outputs")
    args = parser.parse_args(argv)
    names = chosen(args.names)
    if not args.execute:
        for name in names:
            nbformat.write(build(name), os.path.join(HERE, name))
            print(f"wrote {name} without outputs; commit it only after --execute")
        return
    # The kernel inherits this environment: full settings, this checkout's library.
    os.environ.pop("BETAVAE_FAST", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    missing = [name for name in names if name in NEEDS_MNIST and not os.environ.get("BETAVAE_DATA_DIR")]
    if missing:
        sys.exit(f"{missing} need the MNIST IDX files: set BETAVAE_DATA_DIR to their folder")
    for name in names:
        print(f"running {name} ...", flush=True)
        print(f"{name}: {execute(name):.0f} s", flush=True)


if __name__ == "__main__":
    main()
