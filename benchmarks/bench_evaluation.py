"""Time of `evaluate_disentanglement` per metric on rendered dSprites.

Builds the spatial-broadcast dSprites model (untrained is fine for timing:
the metrics do the same work whatever the weights),

    BetaVAE(encoder=build_mlp_encoder((64, 64, 1), 10, units=256),
            decoder=build_spatial_broadcast_decoder((64, 64, 1), 10, units=32),
            likelihood="bernoulli")

and times `evaluate_disentanglement(model, DSprites(), random_state=--seed,
scale=--scale, metric_names=[name])` once per metric (each metric draws from
its own `RandomState(seed)`, so this is exactly what one call with all five
metrics computes). Prints ONE JSON line with `seconds` per metric,
`total_seconds`, the metric values (`scores`: the same seed must give the
same values before and after a speed-up), the 1-minute load average before
and after, the machine and the versions. At `--scale 1` (disentanglement_lib's
point counts) the metrics render and encode about 2.9 million images (β-VAE
score 1.92 M, FactorVAE score 0.97 M, DCI and SAP 15,000 each, MIG 10,000).

Usage (2-core CPU):

    python benchmarks/bench_evaluation.py --output benchmarks/results/speed_evaluation_cpu2.jsonl
    taskset -c 0 python benchmarks/bench_evaluation.py --threads 1 --metrics mig dci
    python benchmarks/bench_evaluation.py --metrics dci --dci-classifier hist_gradient_boosting

With `PYTHONPATH` pointing at another checkout, the same script times that
code (`betavae_tf_path` in the JSON says which), e.g. the code before a
speed-up, to compare timings and check that the scores are equal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import configure_tensorflow_threads, emit, machine_info, peak_rss_mb  # noqa: E402

METRICS = ("mig", "sap", "dci", "beta_vae_score", "factor_vae_score")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies every metric's point counts (1 = disentanglement_lib's)")
    parser.add_argument("--metrics", nargs="+", choices=METRICS, default=list(METRICS))
    parser.add_argument("--seed", type=int, default=0, help="metrics' random_state")
    parser.add_argument("--model-seed", type=int, default=0, help="keras.utils.set_random_seed")
    parser.add_argument("--dci-classifier", default="gradient_boosting",
                        choices=("gradient_boosting", "hist_gradient_boosting"),
                        help="dci's classifier; hist_gradient_boosting is an opt-in deviation "
                             "from disentanglement_lib (not the default)")
    parser.add_argument("--dci-n-jobs", type=int, default=None,
                        help="dci's n_jobs, e.g. -1 for one process per core (default: dci's own, 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow intra/inter-op threads (default: TensorFlow's)")
    parser.add_argument("--label", default=None, help="free text stored in the JSON")
    parser.add_argument("--output", default=None, help="append the JSON line to this file")
    return parser.parse_args(argv)


def build_model(seed: int):
    import keras

    from betavae_tf import BetaVAE
    from betavae_tf.networks import build_mlp_encoder, build_spatial_broadcast_decoder

    keras.utils.set_random_seed(seed)
    return BetaVAE(
        encoder=build_mlp_encoder((64, 64, 1), 10, units=256),
        decoder=build_spatial_broadcast_decoder((64, 64, 1), 10, units=32),
        likelihood="bernoulli",
    )


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = configure_tensorflow_threads(args.threads)

    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    import betavae_tf
    from betavae_tf import metrics
    from betavae_tf.datasets import DSprites
    from betavae_tf.evaluation import evaluate_disentanglement, scaled_hyper_parameters

    model = build_model(args.model_seed)
    dataset = DSprites()
    load_before = os.getloadavg()[0]
    seconds, scores = {}, {}
    for name in args.metrics:
        start = time.perf_counter()
        if name == "dci" and (args.dci_classifier != "gradient_boosting" or args.dci_n_jobs):
            # What evaluate_disentanglement does, plus dci's options.
            options = {"classifier": args.dci_classifier}
            if args.dci_n_jobs:
                options["n_jobs"] = args.dci_n_jobs
            scores[name] = metrics.dci(
                metrics.mean_representation(model, 256), dataset, np.random.RandomState(args.seed),
                **options, **scaled_hyper_parameters(metrics.dci, args.scale),
            )
        else:
            scores[name] = evaluate_disentanglement(
                model, dataset, random_state=args.seed, metric_names=[name], scale=args.scale,
            )[name]
        seconds[name] = round(time.perf_counter() - start, 2)
    result = {
        "benchmark": "evaluation",
        "model": "mlp256-spatial-broadcast32",
        "dataset": "DSprites()",
        "scale": args.scale,
        "seed": args.seed,
        "dci_classifier": args.dci_classifier,
        "dci_n_jobs": args.dci_n_jobs,
        "metrics": list(args.metrics),
        "seconds": seconds,
        "total_seconds": round(sum(seconds.values()), 2),
        "scores": scores,
        "threads": args.threads,
        "tf_threads": threads,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        # 1-minute load averages around the timing: > cores available means
        # other processes competed for the cores and the timings are less reliable
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "betavae_tf_path": os.path.dirname(os.path.abspath(betavae_tf.__file__)),
        "versions": {
            "betavae_tf": betavae_tf.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "sklearn": sklearn.__version__,
        },
        "machine": machine_info(),
        "label": args.label,
    }
    emit(result, args.output)
    return result


if __name__ == "__main__":
    main()
