import json

import matplotlib.image
import numpy as np
import pytest

from betavae_tf import BetaVAE
from betavae_tf.datasets import SyntheticFactors
from betavae_tf.evaluation import (
    evaluate_disentanglement,
    flat_scores,
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
    scores = flat_scores(first, labels=True)
    assert scores["MIG"] == first["mig"]["discrete_mig"] and len(scores) == 7
    assert flat_scores(first)["dci_completeness"] == first["dci"]["completeness"]
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


def test_metrics_logger_adds_metrics_and_kl_per_dimension_to_the_history():
    from betavae_tf import MetricsLogger

    dataset = SyntheticFactors(observation_dim=None)
    _, x = dataset.sample(128, np.random.RandomState(0))
    model = BetaVAE(input_dim=dataset.num_factors, encoding_dim=2, seed=0)
    model.compile(optimizer="adam")
    logger = MetricsLogger(x, dataset, metrics=("mig", "sap"), every_n_epochs=2, scale=0.02)
    logs = model.fit(x, epochs=4, batch_size=32, callbacks=[logger], verbose=0).history
    for key in ("mig", "sap", "kl_dim_0", "kl_dim_1"):
        assert len(logs[key]) == 4
        assert np.isnan(logs[key][0]) and np.isnan(logs[key][2])
        assert np.isfinite(logs[key][1]) and np.isfinite(logs[key][3])
    assert 0 <= logs["mig"][3] <= 1 and logs["kl_dim_0"][3] >= 0
    with pytest.raises(ValueError, match="Unknown metric"):
        MetricsLogger(x, dataset, metrics=("irs",))


def test_report_without_metrics_has_no_empty_panel_and_explains_its_colours(tmp_path):
    import matplotlib.colors
    from picture_models import X_DENSE, assert_every_text_inside, build, informative_model

    from betavae_tf.plots import plot_latent_traversals
    from betavae_tf.plots.report import UNUSED_KL_NATS

    model = build("dense", 3, latent=12)
    double = lambda a: 2 * a  # noqa: E731
    figure = plot_evaluation_report(model, X_DENSE, None, tmp_path / "report.png", postprocess=double)
    kl_axes, grid_axes = figure.axes[0], figure.axes[1]
    assert kl_axes.get_title().startswith("KL per latent dimension")
    assert not any("No ground-truth" in axes.get_title() for axes in figure.axes)
    assert len(kl_axes.patches) == 12 and grid_axes.images  # KL bars, then the traversal grid
    assert_every_text_inside(figure)
    # the traversals are those of `traverse`: same rows, columns and display options
    alone = plot_latent_traversals(model, X_DENSE, save_path=None, postprocess=double)
    assert [t.get_text() for t in grid_axes.get_yticklabels()] == [
        t.get_text() for t in alone.axes[0].get_yticklabels()]
    assert len(grid_axes.get_yticklabels()) == 10
    np.testing.assert_allclose(grid_axes.images[0].get_array(), alone.axes[0].images[0].get_array())

    # grey bars are exactly the latents with little KL, and the legend says so
    informative = informative_model()  # KL (0, 4.5, 0.5); latent means constant over x
    figure = plot_evaluation_report(informative, X_DENSE, None, save_path=None)
    bars = figure.axes[0].patches
    grey = [matplotlib.colors.to_hex(bar.get_facecolor()) == matplotlib.colors.to_hex("0.7")
            for bar in bars]
    assert grey == [True, False, False] and UNUSED_KL_NATS <= 0.5
    assert [bool(bar.get_hatch()) for bar in bars] == [False, True, True]
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend[0] == f"used (KL ≥ {UNUSED_KL_NATS} nats)"
    assert legend[1] == f"unused (KL < {UNUSED_KL_NATS} nats)"
    assert "mean constant over x" in legend[2]
