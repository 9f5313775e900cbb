import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import real_mnist_dir

from betavae_tf import load_vae
from betavae_tf.cli import main

FAST = ["--epochs", "3", "--anneal-epochs", "1", "--verbose", "0"]


def test_train_on_the_embedded_digits_writes_model_plot_and_summary(tmp_path, capsys):
    assert main(["train", *FAST, "--output-dir", str(tmp_path), "--beta", "2"]) == 0
    printed = capsys.readouterr().out
    model_path = tmp_path / "checkpoints" / "best_vae.h5"
    for path in (model_path, tmp_path / "vae_loss_plot.png", tmp_path / "checkpoints" / "train_summary.json"):
        assert path.stat().st_size > 0
        assert str(path) in printed
    summary = json.loads((tmp_path / "checkpoints" / "train_summary.json").read_text())
    assert summary["config"]["beta"] == 2.0 and summary["epochs_run"] == 3
    assert summary["best_epoch"] >= 2  # epoch 1 is the beta warm-up
    assert summary["best_validation"]["beta"] == 2.0
    assert load_vae(model_path).beta == 2.0


def test_train_on_a_users_csv_in_keras_format(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "mine.csv"
    rows = ["f1,f2,f3,f4,f5"] + [",".join(f"{v:.4f}" for v in rng.normal(size=5)) for _ in range(40)]
    data.write_text("\n".join(rows))
    code = main(["train", *FAST, "--data", f"csv:{data}", "--batch-size", "8",
                 "--encoding-dim", "2", "--model-format", "keras", "--output-dir", str(tmp_path)])
    assert code == 0
    assert load_vae(tmp_path / "checkpoints" / "best_vae.keras").input_dim == 5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--colour", "red"], "unrecognized arguments: --colour red"),
        (["train", "--beta", "-1"], "argument --beta: -1 is out of range; it must be >= 0.0"),
        (["train", "--epochs", "ten"], "argument --epochs: 'ten' is not a valid int"),
        (["train", "--data", "cifar"], "'cifar' is not a data source"),
        (["train", "--data", "csv"], "'csv' needs a path"),
        (["train", "--val-fraction", "0"], "argument --val-fraction: 0 is out of range"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b\n1,2\n3,x\n" * 1, "line 3, column 2: 'x' is not a number"),
        ("1,2\n" * 20, "--batch-size 64 is larger than the 16 training examples"),
    ],
)
def test_bad_data_is_one_error_line_before_training(tmp_path, capsys, content, message):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", f"csv:{data}", "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("betavae-tf: error: ")
    assert not (tmp_path / "checkpoints" / "best_vae.h5").exists()


def test_python_dash_m_runs_the_same_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "betavae_tf", "train", *FAST, "--output-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote model:" in result.stdout


def run_ok(argv):
    assert main(argv) == 0


def test_conv_model_on_generated_dsprites_then_every_picture_command(tmp_path, capsys):
    out = str(tmp_path)
    run_ok(["train", "--data", "dsprites", "--n-samples", "96", "--model", "conv", "--encoding-dim", "4",
            "--epochs", "2", "--anneal-epochs", "1", "--batch-size", "16", "--verbose", "0",
            "--output-dir", out, "--model-format", "keras"])
    model_path = str(tmp_path / "checkpoints" / "best_vae.keras")
    model = load_vae(model_path)
    assert model.feature_shape == (64, 64, 1) and model.likelihood.name == "bernoulli"
    capsys.readouterr()
    common = ["--model-path", model_path, "--output-dir", out]
    run_ok(["generate", *common, "--n", "6"])
    run_ok(["reconstruct", *common, "--n", "4"])
    run_ok(["interpolate", *common, "--start", "2", "--end", "5", "--steps", "4"])
    run_ok(["traverse", *common, "--dims", "2", "--columns", "3", "--gif"])
    run_ok(["latent-plot", *common])
    printed = capsys.readouterr().out
    for name in ("samples.png", "reconstructions.png", "interpolation.png", "traversals.png",
                 "traversals.gif", "latent_pca.png"):
        assert (tmp_path / name).stat().st_size > 0 and str(tmp_path / name) in printed
    assert sorted(os.listdir(tmp_path / "generated_images")) == [f"sample_{i:04d}.png" for i in range(6)]
    with pytest.raises(SystemExit):
        main(["interpolate", *common, "--start", "5000"])
    assert "--start 5000 is out of range" in capsys.readouterr().err


def test_conv_on_an_image_folder_and_conv_on_vectors_refused(tmp_path, capsys):
    import tensorflow as tf

    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)))
    run_ok(["train", "--data", f"images:{folder}", "--image-size", "16", "--model", "conv",
            "--encoding-dim", "3", "--epochs", "1", "--anneal-epochs", "0", "--batch-size", "4",
            "--verbose", "0", "--output-dir", str(tmp_path)])
    assert load_vae(tmp_path / "checkpoints" / "best_vae.h5").feature_shape == (16, 16, 3)
    with pytest.raises(SystemExit):
        main(["train", "--model", "conv", "--output-dir", str(tmp_path)])
    assert "--model conv needs image data" in capsys.readouterr().err


def test_sweep_command_writes_the_table(tmp_path, capsys):
    run_ok(["sweep", "--betas", "0.5", "4", "--epochs", "2", "--encoding-dim", "3", "--verbose", "0",
            "--output-dir", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "| β |" in printed and "| 0.5 |" in printed and "| 4 |" in printed
    assert (tmp_path / "beta_sweep.csv").exists() and (tmp_path / "beta_sweep_traversals.png").exists()


def test_dense_model_on_real_mnist_shows_pictures_as_28x28(tmp_path, monkeypatch):
    folder = real_mnist_dir()
    if folder is None:
        pytest.skip("real MNIST not available (set BETAVAE_DATA_DIR)")
    monkeypatch.setenv("BETAVAE_DATA_DIR", str(folder))
    run_ok(["train", "--data", "mnist", "--val-fraction", "0.05", "--epochs", "1", "--anneal-epochs", "0",
            "--batch-size", "256", "--verbose", "0", "--output-dir", str(tmp_path)])
    summary = json.loads((tmp_path / "checkpoints" / "train_summary.json").read_text())
    assert summary["image_shape"] == [28, 28, 1] and summary["config"]["likelihood"] is None
    model = load_vae(tmp_path / "checkpoints" / "best_vae.h5")
    assert model.feature_shape == (784,) and model.likelihood.name == "bernoulli"
    assert summary["best_validation"]["reconstruction_loss"] < 250  # BCE per image after one epoch
    run_ok(["reconstruct", "--model-path", str(tmp_path / "checkpoints" / "best_vae.h5"),
            "--output-dir", str(tmp_path)])
    assert (tmp_path / "reconstructions.png").stat().st_size > 0


def test_evaluate_prints_metrics_as_json_and_writes_the_report(tmp_path, capsys):
    out = str(tmp_path)
    run_ok(["train", "--data", "dsprites", "--n-samples", "64", "--model", "conv", "--encoding-dim", "3",
            "--epochs", "1", "--anneal-epochs", "0", "--batch-size", "16", "--verbose", "0", "--output-dir", out])
    capsys.readouterr()
    run_ok(["evaluate", str(tmp_path / "checkpoints" / "best_vae.h5"), "--output-dir", out,
            "--metrics", "mig", "sap", "--scale", "0.01"])
    printed = capsys.readouterr().out  # readable (indented) JSON, then the files written
    report = json.loads(printed[:printed.index("\nWrote ")])
    assert set(report["metrics"]) == {"mig", "sap"}
    assert 0 <= report["metrics"]["mig"]["discrete_mig"] <= 1
    assert len(report["diagnostics"]["kl_per_dimension"]) == 3
    assert json.loads((tmp_path / "evaluation.json").read_text()) == report
    assert (tmp_path / "evaluation_report.png").stat().st_size > 0


@pytest.mark.parametrize(
    "flags, keys",
    [
        (["--objective", "tcvae", "--beta", "6", "--anneal", "cyclical", "--cycles", "2"],
         {"mutual_information", "total_correlation", "dimension_wise_kl"}),
        (["--objective", "capacity", "--capacity-max", "5", "--capacity-steps", "20", "--gamma", "10",
          "--anneal-epochs", "0"], {"capacity"}),
        (["--free-bits", "0.5", "--anneal", "sigmoid", "--clipnorm", "1.0"], set()),
    ],
)
def test_objectives_schedules_and_clipping_from_the_command_line(tmp_path, flags, keys):
    run_ok(["train", "--epochs", "3", "--anneal-epochs", "2", "--verbose", "0", "--output-dir", str(tmp_path), *flags])
    summary = json.loads((tmp_path / "checkpoints" / "train_summary.json").read_text())
    assert keys <= set(summary["best_validation"])
    model = load_vae(tmp_path / "checkpoints" / "best_vae.h5")
    assert model.objective.name == (summary["config"]["objective"] or "beta")
