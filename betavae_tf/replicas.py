"""Data-parallel maths: one replica's step seen as part of the global batch.

Under a multi-replica `tf.distribute` strategy (MirroredStrategy with `fit`,
or the multi-worker loop of `betavae_tf.distribute`) every replica runs the
training step on its slice of the global batch, and Keras's optimizer SUMS
the replicas' gradients. The three functions here make that sum the
single-device gradient of the global batch; `BetaVAE` calls them at one
seam (its `_train_batch`/`test_step`). On one device each returns its
inputs unchanged.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops

from betavae_tf import keras_internals


def multi_replica_context():
    """The replica context of a step under a multi-replica strategy, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def global_batch_losses(losses: dict, x) -> tuple[dict, object]:
    """One replica's batch losses, seen over the global batch.

    Replica `r` holds `n_r` of the global batch's `N = Σ_r n_r` examples
    (`x` has shape `(n_r, *feature_shape)`; `n_r` may be 0 for a last batch
    smaller than the replicas) and `losses` are means over its `n_r`. One
    all-reduce gives `N` and the global means `Σ_r n_r · loss_r / N`,
    identical on every replica (exact for terms that are means of
    per-example values, such as the reconstruction and KL).

    Returns:
        `(global_losses, objective)`: the dict to log, and the scalar this
        replica differentiates, `(n_r / N) · total_loss_r`, whose gradients
        summed over the replicas are the gradient of the global batch's mean
        loss. On one device: `(losses, losses["total_loss"])`.
    """
    context = multi_replica_context()
    if context is None:
        return losses, losses["total_loss"]
    n = ops.cast(ops.shape(x)[0], "float32")
    names = sorted(losses)
    local = [  # an empty replica's means are NaN; it contributes nothing
        ops.where(n > 0, tf.stop_gradient(ops.cast(losses[k], "float32")), 0.0) * n
        for k in names
    ]
    totals = tf.stop_gradient(context.all_reduce(tf.distribute.ReduceOp.SUM, ops.stack([n, *local])))
    share = n / totals[0]
    objective = ops.where(n > 0, losses["total_loss"], 0.0) * share
    return {k: totals[i + 1] / totals[0] for i, k in enumerate(names)}, objective


def draw_posterior_sample(sampling, z_mean, z_log_var):
    """`z ~ N(z_mean, exp(z_log_var))` from `sampling`'s seed generator.

    On one device this is `sampling((z_mean, z_log_var))`. The generator's
    state is mirrored, so under a multi-replica strategy every replica would
    draw the same `eps`; the replica id is folded into the seed to give each
    its own noise.
    """
    context = multi_replica_context()
    if context is None:
        return sampling((z_mean, z_log_var))
    seed = tf.random.experimental.stateless_fold_in(
        ops.cast(sampling.seed_generator.next(), "int32"),
        ops.cast(context.replica_id_in_sync_group, "int32"),
    )
    eps = tf.random.stateless_normal(ops.shape(z_mean), seed=seed, dtype=z_mean.dtype)
    return z_mean + ops.exp(0.5 * z_log_var) * eps


def clipped_across_replicas(optimizer, gradients: list) -> list:
    """Makes gradient clipping act on the summed gradient of all replicas.

    Keras's optimizer clips each replica's gradient *before* summing them, so
    `clipnorm`/`clipvalue`/`global_clipnorm` would clip partial gradients.
    Under a multi-replica strategy with clipping set, this sums the gradients
    here, clips the sum as the optimizer would, and returns it divided by the
    number of replicas: the optimizer's own clipping then leaves it unchanged
    (its norm and values are below the limits) and its sum restores the
    clipped total. Otherwise returns `gradients` unchanged.
    """
    context = multi_replica_context()
    clips = any(getattr(optimizer, name, None) for name in ("clipnorm", "clipvalue", "global_clipnorm"))
    if context is None or not clips or getattr(optimizer, "gradient_accumulation_steps", None):
        return gradients
    present = [g for g in gradients if g is not None]
    summed = iter(keras_internals.clip_gradients(
        optimizer, context.all_reduce(tf.distribute.ReduceOp.SUM, present)))
    replicas = context.num_replicas_in_sync
    return [None if g is None else next(summed) / replicas for g in gradients]
