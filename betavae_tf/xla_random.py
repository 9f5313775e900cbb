"""TensorFlow's CPU random numbers, drawn inside XLA programs.

Keras's TensorFlow backend draws its noise with `tf.random.stateless_*`
(Philox on a CPU). Compiled with XLA, the same ops and seeds give *other*
numbers: XLA generates the same Philox bits but turns them into floats its
own way (the high 23 bits as the mantissa where TensorFlow's kernels take the
low 23 bits, and an inverse-CDF normal where they use Box–Muller), and XLA's
own random-bit generator is slow on a CPU. So that a compiled epoch
(`betavae_tf.epoch_loop`) trains on exactly the noise of the uncompiled path,
the functions here rebuild TensorFlow's CPU kernels from plain integer and
float ops that XLA compiles into fast vectorised loops:

* `philox_bits`: Philox-4x32-10 with the key and counter of
  `StatelessRandomGetKeyCounter`, group `g` of 4 words from counter + g —
  bit for bit the words `StatelessRandomUniformFullIntV2` returns;
* `uniform`: `(bits & 0x7FFFFF) | 0x3F800000` read as a float, minus 1 —
  bit for bit `tf.random.stateless_uniform` (float32) on a CPU;
* `normal`: TensorFlow's Box–Muller on consecutive pairs of words,
  `sqrt(-2 log u₁) · (sin, cos)(2π u₂)` (2π u₂ rounded to float32 from
  double, as TensorFlow's C++ does), sine and cosine from float64 Taylor
  series: within 3 ulp of `tf.random.stateless_normal` on a CPU (about 92 %
  of the values are identical; glibc's `sincosf` and XLA's `log` are not
  correctly rounded everywhere);
* `dropout`: `tf.nn.experimental.stateless_dropout`'s arithmetic on
  `uniform`: the same kept units and the same values.

The seeds must be non-negative int32 pairs (all that Keras's seed generators
give; XLA derives a different key from negative seeds). Only float32 with
static shapes is rebuilt; `keras_backend_random` leaves other calls to Keras.
"""

from __future__ import annotations

import contextlib
import math

import tensorflow as tf

from betavae_tf import keras_internals

_LOW_32 = 0xFFFFFFFF
_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
_ROUNDS_PER_ITERATION = 5  # 10 rounds in a 2-iteration loop (see philox_bits)
# float64 Taylor coefficients of sin(t)/t and cos(t) in t², |t| <= π: < 1e-15 error
_SIN = [(-1) ** k / math.factorial(2 * k + 1) for k in range(14)]
_COS = [(-1) ** k / math.factorial(2 * k) for k in range(14)]


def _u32(x):
    return tf.cast(x, tf.uint32)


def _high(x):
    return _u32(tf.bitwise.right_shift(x, tf.constant(32, tf.uint64)))


def _low(x):
    return _u32(tf.bitwise.bitwise_and(x, tf.constant(_LOW_32, tf.uint64)))


def _xor(a, b, c):
    return tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(a, b), c)


def philox_bits(n: int, seed) -> tf.Tensor:
    """The first `n` uint32 words TensorFlow's CPU Philox gives for `seed`.

    Args:
        n: number of words (a Python int).
        seed: int32 tensor of shape `(2,)`, non-negative.

    Returns:
        uint32 tensor of shape `(n,)`.
    """
    key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
    groups = (n + 3) // 4
    # Group g runs Philox on the 128-bit counter + g (TensorFlow's Skip(g)).
    low = counter[0] + tf.cast(tf.range(groups, dtype=tf.int64), tf.uint64)
    high = counter[1] + tf.cast(low < counter[0], tf.uint64)
    words = tf.stack([_low(low), _high(low), _low(high), _high(high)])
    key_0, key_1 = _low(key[0]), _high(key[0])

    # The rounds run in a loop: unrolled, XLA fuses all ten into one loop
    # that recomputes shared terms and was 100x slower.
    def rounds(i, words, key_0, key_1):
        c0, c1, c2, c3 = words[0], words[1], words[2], words[3]
        for _ in range(_ROUNDS_PER_ITERATION):
            p0 = tf.cast(c0, tf.uint64) * tf.constant(_MULTIPLIERS[0], tf.uint64)
            p1 = tf.cast(c2, tf.uint64) * tf.constant(_MULTIPLIERS[1], tf.uint64)
            c0, c1, c2, c3 = _xor(_high(p1), c1, key_0), _low(p1), _xor(_high(p0), c3, key_1), _low(p0)
            key_0 = key_0 + tf.constant(_KEY_STEPS[0], tf.uint32)
            key_1 = key_1 + tf.constant(_KEY_STEPS[1], tf.uint32)
        return i + 1, tf.stack([c0, c1, c2, c3]), key_0, key_1

    iterations = 10 // _ROUNDS_PER_ITERATION
    words = tf.while_loop(lambda i, *_: i < iterations, rounds,
                          (tf.constant(0), words, key_0, key_1))[1]
    return tf.reshape(tf.transpose(words), [-1])[:n]


def _unit_floats(bits):
    """TensorFlow's `Uint32ToFloat`: the low 23 bits as a float in [0, 1)."""
    mantissa = tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(bits, tf.constant(0x7FFFFF, tf.uint32)),
                                     tf.constant(0x3F800000, tf.uint32))
    return tf.bitcast(mantissa, tf.float32) - 1.0


def _size(shape) -> int:
    size = 1
    for dimension in shape:
        size *= int(dimension)
    return size


def uniform(shape, seed, minval=0.0, maxval=1.0) -> tf.Tensor:
    """`tf.random.stateless_uniform(shape, seed, minval, maxval)` (float32, CPU)."""
    rnd = tf.reshape(_unit_floats(philox_bits(_size(shape), seed)), shape)
    minval = tf.cast(minval, tf.float32)
    return rnd * (tf.cast(maxval, tf.float32) - minval) + minval


def normal(shape, seed, mean=0.0, stddev=1.0) -> tf.Tensor:
    """`tf.random.stateless_normal(shape, seed, mean, stddev)` (float32, CPU)."""
    n = _size(shape)
    pairs = tf.reshape(philox_bits(2 * ((n + 1) // 2), seed), [-1, 2])
    u1 = tf.maximum(_unit_floats(pairs[:, 0]), 1e-7)
    angle = tf.cast(2.0 * math.pi * tf.cast(_unit_floats(pairs[:, 1]), tf.float64), tf.float32)
    radius = tf.sqrt(-2.0 * tf.math.log(u1))
    t = tf.cast(angle, tf.float64) - math.pi  # sin(a) = -sin(a - π), cos(a) = -cos(a - π)
    t2 = t * t
    sin = tf.cast(-t * _polynomial(t2, _SIN), tf.float32)
    cos = tf.cast(-_polynomial(t2, _COS), tf.float32)
    rnd = tf.reshape(tf.reshape(tf.stack([sin * radius, cos * radius], axis=1), [-1])[:n], shape)
    return rnd * tf.cast(stddev, tf.float32) + tf.cast(mean, tf.float32)


def _polynomial(x, coefficients):
    result = tf.constant(coefficients[-1], tf.float64)
    for coefficient in reversed(coefficients[:-1]):
        result = result * x + coefficient
    return result


def dropout(inputs, rate: float, seed, noise_shape=None) -> tf.Tensor:
    """`tf.nn.experimental.stateless_dropout(inputs, rate, seed, noise_shape)` (float32, CPU)."""
    shape = inputs.shape if noise_shape is None else noise_shape
    scaled = inputs * tf.constant(1 / (1 - rate), inputs.dtype)
    keep = uniform(shape, seed) >= rate
    return tf.where(keep, scaled, tf.zeros((), inputs.dtype))


def _static(shape):
    """`shape` as Python ints, or `None` when a dimension is unknown."""
    try:
        dimensions = tuple(shape)
    except TypeError:  # a shape tensor
        return None
    if any(not isinstance(d, int) for d in dimensions):
        return None
    return dimensions


@contextlib.contextmanager
def keras_backend_random():
    """Within the block, Keras's TensorFlow backend draws `normal`, `uniform`
    and `dropout` noise through this module (float32, static shapes; other
    calls go to Keras as usual). Used while tracing a compiled epoch."""
    original = keras_internals.tensorflow_random_functions()
    seed_of = keras_internals.tensorflow_random_seed

    def keras_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        static = _static(shape)
        if static is None or (dtype or "float32") != "float32":
            return original["normal"](shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)
        return normal(static, seed_of(seed), mean, stddev)

    def keras_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        static = _static(shape)
        if static is None or (dtype or "float32") != "float32":
            return original["uniform"](shape, minval=minval, maxval=maxval, dtype=dtype, seed=seed)
        return uniform(static, seed_of(seed), minval, maxval)

    def keras_dropout(inputs, rate, noise_shape=None, seed=None):
        if noise_shape is None:
            shape = _static(inputs.shape)
        else:
            shape = _static(d if d is not None else s for d, s in zip(noise_shape, inputs.shape))
        if (shape is None or inputs.dtype != tf.float32 or not isinstance(rate, (int, float))
                or not 0.0 < rate < 1.0):
            return original["dropout"](inputs, rate, noise_shape=noise_shape, seed=seed)
        return dropout(inputs, float(rate), seed_of(seed), shape)

    with keras_internals.tensorflow_random_functions_replaced(
        normal=keras_normal, uniform=keras_uniform, dropout=keras_dropout
    ):
        yield
