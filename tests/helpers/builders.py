"""The one tiny model size of the test suite, and the arrays tests feed it."""

import keras
import numpy as np

import keras_dsmae

# The widths of the one tiny size: a step trains in well under a second on a CPU.
_WIDTHS = dict(encoder_dim=32, encoder_heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2, mlp_ratio=2.0)
# In-process model tests: 16×16 images in 4×4 patches (16 tokens), two
# encoder blocks (so that a layer average has blocks to average).
TINY = dict(image_size=16, patch_size=4, num_channels=3, encoder_depth=2, **_WIDTHS)
# Tests that run the whole job, often several times and in subprocesses,
# where tracing and compiling the step is most of their time: the same
# widths with one encoder block; the input size comes from the data or
# preset, or is CIFAR's 32×32 in 8×8 patches (16 tokens again).
TINY_JOB = dict(encoder_depth=1, **_WIDTHS)
TINY_JOB_AT_32 = dict(image_size=32, patch_size=8, **TINY_JOB)


def tiny_model(**overrides):
    """A `DSMAE` of the tiny size; `overrides` are any of its arguments."""
    return keras_dsmae.DSMAE(**{**TINY, **overrides})


def move_off_initial_values(model, seed=1, scale=0.05):
    """Add small Gaussian noise to every trainable weight of a built
    `model`, so that biases, norms and mask tokens are not trivially 0 or
    1 where a layout maps them (a comparison then checks each of them).

    Returns:
        `model`.
    """
    rng = np.random.RandomState(seed)
    for weight in model.trainable_weights:
        weight.assign(to_numpy(weight) + rng.normal(0, scale, weight.shape).astype("float32"))
    return model


def to_numpy(x):
    """Any backend tensor (or variable) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def structured_images(count, size=16, channels=3, seed=0):
    """Smooth, learnable images: oriented sinusoids with random phase,
    normalised to zero mean and unit variance.

    Returns:
        float32 `(count, size, size, channels)`.
    """
    rng = np.random.RandomState(seed)
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    images = []
    for _ in range(count):
        angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        freq = rng.uniform(0.3, 0.8)
        wave = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
        colours = rng.uniform(0.5, 1.5, size=channels)
        images.append(wave[..., None] * colours)
    images = np.stack(images).astype("float32")
    return (images - images.mean()) / images.std()
