"""The command line answers at once and speaks in one line: `--help` never
imports TensorFlow, argument errors are one line, TensorFlow's start-up
chatter is hidden, and picture commands find the model `train` wrote."""

import os
import subprocess
import sys

import pytest

from betavae_tf.cli import main

ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def _run(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "betavae_tf", *argv], capture_output=True,
                          text=True, timeout=300, env=ENV, cwd=cwd)


def test_help_and_argument_errors_never_import_tensorflow():
    script = (
        "import sys\n"
        "from betavae_tf.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['evaluate', '--help'], [], "
        "['train', '--epochs', 'ten'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('LOADED', sorted(m for m in ('tensorflow', 'keras', 'matplotlib', 'sklearn') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env=ENV)
    assert "LOADED []" in result.stdout, result.stdout[-500:] + result.stderr[-2000:]


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["train", "--epochs", "ten"], "argument --epochs: 'ten' is not a valid int"),
    (["train", "--colour", "red"], "unrecognized arguments: --colour red"),
    (["traverse", "--dims", "0"], "argument --dims: 0 is out of range"),
    (["train", "--fused-adam", "maybe"], "argument --fused-adam: 'maybe' is not on or off"),
])
def test_an_argument_error_is_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("betavae-tf: error: ") and message in err, err


def test_version_and_help_describe_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("betavae-tf 0.")
    for command in ("generate", "reconstruct", "interpolate", "traverse", "latent-plot", "evaluate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "MODEL" in text and "--epochs" not in text and "--learning-rate" not in text, command


def test_a_command_shows_no_tensorflow_start_up_chatter_but_real_errors(tmp_path):
    result = _run("train", "--epochs", "1", "--verbose", "0", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    for noise in ("absl::InitializeLog", "cuInit", "cudart_stub", "oneDNN custom operations"):
        assert noise not in result.stderr, result.stderr
    failed = _run("generate", str(tmp_path / "missing.h5"), "--output-dir", str(tmp_path))
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"betavae-tf: error: No model file at {str(tmp_path / 'missing.h5')!r}; check the path."
    ]


def test_picture_commands_find_the_keras_file_train_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--epochs", "2", "--anneal-epochs", "0", "--verbose", "0",
                 "--model-format", "keras"]) == 0
    assert main(["generate", "--n", "4"]) == 0
    printed = capsys.readouterr().out
    assert "Wrote samples:" in printed and (tmp_path / "samples.png").exists()
    assert main(["traverse", "checkpoints/best_vae.keras", "--dims", "all", "--columns", "3"]) == 0
    assert main(["reconstruct", "--model-path", "checkpoints/best_vae.keras", "--n", "3"]) == 0
    (tmp_path / "checkpoints" / "best_vae.keras").unlink()
    with pytest.raises(SystemExit):
        main(["generate"])
    assert "No model file at checkpoints/best_vae.h5 or checkpoints/best_vae.keras" in capsys.readouterr().err


def test_a_run_that_ends_before_the_beta_warm_up_says_so(tmp_path, capsys):
    assert main(["train", "--epochs", "2", "--anneal-epochs", "5", "--verbose", "0",
                 "--output-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "β is still warming up when the 2 epochs end (the schedule needs 5)" in printed


def test_sweep_says_which_beta_is_training(tmp_path, capsys):
    assert main(["sweep", "--betas", "0.5", "2", "--epochs", "1", "--encoding-dim", "2",
                 "--verbose", "0", "--output-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "β = 0.5 (run 1 of 2): training 1 epochs" in printed
    assert "β = 2 (run 2 of 2)" in printed
