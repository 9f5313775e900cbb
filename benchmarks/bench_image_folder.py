"""Memory of streaming a large image folder through `image_folder_dataset`.

Generates `--n-images` (default 50,000) small JPEGs with PIL in a temporary
folder (or uses `--folder`), streams every image once through
`betavae_tf.datasets.image_folder_dataset` (shuffled file names, parallel
decode, crop and resize, batching, prefetch), and prints ONE JSON line:

* `rss_mb_after_first` / `rss_mb_after_all`: resident memory after the
  first `--first` (1,000) images and after all of them; `rss_growth_mb` is
  their difference, which stays near zero when nothing accumulates;
* `rss_mb_samples`: `[images seen, RSS]` about every tenth of the stream;
* `peak_rss_mb`: the process's peak resident memory (`ru_maxrss`), and
  `peak_rss_mb_before_stream` (after TensorFlow was loaded), so the stream's
  own contribution is their difference;
* `images_per_second` of the stream and the folder's size on disk;
* with `--compare REF`, `compare`: `--rounds` more passes with the current
  pipeline, interleaved with as many through `image_folder.py` as it was at
  git revision REF (side by side, so both see the same machine load), their
  images/s and CPU µs per image (all threads; steadier than images/s on a
  shared machine) per round and medians, and the load average before and
  after.

Usage:

    python benchmarks/bench_image_folder.py                      # 50k 64x64 JPEGs
    python benchmarks/bench_image_folder.py --folder ~/data/celeba/img_align_celeba \\
        --n-images 0 --image-size 64
    python benchmarks/bench_image_folder.py --n-images 5000 --compare HEAD~1 --rounds 5
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    available_cores,
    configure_tensorflow_threads,
    current_rss_mb,
    emit,
    machine_info,
    peak_rss_mb,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=None,
                        help="stream this folder instead of generating one")
    parser.add_argument("--n-images", type=int, default=50_000,
                        help="images to generate (ignored with --folder)")
    parser.add_argument("--file-size", type=int, default=64, help="side of the generated JPEGs")
    parser.add_argument("--image-size", type=int, default=64, help="image_size of the dataset")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--first", type=int, default=1000,
                        help="report RSS after this many images (and after all)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TF intra/inter-op threads (default: available cores)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="also append the JSON line to this file")
    parser.add_argument("--compare", metavar="REF", default=None,
                        help="also time image_folder.py as of git revision REF, interleaved")
    parser.add_argument("--rounds", type=int, default=3,
                        help="passes of each pipeline with --compare")
    args = parser.parse_args(argv)
    args.threads = args.threads or available_cores()
    return args


def generate_jpegs(folder: str, n: int, size: int, seed: int = 0) -> float:
    """Writes `n` distinct `size`×`size` RGB JPEGs; returns the seconds it took."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    for index in range(n):
        # a smooth colour gradient plus a random rectangle: JPEG-like content
        colour = rng.integers(0, 256, 3).astype(np.float32)
        pixels = (0.5 * ramp[None, :, None] + 0.5 * colour[None, None, :]).repeat(size, axis=0)
        top, left = rng.integers(0, size // 2, 2)
        pixels[top : top + size // 3, left : left + size // 3] = rng.integers(0, 256, 3)
        Image.fromarray(pixels.astype(np.uint8)).save(
            os.path.join(folder, f"{index:06d}.jpg"), quality=90
        )
    return time.perf_counter() - start


def load_image_folder_at(ref: str):
    """`betavae_tf/datasets/image_folder.py` as of git revision `ref`, as a module."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = subprocess.run(
        ["git", "-C", root, "show", f"{ref}:betavae_tf/datasets/image_folder.py"],
        check=True, capture_output=True, text=True,
    ).stdout
    folder = tempfile.mkdtemp(prefix="bench_image_folder_ref_")
    atexit.register(shutil.rmtree, folder, True)  # AutoGraph reads the source until then
    path = os.path.join(folder, "image_folder_ref.py")
    with open(path, "w") as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("image_folder_ref", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # AutoGraph looks its functions' module up
    spec.loader.exec_module(module)
    return module


def stream_seconds(dataset) -> tuple[int, float, float]:
    """Images in one pass over `dataset`, the seconds it took and the CPU seconds."""
    import tensorflow as tf

    seen = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for batch in dataset:
        seen += int(batch.shape[0])
        float(tf.reduce_mean(batch))  # touch every batch, as the main pass does
    return seen, time.perf_counter() - start, time.process_time() - cpu_start


def compare(ref: str, folder: str, args) -> dict:
    """Interleaved passes through the current pipeline and the one at `ref`."""
    from betavae_tf.datasets import image_folder_dataset

    old = load_image_folder_at(ref).image_folder_dataset
    pipelines = {"ref": old, "current": image_folder_dataset}
    load_before = os.getloadavg()
    rounds = []
    for index in range(args.rounds):
        names = ["ref", "current"] if index % 2 == 0 else ["current", "ref"]
        row = {}
        for name in names:
            dataset = pipelines[name](folder, image_size=args.image_size,
                                      batch_size=args.batch_size, seed=args.seed + index)
            seen, seconds, cpu_seconds = stream_seconds(dataset)
            row[name] = round(seen / seconds, 1)
            row[f"{name}_cpu_us_per_image"] = round(cpu_seconds / seen * 1e6, 1)
            row[f"{name}_images"] = seen
        rounds.append(row)
    return {
        "ref": ref,
        "rounds": rounds,
        "images_per_second_ref_median": statistics.median(r["ref"] for r in rounds),
        "images_per_second_current_median": statistics.median(r["current"] for r in rounds),
        "cpu_us_per_image_ref_median": statistics.median(
            r["ref_cpu_us_per_image"] for r in rounds),
        "cpu_us_per_image_current_median": statistics.median(
            r["current_cpu_us_per_image"] for r in rounds),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def folder_size_mb(folder: str) -> float:
    with os.scandir(folder) as entries:
        return sum(entry.stat().st_size for entry in entries if entry.is_file()) / 2**20


def main(argv=None) -> dict:
    args = parse_args(argv)
    configure_tensorflow_threads(args.threads)
    import tensorflow as tf

    from betavae_tf.datasets import image_folder_dataset

    tf.constant(0.0) + 1.0  # start TF's runtime before the baseline
    created = None
    generate_seconds = None
    folder = args.folder
    if folder is None:
        created = tempfile.mkdtemp(prefix="bench_image_folder_")
        folder = created
        generate_seconds = generate_jpegs(folder, args.n_images, args.file_size, args.seed)
    try:
        rss_start = current_rss_mb()
        peak_before = peak_rss_mb()
        dataset = image_folder_dataset(folder, image_size=args.image_size,
                                       batch_size=args.batch_size, seed=args.seed)
        every = max(args.batch_size, len(os.listdir(folder)) // 10)
        next_sample = every
        seen = batches = 0
        rss_first = None
        samples = []
        checksum = 0.0
        start = time.perf_counter()
        for batch in dataset:
            seen += int(batch.shape[0])
            batches += 1
            checksum += float(tf.reduce_mean(batch))  # touch every batch
            if rss_first is None and seen >= args.first:
                rss_first = current_rss_mb()
                first_seen = seen
            if seen >= next_sample:
                samples.append([seen, round(current_rss_mb(), 1)])
                next_sample += every
        seconds = time.perf_counter() - start
        rss_all = current_rss_mb()
        if rss_first is None:  # fewer images than --first
            rss_first, first_seen = rss_all, seen
        result = {
            "n_images": seen,
            "image_size": args.image_size,
            "file_size": args.file_size if created else None,
            "batch_size": args.batch_size,
            "folder_mb": round(folder_size_mb(folder), 1),
            "generated": created is not None,
            "generate_seconds": None if generate_seconds is None else round(generate_seconds, 1),
            "stream_seconds": round(seconds, 2),
            "images_per_second": round(seen / seconds, 1),
            "rss_mb_before_stream": round(rss_start, 1),
            "first_images": first_seen,
            "rss_mb_after_first": round(rss_first, 1),
            "rss_mb_after_all": round(rss_all, 1),
            "rss_growth_mb": round(rss_all - rss_first, 1),
            "rss_mb_samples": samples,
            "peak_rss_mb_before_stream": round(peak_before, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "mean_pixel": round(checksum / max(1, batches), 4),
            "threads": args.threads,
            "versions": {"tensorflow": tf.__version__},
            "machine": machine_info(),
        }
        if args.compare:
            result["compare"] = compare(args.compare, folder, args)
    finally:
        if created and not args.keep:
            shutil.rmtree(created, ignore_errors=True)
    emit(result, args.output)
    return result


if __name__ == "__main__":
    main()
