"""The mini disentanglement study: runs (or resumes) benchmarks/mini_study.toml and
appends one JSON line per run, plus one for UDR's correlations, to
benchmarks/results/mini_study_cpu2.jsonl.

    python benchmarks/mini_study.py [--steps N] [--jobs 2] [--threads-per-job 1] [--output-dir DIR]
"""

import argparse
import json
import os
import platform
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(HERE, "mini_study.toml"))
    parser.add_argument("--steps", type=int, default=None, help="override the file's steps")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads-per-job", type=int, default=1)
    parser.add_argument("--output-dir", default="mini_study")
    parser.add_argument("--results", default=os.path.join(HERE, "results", "mini_study_cpu2.jsonl"))
    parser.add_argument("--table", action="store_true",
                        help="only print the Markdown tables of the last study in --results")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_tables(args.results))
        return

    from betavae_tf.study import check_spec, load_spec, run_study
    from betavae_tf.study.report import SCORES, SUPERVISED, load_records, rank_correlations

    spec = load_spec(args.config)
    if args.steps is not None:
        spec = check_spec({**spec.to_dict(), "steps": args.steps})
    start = time.time()
    load_before = os.getloadavg()[0]
    run_study(spec, args.output_dir, jobs=args.jobs, threads_per_job=args.threads_per_job)
    records = load_records(os.path.abspath(args.output_dir), spec)
    from betavae_tf.study.report import add_udr

    add_udr(os.path.abspath(args.output_dir), records)
    machine = {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
               "python": platform.python_version()}
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "a", encoding="utf-8") as handle:
        for record in records:
            row = {k: record.get(k) for k in (
                "name", "setting", "seed", "status", "steps", "train_seconds", "eval_seconds",
                "reconstruction", "kl", "active_units", "mig", "sap", "dci_disentanglement",
                "dci_completeness", "dci_informativeness", "beta_vae_score", "factor_vae_score",
                "udr_spearman", "udr_lasso", "error")}
            handle.write(json.dumps({"benchmark": "mini_study", **row, "jobs": args.jobs,
                                     "threads_per_job": args.threads_per_job, "machine": machine}) + "\n")
        matrix = rank_correlations(records)
        keys = [k for k, _ in SCORES]
        correlations = {udr: {k: float(matrix[keys.index(udr), keys.index(k)]) for k in SUPERVISED}
                        for udr in ("udr_spearman", "udr_lasso")}
        handle.write(json.dumps({"benchmark": "mini_study", "udr_rank_correlations": correlations,
                                 "wall_seconds": round(time.time() - start), "load_average_before": load_before,
                                 "load_average_after": os.getloadavg()[0], "steps": spec.steps,
                                 "machine": machine}) + "\n")
    print(f"Appended to {args.results}")


COLUMNS = [("setting", "setting"), ("seed", "seed"), ("train_seconds", "train s"),
           ("eval_seconds", "eval s"), ("reconstruction", "recon."), ("kl", "KL"),
           ("active_units", "active"), ("mig", "MIG"), ("sap", "SAP"),
           ("dci_disentanglement", "DCI D"), ("dci_completeness", "DCI C"),
           ("dci_informativeness", "DCI I"), ("beta_vae_score", "β-VAE sc."),
           ("factor_vae_score", "FactorVAE sc."), ("udr_spearman", "UDR (S)"),
           ("udr_lasso", "UDR (L)")]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return "" if value is None else str(value)


def markdown_tables(results: str) -> str:
    """The last study in `results` (its run lines and the closing correlations
    line) as Markdown: every run, the medians against β-VAE β=1, UDR's rank
    correlations."""
    import statistics

    with open(results, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    end = max(i for i, line in enumerate(lines) if "udr_rank_correlations" in line)
    start = max([i + 1 for i, line in enumerate(lines[:end]) if "udr_rank_correlations" in line] or [0])
    runs, closing = lines[start:end], lines[end]
    out = [f"{len(runs)} runs, {closing['steps']} steps asked (each run: "
           f"{runs[0]['steps']} steps, whole passes), {closing['wall_seconds'] / 60:.0f} min wall, "
           f"{runs[0]['jobs']} jobs × {runs[0]['threads_per_job']} thread, "
           f"{closing['machine']['cpu_count']} CPUs ({closing['machine']['cpu']}).", "",
           "| " + " | ".join(label for _, label in COLUMNS) + " |",
           "|" + " --- |" * len(COLUMNS)]
    out += ["| " + " | ".join(_cell(run.get(key)) for key, _ in COLUMNS) + " |" for run in runs]
    settings = list(dict.fromkeys(run["setting"] for run in runs))

    def median(setting, key):
        values = [run[key] for run in runs if run["setting"] == setting and run.get(key) is not None]
        return statistics.median(values) if values else float("nan")

    baseline = next((s for s in settings if s.endswith("β=1") and s.startswith("β-VAE")), settings[0])
    out += ["", f"Median over seeds, against {baseline}:", "",
            "| setting | MIG | FactorVAE score | above the baseline on both? |", "| --- | --- | --- | --- |"]
    for setting in settings:
        mig, score = median(setting, "mig"), median(setting, "factor_vae_score")
        verdict = "—" if setting == baseline else (
            "yes" if mig > median(baseline, "mig") and score > median(baseline, "factor_vae_score")
            else "no")
        out.append(f"| {setting} | {mig:.3f} | {score:.3f} | {verdict} |")
    correlations = closing["udr_rank_correlations"]
    keys = list(next(iter(correlations.values())))
    out += ["", "Spearman rank correlation of UDR with each supervised metric over the runs:", "",
            "| UDR | " + " | ".join(keys) + " |", "|" + " --- |" * (len(keys) + 1)]
    out += [f"| {udr} | " + " | ".join(f"{correlations[udr][k]:.2f}" for k in keys) + " |"
            for udr in correlations]
    return "\n".join(out)


if __name__ == "__main__":
    main()
