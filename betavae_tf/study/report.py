"""A study's results: UDR, `results.csv`, `summary.md`, figures and `report.html`.

`write_report(output_dir, spec)` reads every run's record, scores the
finished runs of each setting with UDR (Duan et al., 2020; Spearman and
Lasso, on their latent means of the same inputs), writes one CSV row per
run, a Markdown summary (median and range per setting, and UDR's rank
correlation with each supervised metric), the figures, and one
self-contained HTML page with all of it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import zipfile

import numpy as np

from betavae_tf.atomic import write_text
from betavae_tf.study.figures import draw_all
from betavae_tf.study.run import UDR, read_record

SCORES = (  # (record key, label), the supervised metrics first
    ("mig", "MIG"),
    ("sap", "SAP"),
    ("dci_disentanglement", "DCI disentanglement"),
    ("beta_vae_score", "β-VAE score"),
    ("factor_vae_score", "FactorVAE score"),
    ("udr_spearman", "UDR (Spearman)"),
    ("udr_lasso", "UDR (Lasso)"),
)
SUPERVISED = ("mig", "sap", "dci_disentanglement", "beta_vae_score", "factor_vae_score")
COLUMNS = (
    "name", "setting", "objective", "beta", "seed", "status", "steps", "train_seconds",
    "eval_seconds", "reconstruction", "kl", "active_units", "mig", "sap", "dci_disentanglement",
    "dci_completeness", "dci_informativeness", "beta_vae_score", "factor_vae_score",
    "udr_spearman", "udr_lasso", "error",
)


def load_records(output_dir: str, spec) -> list[dict]:
    """The records of the study's runs, in the study's order (runs without one left out)."""
    records = [read_record(os.path.join(output_dir, "runs", run.name)) for run in spec.runs()]
    return [record for record in records if record is not None]


def _udr_inputs(path: str) -> tuple | None:
    """A run's `(z_mean, kl)` for UDR, or `None` if its file is missing or damaged (that run
    then has no UDR score; the others keep theirs)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return np.asarray(arrays["z_mean"]), np.asarray(arrays["kl"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def add_udr(output_dir: str, records: list[dict]) -> None:
    """Adds `udr_spearman` and `udr_lasso` to the finished records (NaN where a
    setting has fewer than two finished seeds)."""
    from betavae_tf.metrics.udr import compute_udr

    for record in records:
        record.setdefault("udr_spearman", math.nan)
        record.setdefault("udr_lasso", math.nan)
    settings: dict[str, list] = {}
    for record in records:
        if record["status"] == "finished":
            settings.setdefault(record["setting"], []).append(record)
    for runs in settings.values():
        inputs = [(record, _udr_inputs(os.path.join(output_dir, "runs", record["name"], UDR)))
                  for record in runs]
        inputs = [(record, arrays) for record, arrays in inputs if arrays is not None]
        if len(inputs) < 2:
            continue
        group = [record for record, _ in inputs]
        representations = [z_mean for _, (z_mean, _) in inputs]
        kls = [np.maximum(kl, 0.0) for _, (_, kl) in inputs]
        for correlation in ("spearman", "lasso"):
            scores = compute_udr(representations, kls, correlation=correlation).model_scores
            for record, score in zip(group, scores):
                record[f"udr_{correlation}"] = float(score)


def rank_correlations(records: list[dict], keys=tuple(k for k, _ in SCORES)) -> np.ndarray:
    """Spearman rank correlations `(len(keys), len(keys))` between the scores over
    the finished runs (pairs where either is NaN are left out; NaN if < 3 pairs)."""
    from scipy.stats import spearmanr

    values = np.array([[float(r.get(k, math.nan)) for k in keys] for r in records
                       if r["status"] == "finished"], dtype=float).reshape(-1, len(keys))
    matrix = np.full((len(keys), len(keys)), math.nan)
    for i in range(len(keys)):
        for j in range(len(keys)):
            both = np.isfinite(values[:, i]) & np.isfinite(values[:, j])
            a, b = values[both, i], values[both, j]
            if both.sum() >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0:
                matrix[i, j] = spearmanr(a, b).statistic
    return matrix


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def write_csv(records: list[dict], path: str) -> None:
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _number(record.get(k)) for k in COLUMNS})
    write_text(path, table.getvalue())


def summary_rows(records: list[dict]) -> list[dict]:
    """Per setting: runs, and `median [min, max]` of each score and of reconstruction/KL."""
    rows, settings = [], {}
    for record in records:
        settings.setdefault(record["setting"], []).append(record)
    for setting, group in settings.items():
        finished = [r for r in group if r["status"] == "finished"]
        row = {"setting": setting, "runs": f"{len(finished)}/{len(group)}"}
        for key in ("reconstruction", "kl", *(k for k, _ in SCORES)):
            values = np.array([r.get(key, math.nan) for r in finished], dtype=float)
            values = values[np.isfinite(values)]
            row[key] = (f"{np.median(values):.3g} [{values.min():.3g}, {values.max():.3g}]"
                        if len(values) else "–")
        rows.append(row)
    return rows


def udr_rows(correlations: np.ndarray) -> list[list[str]]:
    """The header and two rows (UDR Spearman, Lasso) of UDR's correlations with each metric."""
    index = {k: i for i, (k, _) in enumerate(SCORES)}
    rows = [["", *(dict(SCORES)[k] for k in SUPERVISED)]]
    for udr in ("udr_spearman", "udr_lasso"):
        rows.append([dict(SCORES)[udr], *(_number(correlations[index[udr], index[k]]) or "–"
                                          for k in SUPERVISED)])
    return rows


def _markdown(records, spec, correlations) -> str:
    keys = ("reconstruction", "kl", *(k for k, _ in SCORES))
    labels = {"reconstruction": "reconstruction", "kl": "KL", **dict(SCORES)}
    lines = [
        "# Study summary", "",
        f"{len(spec.runs())} runs on `{spec.dataset}`, {spec.steps} steps each (batch "
        f"{spec.batch_size}), seeds {list(spec.seeds)}. Each cell is the median over the seeds "
        "[min, max]; reconstruction and KL are nats per example on held-out images.", "",
        "| setting | runs | " + " | ".join(labels[k] for k in keys) + " |",
        "| --- | --- | " + " | ".join("---" for _ in keys) + " |",
    ]
    for row in summary_rows(records):
        lines.append(f"| {row['setting']} | {row['runs']} | " + " | ".join(row[k] for k in keys) + " |")
    header, *rows = udr_rows(correlations)
    lines += ["", "## How well UDR ranks the models", "",
              "Spearman rank correlation over all finished runs between UDR (which sees no "
              "labels) and each supervised metric.", "",
              "| " + " | ".join(header) + " |", "| --- | " + " | ".join("---" for _ in SUPERVISED) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    failed = [r for r in records if r["status"] == "failed"]
    if failed:
        lines += ["", "## Failed runs", ""] + [f"- `{r['name']}`: {r['error']}" for r in failed]
    return "\n".join(lines) + "\n"


def write_report(output_dir: str, spec) -> dict:
    """Writes `results.csv`, `summary.md`, the figures and `report.html`; returns their paths."""
    records = load_records(output_dir, spec)
    add_udr(output_dir, records)
    correlations = rank_correlations(records)
    files = {"results": os.path.join(output_dir, "results.csv"),
             "summary": os.path.join(output_dir, "summary.md")}
    write_csv(records, files["results"])
    markdown = _markdown(records, spec, correlations)
    write_text(files["summary"], markdown)
    pictures = draw_all(output_dir, records, correlations, [label for _, label in SCORES],
                        spec.dataset)
    for name, path in pictures.items():
        files[f"figure: {name}"] = path
    files["report"] = os.path.join(output_dir, "report.html")
    write_text(files["report"], _html(spec, records, correlations, pictures))
    return files


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _embedded(path: str, alt: str) -> str:
    with open(path, "rb") as handle:
        data = base64.b64encode(handle.read()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
"""


def _html(spec, records: list[dict], correlations: np.ndarray, pictures: dict) -> str:
    summary = summary_rows(records)
    keys = ("reconstruction", "kl", *(k for k, _ in SCORES))
    labels = {"reconstruction": "reconstruction", "kl": "KL", **dict(SCORES)}
    summary_table = _table([[r["setting"], r["runs"], *(r[k] for k in keys)] for r in summary],
                           ["setting", "runs", *(labels[k] for k in keys)])
    columns = ("name", "status", "steps", "reconstruction", "kl", "active_units", *(k for k, _ in SCORES))
    runs_table = _table([[_number(r.get(c)) for c in columns] for r in records], list(columns))
    header, *rows = udr_rows(correlations)
    udr_table = _table(rows, header)
    failed = [r for r in records if r["status"] == "failed"]
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>betavae_tf study: {html.escape(spec.dataset)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Study on {html.escape(spec.dataset)}</h1>",
        f"<p>{len(spec.runs())} runs, {spec.steps} training steps each (batch {spec.batch_size}), "
        f"seeds {html.escape(str(list(spec.seeds)))}. Median over seeds [min, max].</p>",
        "<h2>Settings</h2>", summary_table,
        "<h2>How well UDR ranks the models</h2>",
        "<p>Spearman rank correlation over all finished runs between UDR (no labels used) and "
        "each supervised metric.</p>", udr_table,
    ]
    for name, caption in (("metrics", "Each metric per setting (one dot per seed)"),
                          ("correlations", "Rank correlation between the metrics over all runs"),
                          ("reconstruction", "Reconstruction against MIG"),
                          ("traversals", "Traversals of the model UDR ranks first (MIG without UDR)")):
        if name in pictures:
            parts += [f"<h2>{html.escape(caption)}</h2>", _embedded(pictures[name], caption)]
    parts += ["<h2>Every run</h2>", runs_table]
    if failed:
        parts += ["<h2>Failed runs</h2><ul>"] + [
            f"<li><code>{html.escape(r['name'])}</code>: {html.escape(str(r['error']))}</li>" for r in failed
        ] + ["</ul>"]
    parts += [f"<h2>Study</h2><pre>{html.escape(json.dumps(spec.to_dict(), indent=2))}</pre>",
              "</body></html>"]
    return "\n".join(parts) + "\n"
