"""Writes the notebooks in this folder from the cell sources below.

Run `python notebooks/make_notebooks.py` after editing; outputs stay stripped.
"""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

QUICKSTART = [
    new_markdown_cell(
        "# β-VAE quick start\n\n"
        "Train the dense β-VAE on scikit-learn's 8×8 digits (shipped with scikit-learn, no download), "
        "anneal β from 0 to 1, plot the losses, save the best model to `.h5`, reload it and compare "
        "reconstructions."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import os\n\n"
        "import keras\n"
        "import numpy as np\n"
        "from matplotlib.figure import Figure\n\n"
        "from betavae_tf import BetaVAE, KLAnnealing, load_vae, plot_vae_history, train_vae\n"
        "from betavae_tf.datasets import load_digits\n\n"
        "keras.utils.set_random_seed(0)\n"
        "x_train, x_val, scaler = load_digits(val_fraction=0.2, seed=0)\n"
        "x_train.shape, x_val.shape"
    ),
    new_markdown_cell(
        "## Train\n\n`train_vae` wires early stopping, a best-only `.h5` checkpoint and a learning-rate "
        "scheduler; `KLAnnealing` raises β over the first epochs (the checkpoint and early stopping "
        "start watching once β has reached its target)."
    ),
    new_code_cell(
        "EPOCHS = 12 if os.environ.get(\"BETAVAE_FAST\") == \"1\" else 30  # the tests run it short\n"
        "model = BetaVAE(input_dim=64, encoding_dim=16, beta=0.0, seed=0)\n"
        "history, model = train_vae(\n"
        "    model, x_train, x_val, epochs=EPOCHS, batch_size=64,\n"
        "    save_path=\"checkpoints/best_vae.h5\",\n"
        "    kl_scheduler=KLAnnealing(start_beta=0.0, target_beta=1.0, n_epochs=10),\n"
        "    verbose=0,\n"
        ")\n"
        "print(f\"{len(history.history['loss'])} epochs, final beta = {model.beta}\")\n"
        "print(f\"last val_loss = {history.history['val_loss'][-1]:.2f}\")"
    ),
    new_code_cell("plot_vae_history(history, \"vae_loss_plot.png\")"),
    new_markdown_cell("## Reload the best checkpoint\n\nThe reloaded model gives identical outputs."),
    new_code_cell(
        "reloaded = load_vae(\"checkpoints/best_vae.h5\")\n"
        "same = np.array_equal(reloaded.predict(x_val, verbose=0), model.predict(x_val, verbose=0))\n"
        "assert same, \"reloaded model differs\"\n"
        "print(\"identical predictions:\", same, \"| beta:\", reloaded.beta)"
    ),
    new_markdown_cell("## Reconstructions (top: originals, bottom: reconstructions) and samples from the prior"),
    new_code_cell(
        "def show_rows(rows, titles):\n"
        "    figure = Figure(figsize=(10, 1.3 * len(rows)), layout=\"constrained\")\n"
        "    axes = figure.subplots(len(rows), rows[0].shape[0], squeeze=False)\n"
        "    for r, (images, title) in enumerate(zip(rows, titles)):\n"
        "        for c, image in enumerate(images):\n"
        "            axes[r, c].imshow(image.reshape(8, 8), cmap=\"gray_r\", vmin=0, vmax=16)\n"
        "            axes[r, c].axis(\"off\")\n"
        "        axes[r, 0].set_title(title, loc=\"left\", fontsize=9)\n"
        "    return figure\n\n"
        "originals = x_val[:10]\n"
        "reconstructions = reloaded.predict(originals, verbose=0)\n"
        "samples = keras.ops.convert_to_numpy(reloaded.sample(10, seed=0))\n"
        "show_rows([scaler.inverse_transform(a) for a in (originals, reconstructions, samples)],\n"
        "          [\"original\", \"reconstruction\", \"sampled from the prior\"])"
    ),
]


SETTINGS = (
    "import os\n\n"
    "# BETAVAE_FAST=1 (set by the test suite) shrinks every run to seconds.\n"
    "FAST = os.environ.get(\"BETAVAE_FAST\") == \"1\"\n"
    "DATA_DIR = os.environ.get(\"BETAVAE_DATA_DIR\")  # folder with the MNIST IDX files, if you have them"
)

MNIST_SWEEP = [
    new_markdown_cell(
        "# The β trade-off on MNIST\n\n"
        "Train the same convolutional β-VAE (the `mnist` preset: Bernoulli likelihood on pixels in "
        "[0, 1]) at several β, then compare reconstruction and KL per image on the test set. Larger β "
        "buys a smaller KL (a simpler, smoother code) with blurrier reconstructions.\n\n"
        "Needs the MNIST IDX files: set `BETAVAE_DATA_DIR` (or pass `data_dir=` to `load_mnist`)."
    ),
    new_code_cell(SETTINGS),
    new_code_cell(
        "%matplotlib inline\n"
        "from IPython.display import Image, Markdown, display\n\n"
        "from betavae_tf.datasets import load_mnist\n"
        "from betavae_tf.presets import build_conv_beta_vae\n"
        "from betavae_tf.sweep import beta_sweep\n\n"
        "(x_train, y_train), (x_test, y_test) = load_mnist(DATA_DIR)\n"
        "BETAS = [0.1, 2.0, 4.0] if FAST else [0.1, 1.0, 2.0, 4.0, 10.0]\n"
        "EPOCHS = 1 if FAST else 30\n"
        "SIZE = dict(filters=(8, 16), dense_units=32, encoding_dim=8) if FAST else {}\n"
        "if FAST:\n"
        "    x_train, x_test = x_train[:1024], x_test[:256]\n"
        "x_train.shape, x_test.shape"
    ),
    new_code_cell(
        "rows = beta_sweep(\n"
        "    lambda beta: build_conv_beta_vae(\"mnist\", beta=beta, seed=0, **SIZE),\n"
        "    BETAS, x_train, x_test, \"mnist_sweep\", epochs=EPOCHS, batch_size=128,\n"
        ")\n"
        "display(Markdown(open(\"mnist_sweep/beta_sweep.md\").read()))"
    ),
    new_code_cell("Image(\"mnist_sweep/beta_sweep.png\")"),
    new_markdown_cell("Latent traversals of each model, most informative dimensions (by KL) first:"),
    new_code_cell("Image(\"mnist_sweep/beta_sweep_traversals.png\")"),
]

DSPRITES = [
    new_markdown_cell(
        "# Disentanglement on dSprites\n\n"
        "`DSprites` renders the dSprites factor grid (shape × scale × orientation × x × y, 737,280 "
        "combinations) on demand, so no download is needed. Train the same convolutional network "
        "at β = 1, 4 and 10 and as a β-TCVAE, then compare them with the disentanglement metrics "
        "(MIG, β-VAE score, FactorVAE score, DCI, SAP; disentanglement_lib's definitions), look at "
        "their latent traversals and at the latent space coloured by a ground-truth factor."
    ),
    new_code_cell(SETTINGS),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "import numpy as np\n"
        "from IPython.display import Markdown, display\n\n"
        "from betavae_tf import active_units, kl_per_dimension, train_vae\n"
        "from betavae_tf.datasets import DSprites\n"
        "from betavae_tf.evaluation import evaluate_disentanglement, flat_scores\n"
        "from betavae_tf.pictures import plot_latent_pca, plot_latent_traversals\n"
        "from betavae_tf.presets import build_conv_beta_vae\n\n"
        "dsprites = DSprites()\n"
        "rng = np.random.RandomState(0)\n"
        "N = 256 if FAST else 30000\n"
        "_, x_train = dsprites.sample(N, rng)\n"
        "factors, x_test = dsprites.sample(128 if FAST else 2000, rng)\n"
        "x_train.shape, dsprites.factor_sizes"
    ),
    new_markdown_cell(
        "Each run: the `dsprites` preset with a 10-d latent (smaller filters in the fast test "
        "setting), Bernoulli likelihood, Adam 1e-3, batch 64, same seed."
    ),
    new_code_cell(
        "NETWORK = dict(filters=(8, 16, 16), encoding_dim=6) if FAST else dict(filters=(32, 32, 64), encoding_dim=10)\n"
        "EPOCHS = 1 if FAST else 10\n\n"
        "def train(name, beta, **options):\n"
        "    keras.utils.set_random_seed(0)\n"
        "    model = build_conv_beta_vae(\"dsprites\", beta=beta, seed=0, dropout_rate=0.0, **NETWORK, **options)\n"
        "    train_vae(model, x_train, None, epochs=EPOCHS, batch_size=64, patience=None, lr_scheduler=None,\n"
        "              save_path=f\"checkpoints/dsprites_{name}.keras\", verbose=0)\n"
        "    return model\n\n"
        "RUNS = {\n"
        "    \"beta1\": dict(beta=1.0),\n"
        "    \"beta4\": dict(beta=4.0),\n"
        "    \"beta10\": dict(beta=10.0),\n"
        "    \"tcvae_beta6\": dict(beta=6.0, objective=\"tcvae\"),\n"
        "}\n"
        "models = {name: train(name, **options) for name, options in RUNS.items()}"
    ),
    new_code_cell(
        "METRICS = (\"mig\", \"sap\") if FAST else (\"mig\", \"beta_vae_score\", \"factor_vae_score\", \"dci\", \"sap\")\n"
        "SCALE = 0.01 if FAST else 0.2  # fraction of disentanglement_lib's point counts\n"
        "rows = []\n"
        "for name, model in models.items():\n"
        "    scores = flat_scores(evaluate_disentanglement(model, dsprites, 0, METRICS, SCALE), labels=True)\n"
        "    kl = kl_per_dimension(model, x_test)\n"
        "    rows.append({\"run\": name, **scores, \"KL (nats)\": kl.sum(),\n"
        "                 \"active units\": active_units(model, x_test)[\"num_active_units\"]})\n"
        "header = list(rows[0])\n"
        "lines = [\"| \" + \" | \".join(header) + \" |\", \"|\" + \" --- |\" * len(header)]\n"
        "lines += [\"| \" + \" | \".join(f\"{v:.3f}\" if isinstance(v, float) else str(v) for v in row.values()) + \" |\"\n"
        "          for row in rows]\n"
        "display(Markdown(\"\\n\".join(lines)))"
    ),
    new_markdown_cell("Latent traversals, most informative dimensions (by KL) first:"),
    new_code_cell(
        "for name, model in models.items():\n"
        "    figure = plot_latent_traversals(model, x_test, n_dims=6, save_path=f\"traversals_{name}.png\")\n"
        "    figure.suptitle(name)\n"
        "    display(figure)"
    ),
    new_code_cell(
        "FACTOR = 3  # position x (0 shape, 1 scale, 2 orientation, 3 position x, 4 position y)\n"
        "plot_latent_pca(models[\"beta4\"], x_test, labels=factors[:, FACTOR], label_name=\"position x\",\n"
        "                save_path=\"dsprites_latent_pca.png\")"
    ),
]

FACES = [
    new_markdown_cell(
        "# Faces from an image folder\n\n"
        "`image_folder_dataset` streams a flat folder of `.jpg`/`.png` files (the CelebA "
        "`img_align_celeba/` layout) through `tf.data`: centre crop, resize to 64×64, shuffle, batch, "
        "prefetch; the folder is never loaded into memory. Point `FACES_DIR` at your CelebA folder. "
        "Without one, this notebook writes a small folder of synthetic 'faces' so it runs anywhere."
    ),
    new_code_cell(SETTINGS),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "import numpy as np\n"
        "import tensorflow as tf\n\n"
        "from betavae_tf import plot_vae_history, train_vae\n"
        "from betavae_tf.datasets import image_folder_dataset\n"
        "from betavae_tf.pictures import plot_interpolation, plot_reconstructions, plot_samples\n"
        "from betavae_tf.presets import build_conv_beta_vae\n\n"
        "FACES_DIR = os.environ.get(\"BETAVAE_FACES_DIR\", \"img_align_celeba\")\n\n"
        "def write_synthetic_faces(folder, n=64, size=(78, 64), seed=0):\n"
        "    \"\"\"Coloured ellipses with two eyes: a stand-in for CelebA.\"\"\"\n"
        "    os.makedirs(folder, exist_ok=True)\n"
        "    rng = np.random.default_rng(seed)\n"
        "    rows, cols = np.mgrid[: size[0], : size[1]] / np.array(size).reshape(2, 1, 1)\n"
        "    for i in range(n):\n"
        "        skin, background = rng.uniform(0.3, 1.0, 3), rng.uniform(0.0, 0.6, 3)\n"
        "        width = rng.uniform(0.25, 0.4)\n"
        "        face = ((cols - 0.5) / width) ** 2 + ((rows - 0.5) / 0.4) ** 2 <= 1\n"
        "        eyes = (((cols - 0.5) % 0.3 - 0.15) ** 2 + (rows - 0.42) ** 2 < 0.003) & face\n"
        "        image = np.where(face[..., None], skin, background)\n"
        "        image[eyes] = 0.05\n"
        "        pixels = tf.constant((image * 255).astype(np.uint8))\n"
        "        tf.io.write_file(os.path.join(folder, f\"{i:06d}.jpg\"), tf.io.encode_jpeg(pixels))\n\n"
        "if not os.path.isdir(FACES_DIR):\n"
        "    FACES_DIR = \"synthetic_faces\"\n"
        "    write_synthetic_faces(FACES_DIR)\n"
        "train = image_folder_dataset(FACES_DIR, image_size=64, batch_size=16, seed=0,\n"
        "                             validation_fraction=0.1, split=\"train\")\n"
        "val = image_folder_dataset(FACES_DIR, image_size=64, batch_size=16, shuffle=False,\n"
        "                           validation_fraction=0.1, split=\"validation\")\n"
        "train.element_spec"
    ),
    new_code_cell(
        "keras.utils.set_random_seed(0)\n"
        "SIZE = dict(filters=(8, 16, 16, 32), encoding_dim=16) if FAST else {}\n"
        "model = build_conv_beta_vae(\"faces\", beta=1.0, seed=0, **SIZE)\n"
        "history, model = train_vae(model, train, val, epochs=2 if FAST else 10,\n"
        "                           save_path=\"checkpoints/faces.keras\", verbose=0)\n"
        "plot_vae_history(history, \"faces_loss.png\")"
    ),
    new_code_cell(
        "x_val = np.concatenate([batch.numpy() for batch in val])\n"
        "plot_reconstructions(model, x_val, n=6, save_path=\"faces_reconstructions.png\")"
    ),
    new_code_cell("plot_samples(model, n=16, seed=0, save_path=\"faces_samples.png\", individual_dir=\"generated_images\")"),
    new_code_cell("plot_interpolation(model, x_val[0], x_val[1], steps=8, save_path=\"faces_interpolation.png\")"),
]

GENERATION = [
    new_markdown_cell(
        "# Generation and interpolation\n\n"
        "Train a convolutional β-VAE on MNIST (when `BETAVAE_DATA_DIR` points at the IDX files; "
        "otherwise on the embedded 8×8 digits with the dense model), then sample new images from the "
        "prior, interpolate between two test images in latent space and traverse single latent "
        "dimensions (also as an animated GIF)."
    ),
    new_code_cell(SETTINGS),
    new_code_cell(
        "%matplotlib inline\n"
        "import keras\n"
        "from IPython.display import Image\n\n"
        "from betavae_tf import BetaVAE, train_vae\n"
        "from betavae_tf.datasets import load_mnist\n"
        "from betavae_tf.pictures import plot_interpolation, plot_latent_traversals, plot_samples\n"
        "from betavae_tf.presets import build_conv_beta_vae\n\n"
        "keras.utils.set_random_seed(0)\n"
        "if DATA_DIR:\n"
        "    (x_train, _), (x_test, _) = load_mnist(DATA_DIR)\n"
        "    if FAST:\n"
        "        x_train, x_test = x_train[:1024], x_test[:256]\n"
        "    SIZE = dict(filters=(8, 16), dense_units=32, encoding_dim=8) if FAST else dict(encoding_dim=10)\n"
        "    model = build_conv_beta_vae(\"mnist\", beta=2.0, seed=0, **SIZE)\n"
        "else:\n"
        "    from sklearn.datasets import load_digits\n"
        "    x = (load_digits().data / 16.0).astype(\"float32\")  # pixels in [0, 1]\n"
        "    x_train, x_test = x[:1500], x[1500:]\n"
        "    model = BetaVAE(input_dim=64, encoding_dim=8, beta=2.0, likelihood=\"bernoulli\", seed=0)\n"
        "history, model = train_vae(model, x_train, x_test, epochs=2 if FAST else 20, batch_size=128,\n"
        "                           save_path=\"checkpoints/generation.h5\", verbose=0)\n"
        "print(f\"test: BCE {history.history['val_reconstruction_loss'][-1]:.1f}, \"\n"
        "      f\"KL {history.history['val_kl_loss'][-1]:.1f} per image\")"
    ),
    new_code_cell("plot_samples(model, n=32, seed=0, save_path=\"samples.png\", individual_dir=\"generated_images\")"),
    new_code_cell("plot_interpolation(model, x_test[0], x_test[1], steps=10, save_path=\"interpolation.png\")"),
    new_code_cell(
        "plot_latent_traversals(model, x_test, save_path=\"traversals.png\", gif_path=\"traversals.gif\")\n"
        "Image(\"traversals.gif\")"
    ),
]

def write(name, cells):
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, os.path.join(HERE, name))


if __name__ == "__main__":
    write("01_beta_vae_quickstart.ipynb", QUICKSTART)
    write("02_mnist_beta_sweep.ipynb", MNIST_SWEEP)
    write("03_dsprites.ipynb", DSPRITES)
    write("04_faces.ipynb", FACES)
    write("05_generation_and_interpolation.ipynb", GENERATION)
