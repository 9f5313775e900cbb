import json

import keras
import matplotlib.image
import numpy as np
import pytest

from betavae_tf import BetaVAE
from betavae_tf.datasets import SyntheticFactors
from betavae_tf.evaluation import (
    evaluate_disentanglement,
    headline_scores,
    plot_evaluation_report,
    scaled_hyper_parameters,
)
from betavae_tf.metrics import beta_vae_score, mig


def test_scaled_hyper_parameters_follow_the_defaults():
    assert scaled_hyper_parameters(mig, 1.0) == {"num_train": 10000}
    assert scaled_hyper_parameters(beta_vae_score, 0.1) == {"num_train": 1000, "num_eval": 500}
    assert scaled_hyper_parameters(beta_vae_score, 1e-6) == {"num_train": 10, "num_eval": 10}


def test_evaluate_runs_every_metric_reproducibly_and_refuses_unknown_names():
    dataset = SyntheticFactors(observation_dim=None)
    model = BetaVAE(input_dim=dataset.num_factors, encoding_dim=4, seed=0)
    first = evaluate_disentanglement(model, dataset, random_state=3, scale=0.02)
    assert set(first) == {"mig", "beta_vae_score", "factor_vae_score", "dci", "sap"}
    assert json.loads(json.dumps(first)) == first
    assert evaluate_disentanglement(model, dataset, random_state=3, scale=0.02,
                                    metric_names=["mig"])["mig"] == first["mig"]
    scores = headline_scores(first)
    assert scores["MIG"] == first["mig"]["discrete_mig"] and len(scores) == 7
    with pytest.raises(ValueError, match=r"Unknown metric\(s\) \['irs'\]"):
        evaluate_disentanglement(model, dataset, metric_names=["irs"])


def test_report_is_written_and_shows_the_scores(tmp_path):
    dataset = SyntheticFactors(observation_dim=None)
    model = BetaVAE(input_dim=dataset.num_factors, encoding_dim=3, seed=0)
    _, x = dataset.sample(64, np.random.RandomState(0))
    results = {"mig": {"discrete_mig": 0.25}, "sap": {"sap_score": 0.1}}
    figure = plot_evaluation_report(model, x, results, tmp_path / "report.png")
    image = matplotlib.image.imread(tmp_path / "report.png")
    assert image.shape[0] > 500
    bars = [patch.get_width() for patch in figure.axes[1].patches]
    assert bars == pytest.approx([0.25, 0.1])
    assert len(figure.axes[0].patches) == 3  # one KL bar per latent dimension
