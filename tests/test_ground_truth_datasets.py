"""Colour and noisy dSprites over both sprite sources (rendered and the official file)."""

import doctest

import numpy as np
import pytest

from betavae_tf.datasets import (
    ColorDSprites,
    DSprites,
    GroundTruthData,
    NoisyDSprites,
    load_dsprites,
)
from betavae_tf.datasets import dsprites_variants

DSPRITES_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


def encoded_images(indices, shape=(64, 64, 3)):
    """uint8 images whose 3 channels spell their index (low, middle, high byte)."""
    indices = np.asarray(indices, dtype=np.int64)
    images = np.empty((len(indices), *shape), dtype=np.uint8)
    for channel in range(3):
        images[..., channel] = (indices >> (8 * channel) & 255)[:, None, None]
    return images


def decoded_indices(images):
    """Inverse of `encoded_images` for float32 images in [0, 1]."""
    raw = np.rint(images * 255).astype(np.int64)
    assert (raw == raw[:, :1, :1, :]).all()
    return raw[:, 0, 0, 0] + (raw[:, 0, 0, 1] << 8) + (raw[:, 0, 0, 2] << 16)


def grid_classes(sizes):
    """All class rows of a factor grid in mixed-radix order (last fastest)."""
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(
        -1, len(sizes)
    )


# ------------------------------------------------------------- colour / noisy dSprites


def write_fake_dsprites(path, sizes=(1, 3, 2, 2, 2, 2)):
    """A small official-layout dSprites file with random binary sprites."""
    classes = grid_classes(sizes)
    values = classes.astype(np.float64)
    imgs = np.random.default_rng(0).integers(0, 2, (len(classes), 64, 64), dtype=np.uint8)
    np.savez(path, imgs=imgs, latents_values=values, latents_classes=classes)
    return imgs


@pytest.fixture(params=["rendered", "file"])
def sprites(request, tmp_path):
    if request.param == "rendered":
        return DSprites()
    write_fake_dsprites(tmp_path / DSPRITES_NAME)
    return load_dsprites(tmp_path / DSPRITES_NAME)


def test_color_dsprites_colours_each_sprite_uniformly_in_half_to_one(sprites):
    data = ColorDSprites(sprites)
    assert isinstance(data, GroundTruthData) and data.dsprites is sprites
    assert data.factor_sizes == sprites.factor_sizes and data.observation_shape == (64, 64, 3)
    assert len(data) == len(sprites)
    factors = data.sample_factors(64, np.random.RandomState(1))
    masks = sprites.sample_observations_from_factors(factors)  # (n, 64, 64, 1), 0/1
    images = data.sample_observations_from_factors(factors, np.random.RandomState(2))
    assert images.shape == (64, 64, 64, 3) and images.dtype == np.float32
    on = np.broadcast_to(masks == 1, images.shape)
    assert (images[~on] == 0).all()  # the background stays black
    colours = images.max(axis=(1, 2))  # (n, 3): one colour per image
    assert colours.min() >= 0.5 and colours.max() <= 1.0
    np.testing.assert_array_equal(images, masks * colours[:, None, None, :])
    # disentanglement_lib's draw: rng.uniform(0.5, 1, (n, 1, 1, 3)).
    expected = np.random.RandomState(2).uniform(0.5, 1, (64, 1, 1, 3)).astype(np.float32)
    shown = masks.reshape(64, -1).max(axis=1) > 0
    np.testing.assert_array_equal(colours[shown], expected[shown, 0, 0])


def test_noisy_dsprites_puts_white_sprites_on_uniform_noise(sprites):
    data = NoisyDSprites(sprites)
    assert data.factor_sizes == sprites.factor_sizes and data.observation_shape == (64, 64, 3)
    factors = data.sample_factors(16, np.random.RandomState(1))
    masks = sprites.sample_observations_from_factors(factors)
    images = data.sample_observations_from_factors(factors, np.random.RandomState(3))
    assert images.shape == (16, 64, 64, 3) and images.dtype == np.float32
    on = np.broadcast_to(masks == 1, images.shape)
    assert (images[on] == 1).all()
    background = images[~on]
    assert background.min() >= 0 and background.max() <= 1
    assert abs(background.mean() - 0.5) < 0.01 and background.std() > 0.28  # U(0, 1): 0.289
    noise = np.random.RandomState(3).uniform(0, 1, (16, 64, 64, 3))
    np.testing.assert_array_equal(images, np.minimum(masks + noise, 1).astype(np.float32))


@pytest.mark.parametrize("variant", [ColorDSprites, NoisyDSprites])
def test_the_seed_changes_only_the_colour_or_noise(variant):
    data = variant()
    factors = data.sample_factors(8, np.random.default_rng(0))
    masks = DSprites().sample_observations_from_factors(factors) == 1
    a = data.sample_observations_from_factors(factors, np.random.default_rng(1))
    b = data.sample_observations_from_factors(factors, np.random.default_rng(1))
    c = data.sample_observations_from_factors(factors, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    on = np.broadcast_to(masks, a.shape)
    for images in (a, c):  # the sprite sits where the factors put it, whatever the seed
        if variant is ColorDSprites:
            np.testing.assert_array_equal(images > 0, on)
        else:
            assert (images[on] == 1).all() and (images[~on] < 1).mean() > 0.99
    # Factors are drawn as in dSprites, so `sample` pairs them with their sprites.
    factors_again, images = data.sample(8, np.random.default_rng(0))
    np.testing.assert_array_equal(factors_again, factors)
    assert images.shape == (8, 64, 64, 3)


def test_dsprites_variants_refuse_bad_arguments():
    with pytest.raises(ValueError, match="rng must be a np.random.RandomState"):
        ColorDSprites().sample_observations_from_factors([[0, 0, 0, 0, 0]], None)
    with pytest.raises(ValueError, match=r"factors must have shape \(n, 5\)"):
        NoisyDSprites().sample_observations_from_factors([[0, 0, 0]], np.random.default_rng(0))
    with pytest.raises(ValueError, match="dsprites must be DSprites"):
        ColorDSprites(np.zeros((3, 64, 64)))


def test_dsprites_variants_docstring_examples_run():
    result = doctest.testmod(dsprites_variants, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
