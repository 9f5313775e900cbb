"""One number per disentanglement score, from the metrics' result dicts."""

from __future__ import annotations

# (metric, key in its dict, log name, label) of the one number per score.
SCORES = (
    ("mig", "discrete_mig", "mig", "MIG"),
    ("beta_vae_score", "eval_accuracy", "beta_vae_score", "β-VAE score"),
    ("factor_vae_score", "eval_accuracy", "factor_vae_score", "FactorVAE score"),
    ("dci", "disentanglement", "dci_disentanglement", "DCI disentanglement"),
    ("dci", "completeness", "dci_completeness", "DCI completeness"),
    ("dci", "informativeness_test", "dci_informativeness", "DCI informativeness"),
    ("sap", "sap_score", "sap", "SAP"),
)


def flat_scores(results: dict, labels: bool = False) -> dict:
    """One number per score (MIG, eval accuracies, D/C/I, SAP) from
    `evaluate_disentanglement`'s output, keyed by log name (`"mig"`,
    `"dci_disentanglement"`, ...) or, with `labels=True`, by a display label."""
    return {
        (label if labels else log_name): float(results[metric][key])
        for metric, key, log_name, label in SCORES
        if metric in results
    }
