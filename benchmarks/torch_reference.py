"""PyTorch twins of betavae_tf's networks, losses and training step.

Used by `bench_train.py` as the reference that betavae_tf's throughput is
compared with. Each twin has exactly the layers, shapes, activations,
BatchNorm settings (eps 1e-3, momentum 0.01 = Keras's 0.99), dropout and
loss of the Keras network it mirrors, and is trained with
`torch.optim.Adam(lr, eps=1e-7)` (Keras's Adam defaults) on the same data
and batch size:

* `DenseVAE`: the default dense network (`build_dense_encoder` /
  `build_dense_decoder`), sum-of-squared-errors reconstruction.
* `ConvVAE`: `build_conv_encoder` / `build_conv_decoder` from a preset of
  `betavae_tf.presets.CONV_PRESETS` (`mnist`, `dsprites`, `faces`),
  Bernoulli-from-logits reconstruction summed over the pixels.
* `SpatialBroadcastVAE`: the disentanglement study's network,
  `build_mlp_encoder(shape, 10, units=256)` + `build_spatial_broadcast_decoder(
  shape, 10, units=32)`, Bernoulli reconstruction, trained with β-TCVAE's
  minibatch-stratified estimator (`tcvae_mss_decomposition`, a line-for-line
  copy of `betavae_tf.losses.tcvae_decomposition(..., estimator="mss")`).

Loss of a batch (as `BetaVAE.compute_losses`): per-example sums, averaged
over the batch, `total = reconstruction + beta * KL`; for the β-TCVAE twin
`total = reconstruction + alpha * MI + beta * TC + gamma_dw * DW` (batch
means; the analytic KL is still computed, as Keras logs it).

Padding. Keras's `padding="same"` pads (k - s) // 2 before and the rest
after. For kernel 4 / stride 2 (dSprites, faces) that is PyTorch's
symmetric `padding=1`, identical. For kernel 3 / stride 2 (MNIST) Keras pads
0 before and 1 after, which PyTorch cannot express without an extra
`F.pad`/crop. The benchmark (`exact_padding=False`) gives PyTorch the
idiomatic symmetric form instead (`padding=1`, and `output_padding=1` for
the transposed convolutions): same shapes, same FLOPs, a one-pixel shift of
the sampling grid, and no extra copy, so PyTorch is not slowed down.
`exact_padding=True` reproduces Keras's arithmetic exactly; with
`copy_keras_weights` the twin then computes the same outputs as the Keras
model (checked by `tests/test_benchmarks.py`).

Layout: PyTorch runs NCHW (its default); the images are transposed once,
before timing. The spatial broadcast decoder's per-pixel layers (Keras's 1×1
`Conv2D`) are `nn.Linear` layers on an NHWC tensor, PyTorch's fastest form of
them on a CPU (an NCHW 1×1 `nn.Conv2d` took twice as long here, a
channels-last one as long as `nn.Linear`); with one channel the NHWC logits
are the NCHW image's memory, so the loss needs no copy. Flatten/Reshape orders differ (NHWC vs NCHW), which only
matters when copying weights (`copy_keras_weights` permutes them).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # keras.layers.BatchNormalization default epsilon
BN_MOMENTUM = 0.01  # PyTorch's momentum = 1 - Keras's momentum (0.99)
ADAM_EPS = 1e-7  # keras.optimizers.Adam default epsilon
LEAKY_SLOPE = 0.2  # betavae_tf.networks.LEAKY_RELU_SLOPE
LOG_2PI = math.log(2.0 * math.pi)  # betavae_tf.losses.LOG_2PI


def _activation(name: str) -> nn.Module:
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE)
    return nn.ReLU()


class DenseVAE(nn.Module):
    """Twin of `BetaVAE(input_dim, encoding_dim, dropout_rate)` (the seed net)."""

    likelihood = "mse"

    def __init__(self, input_dim: int = 64, encoding_dim: int = 16, dropout_rate: float = 0.2):
        super().__init__()
        self.encoder_body = nn.Sequential(
            nn.Linear(input_dim, 64), nn.ReLU(),
            nn.BatchNorm1d(64, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.Dropout(dropout_rate),
            nn.Linear(64, 32), nn.ReLU(),
        )
        self.z_mean = nn.Linear(32, encoding_dim)
        self.z_log_var = nn.Linear(32, encoding_dim)
        self.decoder = nn.Sequential(
            nn.Linear(encoding_dim, 32), nn.ReLU(),
            nn.BatchNorm1d(32, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.Dropout(dropout_rate),
            nn.Linear(32, 64), nn.ReLU(),
            nn.Linear(64, input_dim),
        )

    def encode(self, x):
        h = self.encoder_body(x)
        return self.z_mean(h), self.z_log_var(h)

    def decode(self, z):
        return self.decoder(z)


class SameConv2d(nn.Module):
    """`Conv2D(padding="same")`; see the module docstring for `exact`."""

    def __init__(self, cin, cout, kernel_size, stride, bias, exact):
        super().__init__()
        total = max(kernel_size - stride, 0)
        self.pad = (total // 2, total - total // 2)
        symmetric = self.pad[0] == self.pad[1] or not exact
        self.explicit_pad = None if symmetric else (self.pad[0], self.pad[1]) * 2
        padding = (kernel_size - 1) // 2 if symmetric else 0
        if symmetric and exact:
            padding = self.pad[0]
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride, padding=padding, bias=bias)

    def forward(self, x):
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad)
        return self.conv(x)


class SameConvTranspose2d(nn.Module):
    """`Conv2DTranspose(padding="same")`: output size = input size × stride."""

    def __init__(self, cin, cout, kernel_size, stride, bias, exact):
        super().__init__()
        before = max(kernel_size - stride, 0) // 2
        output_padding = stride + 2 * before - kernel_size
        self.crop = None
        if exact and output_padding < 0:  # compute a larger map, drop the tail
            padding, output_padding, self.crop = before, 0, True
        elif exact:
            padding = before
        else:  # idiomatic PyTorch: symmetric padding, output_padding fixes the size
            padding = (kernel_size - 1) // 2
            output_padding = stride + 2 * padding - kernel_size
        self.stride = stride
        self.conv = nn.ConvTranspose2d(
            cin, cout, kernel_size, stride, padding=padding,
            output_padding=output_padding, bias=bias,
        )

    def forward(self, x):
        height, width = x.shape[-2] * self.stride, x.shape[-1] * self.stride
        x = self.conv(x)
        if self.crop:
            x = x[..., :height, :width]
        return x


def _block(layers: list, features: int, batch_norm: bool, activation: str, dropout: float, dims: int):
    if batch_norm:
        norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
        layers.append(norm(features, eps=BN_EPS, momentum=BN_MOMENTUM))
    layers.append(_activation(activation))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))


class ConvVAE(nn.Module):
    """Twin of `build_conv_beta_vae(preset)` (a `CONV_PRESETS` dict)."""

    def __init__(self, preset: dict, exact_padding: bool = False):
        super().__init__()
        height, width, channels = preset["input_shape"]
        filters = tuple(preset["filters"])
        k, s = preset["kernel_size"], preset["strides"]
        bn, act, drop = preset["batch_norm"], preset["activation"], preset["dropout_rate"]
        latent, dense_units = preset["encoding_dim"], preset["dense_units"]
        self.likelihood = preset["likelihood"]
        factor = s ** len(filters)
        self.bottleneck = (filters[-1], height // factor, width // factor)

        enc, cin = [], channels
        for f in filters:
            enc.append(SameConv2d(cin, f, k, s, bias=not bn, exact=exact_padding))
            _block(enc, f, bn, act, drop, 2)
            cin = f
        enc.append(nn.Flatten())
        features = filters[-1] * (height // factor) * (width // factor)
        if dense_units is not None:
            enc.append(nn.Linear(features, dense_units))
            _block(enc, dense_units, False, act, drop, 1)
            features = dense_units
        self.encoder_body = nn.Sequential(*enc)
        self.z_mean = nn.Linear(features, latent)
        self.z_log_var = nn.Linear(features, latent)

        dec_filters = filters[::-1]
        dec, features = [], latent
        if dense_units is not None:
            dec.append(nn.Linear(latent, dense_units))
            _block(dec, dense_units, False, act, drop, 1)
            features = dense_units
        self.start = (dec_filters[0], height // factor, width // factor)
        dec.append(nn.Linear(features, math.prod(self.start)))
        _block(dec, math.prod(self.start), False, act, drop, 1)
        dec.append(nn.Unflatten(1, self.start))
        cin = dec_filters[0]
        for f in dec_filters[1:]:
            dec.append(SameConvTranspose2d(cin, f, k, s, bias=not bn, exact=exact_padding))
            _block(dec, f, bn, act, drop, 2)
            cin = f
        dec.append(SameConvTranspose2d(cin, channels, k, s, bias=True, exact=exact_padding))
        self.decoder = nn.Sequential(*dec)

    def encode(self, x):
        h = self.encoder_body(x)
        return self.z_mean(h), self.z_log_var(h)

    def decode(self, z):
        return self.decoder(z)


class SpatialBroadcastVAE(nn.Module):
    """Twin of `BetaVAE(encoder=build_mlp_encoder(shape, encoding_dim, units=mlp_units),
    decoder=build_spatial_broadcast_decoder(shape, encoding_dim, units=sbd_units),
    likelihood="bernoulli", objective="tcvae", tcvae_estimator="mss")`.

    Encoder: Flatten → `hidden_layers` × (Linear(mlp_units) + ReLU) → the heads.
    Decoder: `z` tiled over the canvas with x/y coordinates in [-1, 1] (x
    along the width), then `hidden_layers` per-pixel Linear(sbd_units) + ReLU
    and a per-pixel linear Linear(channels). The coordinates are a buffer,
    built once.

    `split_first_layer=True` computes the first per-pixel layer as
    `broadcast(z @ W_z + b) + coords @ W_c` instead of on the concatenation
    (the same numbers up to rounding, no tiled tensor): the trick betavae_tf's
    fast decoder uses, for a PyTorch twin with the same algorithm.
    """

    likelihood = "bernoulli"
    objective = "tcvae"

    def __init__(self, image_shape=(64, 64, 1), encoding_dim: int = 10, mlp_units: int = 256,
                 sbd_units: int = 32, hidden_layers: int = 2, dataset_size: int = 1,
                 alpha: float = 1.0, gamma_dw: float = 1.0, split_first_layer: bool = False):
        super().__init__()
        height, width, channels = image_shape
        self.image_shape = (height, width, channels)
        self.encoding_dim = encoding_dim
        self.dataset_size, self.alpha, self.gamma_dw = dataset_size, alpha, gamma_dw
        self.split_first_layer = split_first_layer
        enc, features = [nn.Flatten()], height * width * channels
        for _ in range(hidden_layers):
            enc += [nn.Linear(features, mlp_units), nn.ReLU()]
            features = mlp_units
        self.encoder_body = nn.Sequential(*enc)
        self.z_mean = nn.Linear(features, encoding_dim)
        self.z_log_var = nn.Linear(features, encoding_dim)
        xs = torch.linspace(-1.0, 1.0, width)
        ys = torch.linspace(-1.0, 1.0, height)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        self.register_buffer("coordinates", torch.stack([grid_x, grid_y], dim=-1), persistent=False)
        pixel, features = [], encoding_dim + 2
        for _ in range(hidden_layers):
            pixel.append(nn.Linear(features, sbd_units))
            features = sbd_units
        self.pixel = nn.ModuleList(pixel)
        self.reconstruction = nn.Linear(features, channels)
        self.decoder = nn.ModuleList([*self.pixel, self.reconstruction])  # for weight copying

    def encode(self, x):
        h = self.encoder_body(x)
        return self.z_mean(h), self.z_log_var(h)

    def decode(self, z):
        batch, dim = z.shape
        height, width, _ = self.image_shape
        first = self.pixel[0]
        if self.split_first_layer:
            per_example = F.linear(z, first.weight[:, :dim], first.bias)  # (B, units)
            per_pixel = self.coordinates @ first.weight[:, dim:].t()  # (H, W, units)
            h = torch.relu(per_example[:, None, None, :] + per_pixel)
        else:
            tiled = z[:, None, None, :].expand(batch, height, width, dim)
            grid = self.coordinates.expand(batch, height, width, 2)
            h = torch.relu(first(torch.cat([tiled, grid], dim=-1)))  # (B, H, W, units)
        for layer in self.pixel[1:]:
            h = torch.relu(layer(h))
        return self.reconstruction(h).permute(0, 3, 1, 2)  # NHWC logits, seen as NCHW


def gaussian_log_density(z, mean, log_var):
    """`betavae_tf.losses.gaussian_log_density`."""
    return -0.5 * (LOG_2PI + log_var + torch.square(z - mean) * torch.exp(-log_var))


def tcvae_mss_decomposition(z, z_mean, z_log_var, dataset_size: int):
    """Per-example `(MI, TC, DW)` by minibatch-stratified sampling, as
    `betavae_tf.losses.tcvae_decomposition(..., estimator="mss")`."""
    batch = z.shape[0]
    log_q_z_given_x = gaussian_log_density(z, z_mean, z_log_var).sum(dim=1)
    log_p_z = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(dim=1)
    matrix = gaussian_log_density(z[:, None, :], z_mean[None], z_log_var[None])  # (M, M, D)
    eye = torch.eye(batch, dtype=z.dtype)
    neighbour = torch.roll(eye, 1, dims=1)
    others = max(batch - 1.0, 1.0)
    n = float(dataset_size)
    rest = torch.clamp(1.0 - eye - neighbour, min=0.0)
    log_weights = torch.log(eye / n + neighbour * max(n - others, 0.0) / (n * others) + rest / others)
    log_q_z = torch.logsumexp(log_weights + matrix.sum(dim=2), dim=1)
    log_q_z_product = torch.logsumexp(log_weights[:, :, None] + matrix, dim=1).sum(dim=1)
    return log_q_z_given_x - log_q_z, log_q_z - log_q_z_product, log_q_z_product - log_p_z


def losses(model: nn.Module, x: torch.Tensor, beta: float = 1.0, noise=None):
    """`(total, reconstruction, kl)` of one batch, as `BetaVAE.compute_losses`.

    `noise`: the standard normal draw of the reparameterisation (a fresh
    `torch.randn_like` when `None`)."""
    z_mean, z_log_var = model.encode(x)
    noise = torch.randn_like(z_mean) if noise is None else noise
    z = z_mean + torch.exp(0.5 * z_log_var) * noise
    decoded = model.decode(z)
    batch = x.shape[0]
    if model.likelihood == "bernoulli":
        reconstruction = F.binary_cross_entropy_with_logits(decoded, x, reduction="sum") / batch
    else:  # "mse": sum of squared errors per example
        reconstruction = torch.sum(torch.square(x - decoded)) / batch
    kl = -0.5 * torch.sum(1.0 + z_log_var - torch.square(z_mean) - torch.exp(z_log_var)) / batch
    if getattr(model, "objective", "beta") == "tcvae":
        mi, tc, dw = (term.mean() for term in
                      tcvae_mss_decomposition(z, z_mean, z_log_var, model.dataset_size))
        return reconstruction + model.alpha * mi + beta * tc + model.gamma_dw * dw, reconstruction, kl
    return reconstruction + beta * kl, reconstruction, kl


class Trainer:
    """A plain PyTorch training loop, the counterpart of `train_vae`'s `fit`.

    Each epoch draws a fresh permutation (`torch.randperm`) and gathers every
    batch with it (like Keras's shuffled array adapter), runs forward,
    backward and `Adam.step`, and accumulates the three losses on the tensor
    side (one `.item()` per epoch, like Keras's metric trackers). The last,
    smaller batch is kept, as in Keras.

    Args:
        model: a `DenseVAE`, `ConvVAE` or `SpatialBroadcastVAE`.
        x: the training data, a float32 tensor (NCHW for images).
        batch_size: examples per step.
        learning_rate: Adam's learning rate.
        beta: KL weight.
        compile: also `torch.compile` the training step (needs a C++
            compiler; the first epoch then includes compilation).
    """

    def __init__(self, model, x, batch_size, learning_rate=1e-3, beta=1.0, compile=False):
        self.model = model.train()
        self.x = x
        self.batch_size = batch_size
        self.beta = beta
        self.optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, eps=ADAM_EPS)
        self.step = self._step
        if compile:
            self.step = torch.compile(self._step)
        self.last_losses = None

    def _step(self, batch):
        self.optimizer.zero_grad(set_to_none=True)
        total, reconstruction, kl = losses(self.model, batch, self.beta)
        total.backward()
        self.optimizer.step()
        return torch.stack([total.detach(), reconstruction.detach(), kl.detach()])

    def epoch(self) -> dict:
        n = self.x.shape[0]
        order = torch.randperm(n)
        sums = torch.zeros(3)
        steps = 0
        for start in range(0, n, self.batch_size):
            batch = self.x[order[start : start + self.batch_size]]
            sums += self.step(batch)
            steps += 1
        total, reconstruction, kl = (sums / steps).tolist()
        self.last_losses = {"loss": total, "reconstruction_loss": reconstruction, "kl_loss": kl}
        return self.last_losses


def build_twin(model_name: str, preset: dict | None = None, exact_padding: bool = False,
               input_dim: int = 64, encoding_dim: int = 16, dropout_rate: float = 0.2,
               **sbd_options):
    """`DenseVAE` for `"dense"`, `SpatialBroadcastVAE(**sbd_options)` for
    `"sbd"`, else `ConvVAE(preset)`."""
    if model_name == "dense":
        return DenseVAE(input_dim, encoding_dim, dropout_rate)
    if model_name == "sbd":
        return SpatialBroadcastVAE(**sbd_options)
    return ConvVAE(preset, exact_padding=exact_padding)


def to_torch_layout(x: np.ndarray) -> torch.Tensor:
    """The same values as a contiguous float32 tensor, NHWC images as NCHW."""
    if x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return torch.from_numpy(np.asarray(x, dtype=np.float32))


# ------------------------------------------------------------ weight copying
def _keras_layers_with_weights(model) -> list:
    """Layers of a functional Keras model that hold weights, in graph order."""
    return [layer for layer in model.layers if layer.weights]


def _torch_modules_with_weights(module: nn.Module) -> list:
    found = []
    for child in module.modules():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d)):
            found.append(child)
    return found


def _copy_layer(keras_layer, module, flatten_from=None, unflatten_to=None):
    weights = [np.asarray(w) for w in keras_layer.get_weights()]
    with torch.no_grad():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            gamma, beta, mean, var = weights
            module.weight.copy_(torch.from_numpy(gamma))
            module.bias.copy_(torch.from_numpy(beta))
            module.running_mean.copy_(torch.from_numpy(mean))
            module.running_var.copy_(torch.from_numpy(var))
            return
        kernel = weights[0]
        if isinstance(module, nn.Linear):
            if kernel.ndim == 4:  # a 1×1 convolution (1, 1, in, out) applied per pixel
                kernel = kernel.reshape(kernel.shape[-2], kernel.shape[-1])
            if flatten_from is not None:  # rows in NHWC order -> NCHW order
                h, w, c = flatten_from
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            if unflatten_to is not None:  # columns in NHWC order -> NCHW order
                h, w, c = unflatten_to
                kernel = kernel.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(-1, h * w * c)
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
            if len(weights) > 1:
                bias = weights[1]
                if unflatten_to is not None:
                    h, w, c = unflatten_to
                    bias = bias.reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
                module.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
            return
        # Conv2D (k, k, in, out) -> (out, in, k, k); Conv2DTranspose (k, k, out, in)
        # -> (in, out, k, k): the same axis permutation, no spatial flip.
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
        if len(weights) > 1:
            module.bias.copy_(torch.from_numpy(weights[1]))


def copy_keras_weights(keras_model, twin: nn.Module) -> None:
    """Copies a `BetaVAE`'s weights (and BatchNorm statistics) into its twin."""
    for part, torch_parts in (
        (keras_model.encoder, [twin.encoder_body, twin.z_mean, twin.z_log_var]),
        (keras_model.decoder, [twin.decoder]),
    ):
        keras_layers = _keras_layers_with_weights(part)
        modules = [m for p in torch_parts for m in _torch_modules_with_weights(p)]
        if len(keras_layers) != len(modules):
            raise ValueError(f"{len(keras_layers)} Keras layers but {len(modules)} torch modules")
        for keras_layer, module in zip(keras_layers, modules):
            flatten_from = unflatten_to = None
            if isinstance(twin, ConvVAE) and isinstance(module, nn.Linear):
                c, h, w = twin.bottleneck
                if part is keras_model.encoder and module.in_features == c * h * w:
                    flatten_from = (h, w, c)  # fed by the Flatten of the last conv map
                if keras_layer.name == "dec_project":
                    c0, h0, w0 = twin.start
                    unflatten_to = (h0, w0, c0)  # feeds the Reshape
            if isinstance(twin, SpatialBroadcastVAE) and module is twin.encoder_body[1]:
                flatten_from = twin.image_shape  # the Flatten of the NCHW image
            _copy_layer(keras_layer, module, flatten_from, unflatten_to)


