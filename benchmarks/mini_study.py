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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    main()
