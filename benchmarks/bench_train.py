"""Training throughput of betavae_tf, next to a PyTorch twin of the same model.

Trains one model through the product path, `betavae_tf.train_vae(model, x,
batch_size=..., epochs=..., save_path=None, lr_scheduler=None,
patience=None, verbose=0, callbacks=[EpochTimer(), ...])`, and prints ONE
JSON line:

* `tf_examples_per_second`: examples / median epoch seconds over the epochs
  after `--warmup-epochs` (tracing, XLA compilation and first-touch costs
  land in the warm-up), plus every epoch's seconds (`tf_epoch_seconds`)
  and `tf_examples_per_second_best` (the fastest steady epoch: on a shared
  machine the median follows the neighbours' load, the best epoch much less);
* `flops_per_example` and `tf_percent_of_peak`: throughput × FLOPs per
  example as a share of the machine's peak float32 FLOP/s, *measured in the
  same run* with a large matmul (`peak_flops`: the better of TensorFlow's
  and PyTorch's `--peak-size`² matmul, best of 5);
* `peak_rss_mb`: the process's peak resident memory (`ru_maxrss`; it
  includes PyTorch and its copy of the data when `--torch` is on; run with
  `--no-torch` for betavae_tf alone), and `rss_mb_before_training` /
  `rss_mb_after_training`;
* with `--torch` (the default when `torch` imports), the same numbers for a
  plain-loop PyTorch twin (`torch_reference.py`) and
  `ratio_tf_over_torch`; with `--torch-compile` also a `torch.compile`d
  twin (`torch_compile_*`).

FLOPs per example are counted analytically from the Keras layers:
`Dense`: 2·in·out; `Conv2D`: 2·k·k·c_in·c_out·H_out·W_out;
`Conv2DTranspose`: 2·k·k·c_in·c_out·H_in·W_in (one k×k×c_out scatter per
*input* position); `PixelDense` and `SpatialBroadcastDense` as the 1×1
`Conv2D` they replace (the latter computes far fewer, see its docstring).
Element-wise work (activations, BatchNorm, losses, Adam)
is not counted. Training costs 3× the forward pass (forward, gradient with
respect to the activations, gradient with respect to the weights), so
`flops_per_example = 3 × forward`.

Fairness of the PyTorch comparison:

* same network (layer for layer, `torch_reference.py`; it starts from the
  Keras model's initial weights), same loss (per-example sums averaged over
  the batch; for `sbd` β-TCVAE's minibatch-stratified decomposition, β = 6),
  Adam with the same learning rate and Keras's `eps=1e-7`;
* same data in memory (the same float32 values; NCHW for PyTorch,
  transposed once before timing), same batch size, same number of steps per
  epoch (the last, smaller batch included on both sides);
* per-step shuffling cost on both sides: Keras gathers each batch through
  a per-epoch permutation; PyTorch draws `torch.randperm(n)` every epoch and
  gathers `x[perm[i:i+b]]` every step;
* the same thread count: TensorFlow's intra- and inter-op pools and
  PyTorch's `torch.set_num_threads` / `set_num_interop_threads` are all
  set to `--threads` (default: the cores this process may use);
* interleaved: after every TF epoch (inside `train_vae`, from a callback)
  one PyTorch epoch runs, so both see the same machine load; the callback's
  own time is outside the `EpochTimer` interval.

On a machine shared with other jobs, pass `--threads` = the idle cores
(`load_average_*` in the JSON tell how busy it was). With more threads than
free cores PyTorch's OpenMP pool collapsed here (MNIST: 27 s instead of
1.5 s per epoch), and so did TensorFlow's array path (14 s instead of
1.3 s), while the synchronous `--input dataset` path did not.

Levers (each can be measured on its own): `--jit-compile {on,off,auto}`
(XLA; Keras's "auto" means off on a CPU-only machine),
`--steps-per-execution N|auto`, `--threads N`, and `--input`: `array` is
`train_vae`'s NumPy path (Keras's array adapter: a per-epoch permutation,
a parallel `AUTOTUNE` gather map and `AUTOTUNE` prefetch); `dataset` is a
synchronous `tf.data` pipeline (shuffled indices, batch, gather from an
in-graph constant, tf.data autotuning off); `dataset-autotune` is the same
with a parallel map and prefetch. `--fused-adam {on,off}`,
`--endless-loop {on,off}` and `--compiled-epoch {auto,on,off}` are
`train_vae`'s `fused_adam`, `endless_loop` (both on by default) and
`compiled_epoch` (each epoch one XLA program, `betavae_tf.epoch_loop`;
its first epoch includes the compilation, so the warm-up leaves it out). `--philox-rng` measures a library
change that does not exist (not the product path): Keras draws its noise
with Philox instead of XLA's slow CPU ThreeFry (`_common.py`), and
`--executor single-threaded` runs the compiled functions on TensorFlow's
single-threaded executor. `jit_compile` / `steps_per_execution` go to `train_vae`
when it takes them (`lever_via: "train_vae"`), else to the `model.compile`
that `train_vae` calls (`lever_via: "compile"`). Flags left unset keep
`train_vae`'s defaults; the JSON reports the values the model actually
trained with.

Models: `dense` (the default network), `conv-mnist`, `conv-dsprites`,
`conv-faces` (the conv presets), and `sbd`, the disentanglement study's
network: `build_mlp_encoder((64, 64, 1), 10, units=256)` +
`build_spatial_broadcast_decoder((64, 64, 1), 10, units=32)` (its fast
form; `--sbd-decoder legacy` builds the `SpatialBroadcast` + 1×1 `Conv2D`
form, counted as the same FLOPs), Bernoulli,
`objective="tcvae"`, `tcvae_estimator="mss"`, β = 6, batch 64, on generated
dSprites. Its PyTorch twin computes the per-pixel layers with `nn.Linear`
on NHWC (see `torch_reference.py`); `--torch-sbd-split` gives the twin the
split first layer of betavae_tf's fast decoder too. PyTorch's eager CPU
path page-faults its large (32 MiB) activations in on every step unless
glibc keeps freed memory (e.g. `MALLOC_MMAP_THRESHOLD_=1073741824` in the
environment; the JSON's `malloc_env` records it): measure both.

Usage (2-core CPU examples):

    python benchmarks/bench_train.py --model dense --batch-size 64 --epochs 21
    python benchmarks/bench_train.py --model conv-mnist --batch-size 128 --epochs 6 \
        --n-examples 4096 --threads 1 --output benchmarks/results/speed_train_cpu2.jsonl
    taskset -c 0 python benchmarks/bench_train.py --model sbd --epochs 6 --n-examples 2048 \
        --threads 1 --output benchmarks/results/speed_train_cpu2.jsonl
    python benchmarks/bench_train.py --model conv-mnist --jit-compile on \
        --steps-per-execution 8 --input dataset --torch-compile
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    available_cores,
    configure_tensorflow_threads,
    current_rss_mb,
    emit,
    function_executor,
    machine_info,
    peak_rss_mb,
    tf_matmul_flops,
    torch_matmul_flops,
    use_philox_rng,
)

MODELS = {"dense": None, "conv-mnist": "mnist", "conv-dsprites": "dsprites", "conv-faces": "faces",
          "sbd": None}
# Examples per epoch when --n-examples is not given: the real digits training
# split for the dense net; for the conv nets enough for a few seconds per
# epoch on a 2-core CPU (throughput is per step, so the size barely matters).
DEFAULT_EXAMPLES = {"dense": None, "conv-mnist": 8192, "conv-dsprites": 2048, "conv-faces": 1024,
                    "sbd": 1024}
# The disentanglement study's network (benchmarks/dsprites_mig.py --arch sbd
# --mlp-units 256 --sbd-units 32 --objective tcvae --tcvae-estimator mss --betas 6).
SBD = dict(image_shape=(64, 64, 1), encoding_dim=10, mlp_units=256, sbd_units=32, beta=6.0)
JIT = {"on": True, "off": False, "auto": "auto"}


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _int_or_auto(text: str):
    return text if text == "auto" else int(text)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="dense")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="examples per step (default: 64 for dense and sbd, 128 for conv nets)")
    parser.add_argument("--sbd-decoder", choices=("fast", "legacy"), default="fast",
                        help="sbd: build_spatial_broadcast_decoder(fast=True) (SpatialBroadcastDense "
                             "+ PixelDense, the default) or fast=False (SpatialBroadcast + 1x1 Conv2D)")
    parser.add_argument("--torch-sbd-split", action="store_true",
                        help="sbd: the PyTorch twin computes its first per-pixel layer split "
                             "(broadcast(z @ W_z + b) + coords @ W_c) instead of on the tiled "
                             "concatenation")
    parser.add_argument("--epochs", type=int, default=6, help="epochs in all, warm-up included")
    parser.add_argument("--warmup-epochs", type=int, default=None,
                        help="epochs left out of the median (default: 2 when the step is XLA-compiled, "
                             "whose second epoch still compiles the last, smaller batch; else 1)")
    parser.add_argument("--n-examples", type=int, default=None,
                        help="training examples (default: digits train split for dense; "
                             "8192 / 2048 / 1024 / 1024 generated images for mnist / dsprites / "
                             "faces / sbd)")
    parser.add_argument("--mnist-dir", default=None,
                        help="use real MNIST from this folder instead of generated images")
    parser.add_argument("--jit-compile", choices=sorted(JIT), default=None,
                        help="XLA for the train step (default: train_vae's default)")
    parser.add_argument("--steps-per-execution", type=_int_or_auto, default=None,
                        help="train steps per tf.function call, an int or 'auto' "
                             "(default: train_vae's default)")
    parser.add_argument("--input", choices=("array", "dataset", "dataset-autotune"),
                        default="array",
                        help="array: train_vae's NumPy path (Keras's array adapter); "
                             "dataset: a synchronous tf.data pipeline with autotuning off; "
                             "dataset-autotune: the same with a parallel map and prefetch")
    parser.add_argument("--executor", choices=("default", "single-threaded"), default="default",
                        help="experiment: TensorFlow's executor for the compiled functions "
                             "(see _common.function_executor; hangs with --endless-loop off); "
                             "not the product path")
    parser.add_argument("--philox-rng", action="store_true",
                        help="experiment: Keras's TF backend draws noise with Philox "
                             "(see _common.use_philox_rng); not the product path")
    parser.add_argument("--fused-adam", choices=("on", "off"), default=None,
                        help="train_vae(fused_adam=...): Adam's fused update (default: train_vae's, on)")
    parser.add_argument("--endless-loop", choices=("on", "off"), default=None,
                        help="train_vae(endless_loop=...): the lean step loop (default: train_vae's, on)")
    parser.add_argument("--compiled-epoch", choices=("auto", "on", "off"), default=None,
                        help="train_vae(compiled_epoch=...): each epoch one XLA program "
                             "(default: train_vae's, auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for TF's pools and PyTorch (default: available cores)")
    parser.add_argument("--torch", dest="torch", action="store_true", default=None,
                        help="also train the PyTorch twin, interleaved (default when torch imports)")
    parser.add_argument("--no-torch", dest="torch", action="store_false")
    parser.add_argument("--torch-compile", action="store_true",
                        help="also train a torch.compile'd twin (needs a C++ compiler)")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the peak-FLOP/s matmul")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default=None, help="free text copied into the JSON")
    parser.add_argument("--output", default=None, help="also append the JSON line to this file")
    args = parser.parse_args(argv)
    if args.batch_size is None:
        args.batch_size = 64 if args.model in ("dense", "sbd") else 128
    if args.epochs <= (args.warmup_epochs or 1):
        parser.error("--epochs must be larger than --warmup-epochs")
    if args.torch is None:
        args.torch = torch_available()
    elif args.torch and not torch_available():
        parser.error("--torch needs PyTorch (pip install torch)")
    if args.torch_compile and not args.torch:
        parser.error("--torch-compile needs --torch")
    args.threads = args.threads or available_cores()
    return args


# ------------------------------------------------------------------- data
def make_data(args, feature_shape):
    import numpy as np

    rng = np.random.default_rng(args.seed)
    if args.model == "dense":
        from betavae_tf.datasets import load_digits

        x, _, _ = load_digits()
        if args.n_examples is not None:  # repeat or cut the digits
            x = x[np.arange(args.n_examples) % len(x)]
        return np.ascontiguousarray(x, dtype=np.float32)
    n = args.n_examples or DEFAULT_EXAMPLES[args.model]
    if args.model == "conv-mnist" and args.mnist_dir:
        from betavae_tf.datasets import load_mnist

        (x, _), _ = load_mnist(args.mnist_dir)
        return np.ascontiguousarray(x[np.arange(n) % len(x)], dtype=np.float32)
    if args.model in ("conv-dsprites", "sbd"):
        from betavae_tf.datasets import DSprites

        _, x = DSprites().sample(n, rng)
        return np.ascontiguousarray(x, dtype=np.float32)
    # MNIST-shaped or face-shaped pixels in [0, 1] (speed does not depend on them)
    return rng.random((n, *feature_shape), dtype=np.float32)


def make_dataset(x, batch_size: int, seed: int, autotune: bool):
    """Shuffled batches gathered from an in-graph constant.

    With `autotune`, the gather runs as a parallel map with `AUTOTUNE`d
    parallelism and prefetching (like Keras's own array adapter); without,
    synchronously in the training thread, with tf.data's autotuner off.
    """
    import tensorflow as tf

    data = tf.constant(x)
    n = int(x.shape[0])
    dataset = (
        tf.data.Dataset.range(n)
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    if autotune:
        dataset = dataset.map(
            lambda i: tf.gather(data, i), num_parallel_calls=tf.data.AUTOTUNE
        ).prefetch(tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda i: tf.gather(data, i))
        options.autotune.enabled = False
    return dataset.with_options(options)


# ------------------------------------------------------------------- FLOPs
def forward_flops(keras_model) -> int:
    """Multiply-add FLOPs of one example's forward pass (see the module docstring)."""
    import keras

    from betavae_tf.layers import PixelDense, SpatialBroadcastDense

    total = 0
    for part in (keras_model.encoder, keras_model.decoder):
        for layer in part.layers:
            if isinstance(layer, (PixelDense, SpatialBroadcastDense)):
                # as the 1×1 Conv2D it replaces (kernel (1, 1, c_in, c_out)), so
                # both decoder forms count the same work
                _, h, w, _ = layer.output.shape
                total += 2 * int(layer.kernel.shape[-2]) * layer.filters * h * w
            elif isinstance(layer, keras.layers.Dense):
                total += 2 * int(layer.input.shape[-1]) * layer.units
            elif isinstance(layer, keras.layers.Conv2DTranspose):
                _, h, w, c_in = layer.input.shape
                k = layer.kernel_size
                total += 2 * k[0] * k[1] * c_in * layer.filters * h * w
            elif isinstance(layer, keras.layers.Conv2D):
                _, h, w, _ = layer.output.shape
                c_in = layer.input.shape[-1]
                k = layer.kernel_size
                total += 2 * k[0] * k[1] * c_in * layer.filters * h * w
    return int(total)


# ------------------------------------------------------------------- PyTorch side
def torch_interleave_callback(trainers: dict):
    """A Keras callback running one epoch of each PyTorch trainer after every TF epoch.

    It must come after the `EpochTimer` in the callback list, so that its
    time is outside the TF epoch. Per-trainer epoch seconds end up in
    `.seconds`; a trainer that raises (e.g. `torch.compile` without a C++
    compiler) is dropped and its error kept in `.errors`.
    """
    import keras

    class TorchInterleave(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.trainers = dict(trainers)
            self.seconds = {name: [] for name in trainers}
            self.errors = {}

        def on_epoch_end(self, epoch, logs=None):
            for name, trainer in list(self.trainers.items()):
                start = time.perf_counter()
                try:
                    trainer.epoch()
                except Exception as error:
                    self.errors[name] = f"{type(error).__name__}: {str(error)[:300]}"
                    del self.trainers[name]
                    continue
                self.seconds[name].append(time.perf_counter() - start)

    return TorchInterleave()


def build_torch_trainers(args, keras_model, x):
    import torch
    import torch_reference

    from betavae_tf.presets import conv_preset

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:  # already set (only possible once per process)
        pass
    torch.manual_seed(args.seed)
    preset = None if MODELS[args.model] is None else conv_preset(MODELS[args.model])
    x_torch = torch_reference.to_torch_layout(x)
    trainers = {}
    variants = [("torch", False)] + ([("torch_compile", True)] if args.torch_compile else [])
    for name, compiled in variants:
        if args.model == "sbd":
            twin = torch_reference.build_twin(
                "sbd", **{k: v for k, v in SBD.items() if k != "beta"}, dataset_size=len(x),
                alpha=float(keras_model.alpha), gamma_dw=float(keras_model.gamma_dw),
                split_first_layer=args.torch_sbd_split)
        else:
            twin = torch_reference.build_twin(args.model, preset)
        torch_reference.copy_keras_weights(keras_model, twin)
        trainers[name] = torch_reference.Trainer(
            twin, x_torch, args.batch_size, args.learning_rate,
            beta=float(keras_model.beta), compile=compiled,
        )
    return trainers


def build_sbd_beta_vae(args, n: int):
    """The study's network: MLP encoder, spatial broadcast decoder, β-TCVAE (MSS)."""
    from betavae_tf import BetaVAE
    from betavae_tf.networks import build_mlp_encoder, build_spatial_broadcast_decoder

    shape, dim = SBD["image_shape"], SBD["encoding_dim"]
    return BetaVAE(
        encoder=build_mlp_encoder(shape, dim, units=SBD["mlp_units"]),
        decoder=build_spatial_broadcast_decoder(shape, dim, units=SBD["sbd_units"],
                                                fast=args.sbd_decoder == "fast"),
        likelihood="bernoulli", beta=SBD["beta"], seed=args.seed, objective="tcvae",
        tcvae_estimator="mss", dataset_size=n,
    )


# ------------------------------------------------------------------- main
def TrainFunctionModule():
    """A callback noting the module of the training function `fit` ran:
    `betavae_tf.train_loop` (lean loop), `betavae_tf.epoch_loop` (compiled
    epochs) or Keras's."""
    import keras

    class _TrainFunctionModule(keras.callbacks.Callback):
        module = None

        def on_train_end(self, logs=None):
            self.module = getattr(self.model.train_function, "__module__", None)

    return _TrainFunctionModule()


def steady(seconds: list, warmup: int) -> float:
    return statistics.median(seconds[warmup:])


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = configure_tensorflow_threads(args.threads)

    import keras
    import tensorflow as tf

    import betavae_tf
    from betavae_tf import BetaVAE, train_vae
    from betavae_tf.presets import build_conv_beta_vae
    from betavae_tf.sweep import EpochTimer

    if args.philox_rng:
        use_philox_rng()
    peak_tf = tf_matmul_flops(args.peak_size)

    keras.utils.set_random_seed(args.seed)
    if args.model == "dense":
        model = BetaVAE(input_dim=64, encoding_dim=16, beta=1.0, seed=args.seed)
    elif args.model == "sbd":
        model = build_sbd_beta_vae(args, args.n_examples or DEFAULT_EXAMPLES["sbd"])
    else:
        model = build_conv_beta_vae(MODELS[args.model], beta=1.0, seed=args.seed)
    x = make_data(args, model.feature_shape)
    n = len(x)
    flops_forward = forward_flops(model)
    flops = 3 * flops_forward

    callbacks = [EpochTimer()]
    torch_callback = None
    if args.torch:
        trainers = build_torch_trainers(args, model, x)
        torch_callback = torch_interleave_callback(trainers)
        callbacks.append(torch_callback)

    levers = {}
    if args.jit_compile is not None:
        levers["jit_compile"] = JIT[args.jit_compile]
    if args.steps_per_execution is not None:
        levers["steps_per_execution"] = args.steps_per_execution
    takes_levers = set(levers) <= set(inspect.signature(train_vae).parameters)
    train_kwargs = dict(levers) if takes_levers else {}
    if levers and not takes_levers:  # train_vae calls model.compile(optimizer=...)
        model.compile = lambda *a, **k: BetaVAE.compile(model, *a, **{**k, **levers})
    for name in ("fused_adam", "endless_loop"):
        if getattr(args, name) is not None:
            train_kwargs[name] = getattr(args, name) == "on"
    if args.compiled_epoch is not None:
        train_kwargs["compiled_epoch"] = JIT[args.compiled_epoch]
    loop = TrainFunctionModule()
    callbacks.append(loop)
    data = x if args.input == "array" else make_dataset(
        x, args.batch_size, args.seed, autotune=args.input == "dataset-autotune")

    load_before = os.getloadavg()[0]
    rss_before = current_rss_mb()
    start = time.perf_counter()
    with function_executor(args.executor):
        history, model = train_vae(
            model, data, batch_size=args.batch_size, epochs=args.epochs,
            learning_rate=args.learning_rate, save_path=None, lr_scheduler=None,
            patience=None, verbose=0, callbacks=callbacks, **train_kwargs,
        )
    wall = time.perf_counter() - start
    rss_after = current_rss_mb()

    peak_torch = torch_matmul_flops(args.peak_size) if args.torch else None
    peak = max(p for p in (peak_tf, peak_torch) if p)
    tf_seconds = callbacks[0].seconds
    if args.warmup_epochs is None:  # XLA's second epoch still compiles the smaller last batch
        args.warmup_epochs = min(2 if model.jit_compile else 1, args.epochs - 1)
    tf_rate = n / steady(tf_seconds, args.warmup_epochs)
    result = {
        "model": args.model,
        "batch_size": args.batch_size,
        "n_examples": n,
        "steps_per_epoch": math.ceil(n / args.batch_size),
        "epochs": args.epochs,
        "warmup_epochs": args.warmup_epochs,
        "input": args.input,
        **({"sbd_decoder": args.sbd_decoder} if args.model == "sbd" else {}),
        "philox_rng": args.philox_rng,
        "executor": args.executor,
        "fused_adam": type(model.optimizer).__name__ == "FusedAdam",
        "endless_loop": loop.module == "betavae_tf.train_loop",
        "compiled_epoch": loop.module == "betavae_tf.epoch_loop",
        "jit_compile": bool(model.jit_compile),
        "steps_per_execution": int(model.steps_per_execution),
        "lever_via": "train_vae" if takes_levers or not levers else "compile",
        "threads": args.threads,
        "tf_threads": threads,
        # glibc malloc settings change PyTorch's speed (its large tensors are
        # mmap'ed and page-faulted in on every step by default)
        "malloc_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_")},
        "tf_examples_per_second": round(tf_rate, 1),
        "tf_median_epoch_seconds": round(steady(tf_seconds, args.warmup_epochs), 4),
        "tf_epoch_seconds": [round(s, 4) for s in tf_seconds],
        "tf_examples_per_second_best": round(n / min(tf_seconds[args.warmup_epochs:]), 1),
        "tf_final_loss": round(float(history.history["loss"][-1]), 4),
        "flops_per_example": flops,
        "forward_flops_per_example": flops_forward,
        "peak_flops": round(peak),
        "peak_flops_tf": round(peak_tf),
        "peak_flops_torch": None if peak_torch is None else round(peak_torch),
        "tf_percent_of_peak": round(100 * tf_rate * flops / peak, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_mb_before_training": round(rss_before, 1),
        "rss_mb_after_training": round(rss_after, 1),
        "wall_seconds": round(wall, 2),
        # 1-minute load averages around training: > threads means other
        # processes competed for the cores and the timings are less reliable
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    if torch_callback is not None:
        import torch

        result["torch_threads"] = {
            "intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads(),
        }
        if args.model == "sbd":
            result["torch_sbd_split_first_layer"] = args.torch_sbd_split
        for name, seconds in torch_callback.seconds.items():
            if name in torch_callback.errors or len(seconds) <= args.warmup_epochs:
                continue
            rate = n / steady(seconds, args.warmup_epochs)
            result[f"{name}_examples_per_second"] = round(rate, 1)
            result[f"{name}_median_epoch_seconds"] = round(steady(seconds, args.warmup_epochs), 4)
            result[f"{name}_epoch_seconds"] = [round(s, 4) for s in seconds]
            result[f"{name}_examples_per_second_best"] = round(
                n / min(seconds[args.warmup_epochs:]), 1)
            result[f"{name}_final_loss"] = round(
                torch_callback.trainers[name].last_losses["loss"], 4)
            result[f"{name}_percent_of_peak"] = round(100 * rate * flops / peak, 2)
            suffix = "" if name == "torch" else "_compile"
            result[f"ratio_tf_over_torch{suffix}"] = round(tf_rate / rate, 3)
            result[f"ratio_tf_over_torch{suffix}_best"] = round(
                result["tf_examples_per_second_best"]
                / result[f"{name}_examples_per_second_best"], 3)
        for name, error in torch_callback.errors.items():
            result[f"{name}_error"] = error
    result.update(
        versions={
            "betavae_tf": betavae_tf.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__,
            **({"torch": __import__("torch").__version__} if args.torch else {}),
        },
        machine=machine_info(),
        label=args.label,
    )
    emit(result, args.output)
    return result


if __name__ == "__main__":
    main()
