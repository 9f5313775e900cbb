"""Small models and data shared by the tests of `betavae_tf.plots`."""

import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from betavae_tf import BetaVAE

RNG = np.random.default_rng(0)
X_DENSE = RNG.normal(size=(12, 16)).astype("float32")
X_CONV = RNG.uniform(size=(12, 8, 8, 1)).astype("float32")


def conv_vae(latent=3):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.Flatten()(h)
    encoder = keras.Model(inputs, [keras.layers.Dense(latent)(h), keras.layers.Dense(latent)(h)])
    z = keras.Input((latent,))
    h = keras.layers.Reshape((4, 4, 4))(keras.layers.Dense(64, activation="relu")(z))
    decoder = keras.Model(z, keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h))
    return BetaVAE(encoder=encoder, decoder=decoder, likelihood="bernoulli")


def build(kind, seed, latent=3):
    """A model of `kind` with large random weights drawn from `seed`, so that even
    untrained its reconstructions and samples vary visibly between models."""
    keras.utils.set_random_seed(seed)
    model = BetaVAE(input_dim=16, encoding_dim=latent) if kind == "dense" else conv_vae(latent)
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.path.endswith("moving_variance"):
            weight.assign(rng.uniform(0.5, 2.0, weight.shape))
        elif weight.trainable:
            weight.assign(rng.normal(0, 0.6, weight.shape))
    return model


def informative_model():
    """Dense model whose latent means are the constants (0, 3, 1) and variances 1:
    KL per dimension (0, 4.5, 0.5) nats."""
    keras.utils.set_random_seed(5)
    model = BetaVAE(input_dim=16, encoding_dim=3)
    for name, bias in (("z_mean", [0.0, 3.0, 1.0]), ("z_log_var", [0.0, 0.0, 0.0])):
        layer = model.encoder.get_layer(name)
        layer.kernel.assign(np.zeros(layer.kernel.shape))
        layer.bias.assign(bias)
    return model


def data(kind):
    return X_DENSE if kind == "dense" else X_CONV


def numpy_of(tensor):
    return keras.ops.convert_to_numpy(tensor)


def mosaic_of(figure):
    """The RGBA grid the picture functions draw with a single imshow."""
    return np.asarray(figure.axes[0].images[0].get_array())


def cell(mosaic, row, col, size=8):
    """Gray value of grid cell (row, col) of a mosaic of size x size images."""
    rows = round((mosaic.shape[0] + 1) / (size + 1))  # pad is 1 pixel for 8-pixel cells
    assert mosaic.shape[0] == rows * (size + 1) - 1
    top, left = row * (size + 1), col * (size + 1)
    return mosaic[top : top + size, left : left + size, 0]


def assert_every_text_inside(figure):
    """No title, label, tick label or legend is cut off at the figure's edges: the
    tight box of everything drawn lies inside the figure."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # runs the layout, as saving or showing the figure does
    box = figure.get_tightbbox(canvas.get_renderer())  # inches
    width, height = figure.get_size_inches()
    tolerance = 0.01
    assert box.x0 >= -tolerance and box.y0 >= -tolerance, box
    assert box.x1 <= width + tolerance and box.y1 <= height + tolerance, (box.bounds, width, height)
