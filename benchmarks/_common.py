"""Helpers shared by the speed and memory benchmarks: threads, RSS, machine, JSON."""

from __future__ import annotations

import json
import os
import platform
import resource
import time


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_tensorflow_threads(threads: int | None) -> dict:
    """Sets TF's intra- and inter-op pool sizes (before TF starts its runtime).

    `None` keeps TensorFlow's defaults (0 = one thread per core).
    """
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def current_rss_mb() -> float:
    """Resident set size now, in MiB (from /proc; psutil where /proc is absent)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (`ru_maxrss`)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 2**10


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores_available": available_cores(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def best_seconds(function, repeats: int) -> float:
    """The fastest of `repeats` timed calls of `function()` (after one warm-up call)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def tf_matmul_flops(size: int = 2048, repeats: int = 5) -> float:
    """Measured float32 FLOP/s of one `size`² × `size`² TensorFlow matmul (best of `repeats`)."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.float32)
    b = tf.random.normal((size, size), dtype=tf.float32)
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
    return 2.0 * size**3 / best_seconds(lambda: matmul().numpy(), repeats)


def torch_matmul_flops(size: int = 2048, repeats: int = 5) -> float:
    """Measured float32 FLOP/s of one `size`² × `size`² PyTorch matmul (best of `repeats`)."""
    import torch

    a = torch.randn(size, size)
    b = torch.randn(size, size)
    return 2.0 * size**3 / best_seconds(lambda: torch.mm(a, b), repeats)


def emit(result: dict, output: str | None) -> None:
    """Prints `result` as one JSON line, and appends it to `output` if given."""
    line = json.dumps(result, sort_keys=False)
    print(line, flush=True)
    if output:
        folder = os.path.dirname(os.path.abspath(output))
        os.makedirs(folder, exist_ok=True)
        with open(output, "a") as file:
            file.write(line + "\n")


def use_philox_rng() -> None:
    """Makes Keras's TensorFlow backend draw all random numbers with Philox.

    An experiment, not a library feature: Keras calls `tf.random.stateless_*`
    with `alg="auto_select"`, which under XLA on a CPU is ThreeFry, and XLA's
    CPU ThreeFry is slow (≈2-5 ms for a 64×64 dropout mask on this machine,
    against ≈0.2 ms for Philox), which makes `jit_compile=True` lose on CPU
    for every model with sampling or dropout. This replaces the backend's
    `normal`, `uniform` and `dropout` with the same calls using
    `alg="philox"` (what "auto_select" already means outside XLA on CPU), to
    measure what the library would gain by drawing its noise that way.
    """
    import tensorflow as tf
    from keras.src.backend import random as backend_random
    from keras.src.backend.config import floatx
    from keras.src.backend.tensorflow import random as tf_random
    from keras.src.random.seed_generator import draw_seed

    def seed_of(seed):
        return tf_random._cast_seed(draw_seed(seed))

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return tf.random.stateless_normal(
            shape=shape, mean=mean, stddev=stddev, dtype=dtype or floatx(),
            seed=seed_of(seed), alg="philox",
        )

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        dtype = dtype or floatx()
        return tf.random.stateless_uniform(
            shape=shape, minval=tf.cast(minval, dtype), maxval=tf.cast(maxval, dtype),
            dtype=dtype, seed=seed_of(seed), alg="philox",
        )

    def dropout(inputs, rate, noise_shape=None, seed=None):
        if rate == 1.0:
            return tf.zeros_like(inputs)
        if rate == 0.0:
            return inputs
        return tf.nn.experimental.stateless_dropout(
            inputs, rate=rate, noise_shape=tf_random._get_concrete_noise_shape(inputs, noise_shape),
            seed=seed_of(seed), rng_alg="philox",
        )

    for module in {tf_random, backend_random}:
        module.normal, module.uniform, module.dropout = normal, uniform, dropout



def function_executor(name: str):
    """A context in which TensorFlow runs `tf.function`s with executor `name`.

    An experiment for the lever table, not a library feature: `"default"`
    is TensorFlow's executor; `"single-threaded"` is its
    `SINGLE_THREADED_EXECUTOR`, which runs a function's ops one after the
    other with less bookkeeping per op (`tf.experimental.function_executor_type`).
    Measured and not adopted (README, lever table): faster for the dense net
    on one thread, slower for conv nets and two threads, its losses drifted
    from the default executor's after an epoch, and Keras's own loop
    (`--endless-loop off`, and every validation pass) hangs under it.
    """
    import contextlib

    if name == "default":
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.experimental.function_executor_type("SINGLE_THREADED_EXECUTOR")
