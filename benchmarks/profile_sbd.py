"""Where a training step of the study's network spends its time, piece by piece.

The network of `bench_train.py --model sbd` (MLP encoder 4096-256-256,
spatial broadcast decoder 32-32-1 per pixel on 64×64, Bernoulli, β-TCVAE
with the MSS estimator, FusedAdam, batch 64), built both ways
(`build_spatial_broadcast_decoder(fast=False)`: `SpatialBroadcast` + 1×1
`Conv2D` layers; `fast=True`: `SpatialBroadcastDense` + `PixelDense`),
with the same weights. Each piece is one `tf.function` run on fixed
tensors: forward and backward ("f+b": the gradients with respect to its
inputs and weights, given a fixed upstream gradient), or forward only.
The pieces run round-robin, `--rounds` times `--calls` calls each, so
they all see the same machine load; the JSON line gives, per piece, the
median milliseconds per call of wall time (`wall_ms`) and of this
process's CPU time (`cpu_ms`, which a busy machine inflates much less).

    taskset -c 1 python benchmarks/profile_sbd.py --threads 1 --rounds 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import configure_tensorflow_threads, emit, machine_info  # noqa: E402


def train_step(model, optimizer, weights, x):
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            losses, _ = model._losses_and_posterior(x, training=True)
        optimizer.apply(tape.gradient(losses["total_loss"], weights), weights)
        return losses["total_loss"]
    return step


def adam_update(optimizer, gradients, weights):
    import tensorflow as tf

    @tf.function
    def update():
        optimizer.apply(gradients, weights)
        return tf.constant(0.0)
    return update


def build_pieces(batch_size: int, seed: int) -> dict:
    """`{name: tf.function}` for every piece of both decoders' steps."""
    import keras
    import numpy as np
    import tensorflow as tf

    from betavae_tf import BetaVAE
    from betavae_tf.losses import bernoulli_negative_log_likelihood, tcvae_decomposition
    from betavae_tf.networks import build_mlp_encoder, build_spatial_broadcast_decoder
    from betavae_tf.optimizers import FusedAdam

    shape, dim, n = (64, 64, 1), 10, 40000
    rng = np.random.default_rng(seed)
    x = tf.constant((rng.random((batch_size, *shape)) > 0.9).astype("float32"))
    z = tf.constant(rng.standard_normal((batch_size, dim)).astype("float32"))
    pieces = {}

    def f_and_b(function, inputs, weights, output_gradient=None):
        """forward + gradients w.r.t. `inputs` and `weights` (upstream: `output_gradient`)."""
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                out = function(*inputs)
            grads = tape.gradient(out, list(inputs) + list(weights), output_gradients=output_gradient)
            return tf.add_n([tf.reduce_sum(g[..., :1]) for g in grads if g is not None])
        return run

    for fast in (False, True):
        tag = "fast" if fast else "legacy"
        keras.utils.set_random_seed(seed)
        model = BetaVAE(
            encoder=build_mlp_encoder(shape, dim, units=256),
            decoder=build_spatial_broadcast_decoder(shape, dim, units=32, fast=fast),
            likelihood="bernoulli", beta=6.0, objective="tcvae", tcvae_estimator="mss",
            dataset_size=n, seed=seed,
        )
        optimizer = FusedAdam(1e-3)
        optimizer.build(model.vae_weights)
        weights = model.vae_weights

        pieces[f"{tag}: train step (all below + Adam)"] = train_step(model, optimizer, weights, x)
        decoder = model.decoder

        def decoder_loss(z, decoder=decoder):
            return tf.reduce_mean(bernoulli_negative_log_likelihood(x, decoder(z, training=True)))

        pieces[f"{tag}: decoder + Bernoulli loss f+b"] = f_and_b(
            decoder_loss, [z], decoder.trainable_weights)
        h = z
        for layer in decoder.layers[1:]:
            out = layer(h)
            upstream = tf.constant(rng.standard_normal(out.shape).astype("float32") * 1e-3)
            kind = type(layer).__name__
            pieces[f"{tag}:   {layer.name} ({kind}) f+b"] = f_and_b(
                lambda t, layer=layer: layer(t), [h], layer.trainable_weights, upstream)
            if kind == "SpatialBroadcast":
                pieces[f"{tag}:   {layer.name} ({kind}) f"] = tf.function(
                    lambda t=h, layer=layer: tf.reduce_sum(layer(t)[:, :1, :1]))
            h = out
        if not fast:
            continue
        encoder = model.encoder
        pieces["both: encoder (MLP 4096-256-256-2x10) f+b"] = f_and_b(
            lambda t, encoder=encoder: tf.add_n([tf.reduce_sum(o) for o in encoder(t)]), [x],
            encoder.trainable_weights)
        logits = h
        pieces["both: Bernoulli loss f+b"] = f_and_b(
            lambda t: tf.reduce_mean(bernoulli_negative_log_likelihood(x, t)), [logits], [])
        z_mean = tf.constant(rng.standard_normal((batch_size, dim)).astype("float32"))
        z_log_var = tf.constant(0.1 * rng.standard_normal((batch_size, dim)).astype("float32"))
        pieces["both: MSS estimator (64x64x10) f+b"] = f_and_b(
            lambda *t: tf.add_n([tf.reduce_mean(term)
                                 for term in tcvae_decomposition(*t, n, estimator="mss")]),
            [z, z_mean, z_log_var], [])
        gradients = [tf.fill(w.shape, 1e-4) for w in weights]

        pieces["both: FusedAdam update"] = adam_update(optimizer, gradients, weights)
    return pieces


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=3, help="calls per piece per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    threads = configure_tensorflow_threads(args.threads)
    import tensorflow as tf

    pieces = build_pieces(args.batch_size, args.seed)
    for function in pieces.values():  # trace, then warm up
        function()
        function()
    wall = {name: [] for name in pieces}
    cpu = {name: [] for name in pieces}
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, function in pieces.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                value = function()
            float(value)
            wall[name].append(1000 * (time.perf_counter() - start) / args.calls)
            cpu[name].append(1000 * (time.process_time() - start_cpu) / args.calls)
    order = sorted(pieces, key=lambda name: (name.split(":")[0] != "legacy",
                                             name.split(":")[0] != "fast"))
    result = {
        "benchmark": "profile_sbd",
        "batch_size": args.batch_size,
        "threads": threads,
        "rounds": args.rounds,
        "calls": args.calls,
        "pieces": {name: {"wall_ms": round(statistics.median(wall[name]), 2),
                          "wall_ms_best": round(min(wall[name]), 2),
                          "cpu_ms": round(statistics.median(cpu[name]), 2)} for name in order},
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "versions": {"tensorflow": tf.__version__},
        "machine": machine_info(),
        "label": args.label,
    }
    emit(result, args.output)
    return result


if __name__ == "__main__":
    main()
