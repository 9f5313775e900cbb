"""Ready-made convolutional β-VAEs for MNIST, dSprites and faces.

A preset is a plain dict of `build_conv_encoder` / `build_conv_decoder`
arguments plus the likelihood; the decoder mirrors the encoder (its filters
are the encoder's in reverse). `build_conv_beta_vae` turns a preset, with any
key overridden, into a `BetaVAE`:

>>> model = build_conv_beta_vae("mnist", beta=4.0, encoding_dim=8, filters=(8, 16))
>>> model.feature_shape, model.encoding_dim
((28, 28, 1), 8)
"""

from __future__ import annotations

import copy
import inspect

from betavae_tf.models import BetaVAE
from betavae_tf.networks import _check_filters, build_conv_decoder, build_conv_encoder
from betavae_tf.validation import check_choice

CONV_PRESETS: dict[str, dict] = {
    # MNIST digits, 28×28 grey levels in [0, 1]: a conv encoder → dense →
    # (μ, log σ²) and dense → transposed-conv decoder, small enough for a few
    # seconds per epoch on a laptop CPU; 32 latent dimensions so that low-β
    # models can still reconstruct sharply.
    "mnist": {
        "input_shape": (28, 28, 1),
        "encoding_dim": 32,
        "filters": (32, 64),
        "kernel_size": 3,
        "strides": 2,
        "dense_units": 256,
        "batch_norm": False,
        "activation": "relu",
        "dropout_rate": 0.0,
        "likelihood": "bernoulli",
    },
    # dSprites, 64×64 binary shapes (seed 002): 3 × Conv2D 32→64→128 with
    # BatchNorm, LeakyReLU and Dropout; 16-d latent; Dense → 3 × Conv2DTranspose.
    "dsprites": {
        "input_shape": (64, 64, 1),
        "encoding_dim": 16,
        "filters": (32, 64, 128),
        "kernel_size": 4,
        "strides": 2,
        "dense_units": None,
        "batch_norm": True,
        "activation": "leaky_relu",
        "dropout_rate": 0.2,
        "likelihood": "bernoulli",
    },
    # Faces, 64×64 RGB in [0, 1] (seed 004): 4 × Conv2D 32→64→128→256 with
    # BatchNorm and LeakyReLU, 128-d latent, mirrored 4 × Conv2DTranspose
    # decoder. The usual final sigmoid is the "bernoulli" likelihood's mean.
    "faces": {
        "input_shape": (64, 64, 3),
        "encoding_dim": 128,
        "filters": (32, 64, 128, 256),
        "kernel_size": 4,
        "strides": 2,
        "dense_units": None,
        "batch_norm": True,
        "activation": "leaky_relu",
        "dropout_rate": 0.0,
        "likelihood": "bernoulli",
    },
}


def conv_preset(name: str) -> dict:
    """A copy of the preset called `name` (see `CONV_PRESETS`).

    Raises:
        ValueError: if there is no such preset; the message lists them.
    """
    return copy.deepcopy(check_choice("preset", name, CONV_PRESETS))


def build_conv_beta_vae(
    preset: str = "mnist",
    beta: float = 1.0,
    likelihood: str | None = None,
    seed: int | None = None,
    **overrides,
) -> BetaVAE:
    """A convolutional `BetaVAE` built from a preset.

    Keys of the preset configure the networks; any other keyword is passed to
    `BetaVAE` (e.g. `objective="tcvae", dataset_size=30000`).

    Args:
        preset: a name in `CONV_PRESETS` (`"mnist"`, `"dsprites"`, `"faces"`).
            Defaults to `"mnist"`.
        beta: weight of the KL term. Defaults to 1.0.
        likelihood: reconstruction likelihood; `None` (default) takes the
            preset's (`"bernoulli"` for all three).
        seed: optional integer making the model's sampling reproducible.
        **overrides: replace preset keys: `input_shape`, `encoding_dim`,
            `filters` (the encoder's; the decoder uses them reversed),
            `kernel_size`, `strides`, `dense_units`, `batch_norm`,
            `activation`, `dropout_rate`; other `BetaVAE` arguments
            (`objective`, `free_bits`, ...) go to the model.

    Returns:
        A `BetaVAE` with `encoder` and `decoder` built by `build_conv_encoder`
        and `build_conv_decoder`.

    Raises:
        ValueError: for an unknown preset or override key, or bad sizes.
    """
    config = conv_preset(preset)
    network_keys = set(config) - {"likelihood"}
    model_keys = set(inspect.signature(BetaVAE.__init__).parameters) - {
        "self", "input_dim", "encoding_dim", "beta", "dropout_rate", "likelihood",
        "encoder", "decoder", "seed", "kwargs",
    }
    unknown = sorted(set(overrides) - network_keys - model_keys)
    if unknown:
        raise ValueError(
            f"Unknown override(s) {unknown} for preset {preset!r}; valid keys "
            f"are {sorted(network_keys)} and the BetaVAE options {sorted(model_keys)} "
            "(pass likelihood= as its own argument)."
        )
    model_options = {key: overrides.pop(key) for key in list(overrides) if key in model_keys}
    config.update(overrides)
    if likelihood is None:
        likelihood = config["likelihood"]
    image_shape = config["input_shape"]
    filters = _check_filters(config["filters"])
    options = {
        key: config[key]
        for key in ("encoding_dim", "kernel_size", "strides", "dense_units",
                    "batch_norm", "activation", "dropout_rate")
    }
    # The decoder first, so a size that cannot be mirrored fails before any work.
    decoder = build_conv_decoder(
        image_shape, filters=filters[::-1], **options
    )
    encoder = build_conv_encoder(image_shape, filters=filters, **options)
    return BetaVAE(
        encoder=encoder,
        decoder=decoder,
        likelihood=likelihood,
        beta=beta,
        dropout_rate=config["dropout_rate"],
        seed=seed,
        **model_options,
    )
