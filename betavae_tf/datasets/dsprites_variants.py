"""Colour and noisy dSprites: disentanglement_lib's RGB variants of dSprites.

Both keep dSprites' 5 factors and index arithmetic and add randomness that
is not a factor, drawn from the `rng` given to
`sample_observations_from_factors`; the sprites themselves come from any
dSprites source (`DSprites()`, rendered, or `load_dsprites(path)`):

* `ColorDSprites`: the white sprite is multiplied by one colour per image,
  each RGB channel uniform in [0.5, 1]; the background stays black.
* `NoisyDSprites`: the background is replaced by uniform noise in [0, 1]
  per pixel and channel; sprite pixels stay white (1).

As in disentanglement_lib (`ColorDSprites` / `NoisyDSprites` of
`data/ground_truth/dsprites.py`), the draws are
`rng.uniform(0.5, 1, (n, 1, 1, 3))` and `rng.uniform(0, 1, (n, H, W, 3))`,
so a `np.random.RandomState` in the same state gives the same colours and
noise as there.
"""

from __future__ import annotations

import numpy as np

from betavae_tf.datasets.dsprites import DSprites, _DSpritesIndex
from betavae_tf.datasets.ground_truth import GroundTruthData, RandomState, check_rng


class _DSpritesVariant(GroundTruthData):
    """dSprites factors, RGB observations; subclasses say how to colour sprites."""

    def __init__(self, dsprites: _DSpritesIndex | None = None):
        if dsprites is None:
            dsprites = DSprites()
        if not isinstance(dsprites, _DSpritesIndex):
            raise ValueError(
                "dsprites must be DSprites() or the result of load_dsprites(path). "
                f"Received: {type(dsprites).__name__}"
            )
        self.dsprites = dsprites

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """dSprites' factors: `(3, 6, 40, 32, 32)` (shape, scale, orientation, posX, posY)."""
        return self.dsprites.factor_sizes

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """`(64, 64, 3)`: dSprites' image size with 3 channels."""
        return tuple(self.dsprites.observation_shape[:-1]) + (3,)

    @property
    def num_images(self) -> int:
        """Number of factor combinations (737,280)."""
        return self.dsprites.num_images

    def __len__(self) -> int:
        return self.num_images

    def _colorize(self, sprites: np.ndarray, rng: RandomState) -> np.ndarray:
        raise NotImplementedError

    def sample_observations_from_factors(self, factors, rng: RandomState) -> np.ndarray:
        """RGB images of `(n, 5)` factors: float32 `(n, 64, 64, 3)` in [0, 1].

        Args:
            factors: int array `(n, 5)` (shape, scale, orientation, posX, posY).
            rng: a `np.random.RandomState` or `np.random.Generator`; it draws
                the colours or the noise, so the same factors give other
                images with another seed (the sprites stay the same).
        """
        rng = check_rng(rng)
        sprites = self.dsprites.sample_observations_from_factors(factors)
        return self._colorize(sprites, rng).astype(np.float32)


class ColorDSprites(_DSpritesVariant):
    """dSprites whose sprites have a random colour, uniform in [0.5, 1] per channel.

    Args:
        dsprites: the sprite source, `DSprites()` (default, rendered) or
            `load_dsprites(path)` (the official file).

    Example:
        >>> data = ColorDSprites()
        >>> data.factor_sizes, data.observation_shape
        ((3, 6, 40, 32, 32), (64, 64, 3))
        >>> factors, images = data.sample(4, np.random.RandomState(0))
        >>> images.shape, images.dtype, bool(images.max() <= 1)
        ((4, 64, 64, 3), dtype('float32'), True)
    """

    def _colorize(self, sprites: np.ndarray, rng: RandomState) -> np.ndarray:
        colors = rng.uniform(0.5, 1.0, (len(sprites), 1, 1, 3))
        return sprites * colors  # (n, H, W, 1) * (n, 1, 1, 3)


class NoisyDSprites(_DSpritesVariant):
    """dSprites on a background of uniform noise in [0, 1]; sprite pixels are 1.

    Args:
        dsprites: the sprite source, `DSprites()` (default, rendered) or
            `load_dsprites(path)` (the official file).

    Example:
        >>> data = NoisyDSprites()
        >>> factors, images = data.sample(2, np.random.default_rng(0))
        >>> images.shape, bool(images.min() >= 0), bool(images.max() <= 1)
        ((2, 64, 64, 3), True, True)
    """

    def _colorize(self, sprites: np.ndarray, rng: RandomState) -> np.ndarray:
        noise = rng.uniform(0.0, 1.0, (len(sprites), *sprites.shape[1:-1], 3))
        return np.minimum(sprites + noise, 1.0)
