import json
import os
import subprocess
import sys

import numpy as np
import pytest

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
        (["train", "--data", "mnist:x"], "'mnist:x' is not a data source"),
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
