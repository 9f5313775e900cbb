"""How studies share a machine: the same small study with --jobs 1 and --jobs 2
(one TensorFlow thread per job for 2 jobs, all cores for 1), alternated, in fresh
folders; prints one JSON line with the wall times and the ratio.

    python benchmarks/bench_study_jobs.py [--rounds 2] [--steps 1500] [--results FILE]
"""

import argparse
import json
import os
import platform
import shutil
import tempfile
import time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=4, help="runs per study (settings x 2 seeds)")
    parser.add_argument("--eval-scale", type=float, default=0.1)
    parser.add_argument("--results", default=None, help="append the JSON line to this file")
    args = parser.parse_args(argv)

    from betavae_tf.study import check_spec, run_study

    betas = [1, 2, 4, 8, 16, 32][: max(1, args.runs // 2)]
    spec = check_spec({"dataset": "dsprites", "steps": args.steps, "seeds": [0, 1], "batch_size": 64,
                       "network": "sbd", "n_samples": 4096, "eval_scale": args.eval_scale,
                       "udr_points": 200, "models": [{"objective": "beta", "beta": betas}]})
    cores = os.cpu_count() or 1
    times = {1: [], 2: []}
    for _ in range(args.rounds):
        for jobs in (1, 2):
            folder = tempfile.mkdtemp(prefix=f"study-jobs{jobs}-")
            start = time.perf_counter()
            run_study(spec, folder, jobs=jobs, threads_per_job=max(1, cores // jobs),
                      log=lambda line: None)
            times[jobs].append(round(time.perf_counter() - start, 1))
            shutil.rmtree(folder, ignore_errors=True)
    best = {jobs: min(values) for jobs, values in times.items()}
    result = {
        "benchmark": "study_jobs", "runs": len(spec.runs()), "steps": args.steps,
        "eval_scale": args.eval_scale, "seconds_jobs_1": times[1], "seconds_jobs_2": times[2],
        "ratio_jobs_2_over_1": round(best[2] / best[1], 3),
        "threads_per_job": {"1": cores, "2": max(1, cores // 2)},
        "load_average_after": os.getloadavg()[0],
        "machine": {"cpu": platform.processor() or platform.machine(), "cpu_count": cores},
    }
    print(json.dumps(result))
    if args.results:
        with open(args.results, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(result) + "\n")
    return result


if __name__ == "__main__":
    main()
