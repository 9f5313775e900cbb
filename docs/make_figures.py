"""Regenerates the figures of README.md and docs/ with the command line.

    python docs/make_figures.py            # needs MNIST: BETAVAE_DATA_DIR or Keras's download

* `vae_loss_plot.png`: the main job, `betavae-tf train` (seed 0).
* `mnist_traversals.png`, `mnist_latent_pca.png`: `betavae-tf train --data mnist
  --model conv --beta 4 --anneal-epochs 2 --epochs 5 --batch-size 128`, then
  `betavae-tf traverse --dims 10` and `betavae-tf latent-plot`.

Each command runs in a temporary folder; only the pictures are copied here.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def betavae_tf(*argv: str, cwd: str) -> None:
    print("$ betavae-tf", " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "betavae_tf", *argv], cwd=cwd, check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        betavae_tf("train", "--verbose", "2", cwd=folder)
        shutil.copy(os.path.join(folder, "vae_loss_plot.png"), os.path.join(HERE, "vae_loss_plot.png"))
    with tempfile.TemporaryDirectory() as folder:
        betavae_tf("train", "--data", "mnist", "--model", "conv", "--beta", "4", "--anneal-epochs", "2",
                   "--epochs", "5", "--batch-size", "128", "--verbose", "2", cwd=folder)
        betavae_tf("traverse", "--dims", "10", cwd=folder)
        betavae_tf("latent-plot", cwd=folder)
        shutil.copy(os.path.join(folder, "traversals.png"), os.path.join(HERE, "mnist_traversals.png"))
        shutil.copy(os.path.join(folder, "latent_pca.png"), os.path.join(HERE, "mnist_latent_pca.png"))
    print(f"Wrote the figures in {HERE}")


if __name__ == "__main__":
    main()
