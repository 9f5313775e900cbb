"""`FusedAdam`: Keras's Adam, updating each variable with one TensorFlow kernel.

Keras 3 builds Adam's update from about twenty small ops per variable (casts,
powers, three reads and three assignments). For the small networks of a
β-VAE study on a CPU, running those hundreds of tiny ops is a large share of
the training step (docs/speed.md: the default dense network trained 26 % more
examples per second with the fused update). TensorFlow's `ResourceApplyAdam` kernel does
the same update in one op:

    alpha = lr · sqrt(1 - β₂ᵗ) / (1 - β₁ᵗ)
    m += (g - m) · (1 - β₁)
    v += (g² - v) · (1 - β₂)
    θ -= alpha · m / (sqrt(v) + ε)

which is Keras's `Adam.update_step` term for term, with the same slot
variables, so models and checkpoints are interchangeable. Everything else
(gradient clipping, weight decay, EMA, gradient accumulation, learning-rate
schedules, the iteration counter) stays in Keras's `Optimizer.apply`. The
fused kernel is skipped, and Keras's own update used, where it does not
apply: `amsgrad=True`, a `tf.distribute` strategy (Keras's update does the
cross-replica sum), sparse (`IndexedSlices`) gradients, or a gradient whose
dtype differs from its variable's.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from betavae_tf import keras_internals


@keras.saving.register_keras_serializable(package="betavae_tf")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update runs one fused kernel per variable.

    Same arguments, same configuration, same slot variables and the same
    update as `keras.optimizers.Adam` (see the module docstring for when it
    falls back to Keras's update); only faster on small networks. It is
    `train_vae`'s default optimizer.

    Example:
    >>> import numpy as np
    >>> optimizer = FusedAdam(learning_rate=0.1)
    >>> weight = keras.Variable(np.ones(2, "float32"))
    >>> optimizer.apply([np.ones(2, "float32")], [weight])
    >>> [round(float(w), 3) for w in weight.numpy()]
    [0.9, 0.9]
    """

    # Keras's private per-variable update hook (see betavae_tf.keras_internals).
    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        pairs = list(zip(grads, trainable_variables))
        sparse_or_cast = any(
            isinstance(g, tf.IndexedSlices) or g.dtype != v.dtype for g, v in pairs
        )
        if self.amsgrad or tf.distribute.has_strategy() or sparse_or_cast:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        constants = {}  # one β₁ᵗ, β₂ᵗ, lr, ... per dtype, shared by the variables
        step = self.iterations + 1
        for gradient, variable in pairs:
            dtype = variable.dtype
            if dtype not in constants:
                beta_1 = tf.constant(self.beta_1, dtype)
                beta_2 = tf.constant(self.beta_2, dtype)
                local_step = tf.cast(step, dtype)
                constants[dtype] = dict(
                    beta1_power=tf.pow(beta_1, local_step),
                    beta2_power=tf.pow(beta_2, local_step),
                    lr=tf.cast(learning_rate, dtype),
                    beta1=beta_1,
                    beta2=beta_2,
                    epsilon=tf.constant(self.epsilon, dtype),
                )
            m, v = keras_internals.adam_slots(self, variable)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle,
                m=m.handle,
                v=v.handle,
                grad=gradient,
                **constants[dtype],
            )
        return None
