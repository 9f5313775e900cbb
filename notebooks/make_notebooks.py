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
        "EPOCHS = 30\n"
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


def write(name, cells):
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, os.path.join(HERE, name))


if __name__ == "__main__":
    write("01_beta_vae_quickstart.ipynb", QUICKSTART)
