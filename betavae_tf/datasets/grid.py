"""`FactorGridImages`: stored images of every factor combination, read on demand.

Shapes3D and MPI3D store one uint8 image per combination of their factors,
in mixed-radix order (the last factor varies fastest), in files too large
to hold in memory. This base class does the index arithmetic and reads only
the requested images, in sorted order and in chunks of `READ_CHUNK`;
subclasses say how to read a sorted run of indices from their file.
"""

from __future__ import annotations

import abc

import numpy as np

from betavae_tf.datasets.ground_truth import GroundTruthData, RandomState

READ_CHUNK = 256
"""Images read from the file per call (3 MB of 64×64×3 uint8)."""


class FactorGridImages(GroundTruthData):
    """Images of a full factor grid stored in mixed-radix order.

    Image `i` shows the factors `index_to_factors(i)`; the last factor
    varies fastest. Images come out float32 in [0, 1] (uint8 / 255).

    Args:
        factor_sizes: number of values of each factor, e.g. `(10, 10, 10, 8, 4, 15)`.
        factor_names: one name per factor.
        observation_shape: shape of one image, e.g. `(64, 64, 3)`.
    """

    def __init__(
        self,
        factor_sizes: tuple[int, ...],
        factor_names: tuple[str, ...],
        observation_shape: tuple[int, ...],
    ):
        self._factor_sizes = tuple(int(s) for s in factor_sizes)
        self.factor_names = tuple(factor_names)
        self._observation_shape = tuple(int(s) for s in observation_shape)

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self._factor_sizes

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return self._observation_shape

    @property
    def num_images(self) -> int:
        """Number of factor combinations (images)."""
        return int(np.prod(self.factor_sizes, dtype=np.int64))

    def __len__(self) -> int:
        return self.num_images

    @property
    def factor_bases(self) -> np.ndarray:
        """Place values of the mixed-radix index, e.g. `(48000, 4800, 480, 60, 15, 1)`."""
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def _check_indices(self, indices) -> np.ndarray:
        array = np.atleast_1d(np.asarray(indices))
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(
                f"indices must be a 1-D array of integers in 0..{self.num_images - 1}. "
                f"Received shape {array.shape} and dtype {array.dtype}"
            )
        array = array.astype(np.int64)
        if array.size and (array.min() < 0 or array.max() >= self.num_images):
            bad = array[(array < 0) | (array >= self.num_images)][0]
            raise ValueError(
                f"index {bad} is out of range; pass indices in 0..{self.num_images - 1}."
            )
        return array

    def index_to_factors(self, indices) -> np.ndarray:
        """Factors of flat indices: int `(n,)` -> int64 `(n, num_factors)`."""
        indices = self._check_indices(indices)
        return (indices[:, np.newaxis] // self.factor_bases) % np.asarray(self.factor_sizes)

    def factors_to_index(self, factors) -> np.ndarray:
        """Flat indices of `(n, num_factors)` factors: int64 `(n,)`; inverts `index_to_factors`."""
        return self.check_factors(factors) @ self.factor_bases

    @abc.abstractmethod
    def _read_sorted(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images `(k, *observation_shape)` of strictly increasing `indices` `(k,)`."""

    def images(self, indices) -> np.ndarray:
        """Images of flat indices: int `(n,)` -> float32 `(n, *observation_shape)` in [0, 1].

        Only the distinct requested images are read, in increasing index
        order and `READ_CHUNK` at a time; repeated indices are read once.
        """
        indices = self._check_indices(indices)
        unique, inverse = np.unique(indices, return_inverse=True)
        out = np.empty((len(unique), *self.observation_shape), dtype=np.float32)
        for start in range(0, len(unique), READ_CHUNK):
            part = unique[start : start + READ_CHUNK]
            raw = np.asarray(self._read_sorted(part))
            if raw.shape != (len(part), *self.observation_shape):
                raise ValueError(
                    f"read images {raw.shape} for {len(part)} indices of shape "
                    f"{self.observation_shape}; the file changed while open, reload it."
                )
            np.divide(raw, np.float32(255.0), out=out[start : start + READ_CHUNK])
        if len(unique) == len(indices) and np.array_equal(unique, indices):
            return out
        return out[inverse.reshape(-1)]

    def sample_observations_from_factors(
        self, factors, rng: RandomState | None = None
    ) -> np.ndarray:
        """Images of `(n, num_factors)` factors: float32 `(n, *observation_shape)` in [0, 1].

        The image is fully determined by the factors; `rng` is accepted for
        the interface and unused.
        """
        return self.images(self.factors_to_index(factors))
