"""The disentanglement models and datasets from the command line: `--objective
factor|dip1|dip2` on `--data color_dsprites|noisy_dsprites|shapes3d:FILE`."""

import json

import pytest
from test_ground_truth_datasets import SMALL_SHAPES3D, write_shapes3d

from betavae_tf import load_vae
from betavae_tf.cli import main

FAST = ["--epochs", "1", "--anneal-epochs", "0", "--batch-size", "16", "--verbose", "0",
        "--encoding-dim", "3"]


@pytest.mark.parametrize("data, objective, extra, logged", [
    ("color_dsprites", "factor", ["--discriminator-units", "16", "--discriminator-layers", "2",
                                  "--gamma", "20"], {"total_correlation", "discriminator_loss"}),
    ("noisy_dsprites", "dip1", ["--lambda-od", "5"], {"dip_off_diagonal", "dip_diagonal"}),
    ("shapes3d", "dip2", ["--model", "conv", "--lambda-d", "2"], {"dip_off_diagonal"}),
])
def test_train_a_disentanglement_model_on_ground_truth_data(tmp_path, data, objective, extra, logged):
    if data == "shapes3d":
        write_shapes3d(tmp_path / "3dshapes.h5", SMALL_SHAPES3D)
        data = f"shapes3d:{tmp_path / '3dshapes.h5'}"
    assert main(["train", "--data", data, "--n-samples", "96", "--objective", objective,
                 *FAST, *extra, "--output-dir", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "checkpoints" / "train_summary.json").read_text())
    assert logged <= set(summary["best_validation"])
    model = load_vae(tmp_path / "checkpoints" / "best_vae.h5")
    assert model.objective.name == objective and model.feature_shape[-1] in (3, 12288)
    if objective == "factor":
        assert model.objective.gamma == 20.0
    assert main(["evaluate", str(tmp_path / "checkpoints" / "best_vae.h5"), "--output-dir",
                 str(tmp_path), "--metrics", "mig", "--scale", "0.01"]) == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert 0 <= report["metrics"]["mig"]["discrete_mig"] <= 1


def test_a_flag_of_another_objective_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--objective", "beta", "--lambda-od", "5", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lambda-od do(es) not apply to --objective beta" in err
