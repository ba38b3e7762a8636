"""Shared fixtures. Tests run under whatever `KERAS_BACKEND` is set; CI runs
the whole suite once per backend (tensorflow, jax, torch)."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On JAX most of a tiny test's time is XLA compiling its train step, and many
# tests compile the same step (same tiny model, same shapes). JAX's
# persistent compilation cache (keyed by the program, without debug info)
# lets later tests, the other xdist worker and the tests' subprocesses,
# which inherit these variables, reuse a compiled step. It changes no result.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "keras_dsmae_tests_jax_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_dsmae  # noqa: E402

TINY = dict(
    image_size=16,
    patch_size=4,
    num_channels=3,
    encoder_dim=32,
    encoder_depth=2,
    encoder_heads=2,
    decoder_dim=32,
    decoder_depth=1,
    decoder_heads=2,
    mlp_ratio=2.0,
)


def tiny_model(**overrides):
    """A DSMAE small enough to train in seconds on a CPU."""
    return keras_dsmae.DSMAE(**{**TINY, **overrides})


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def structured_images(count, size=16, channels=3, seed=0):
    """Smooth, learnable images: oriented sinusoids with random phase,
    normalised to zero mean and unit variance. `(count, size, size, channels)`."""
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


@pytest.fixture(autouse=True)
def _reset_keras_state():
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
