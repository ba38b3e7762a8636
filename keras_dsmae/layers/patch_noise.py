"""Gaussian corruption of flat patches (the "denoising" in DSD-MAE)."""

import keras

from keras_dsmae.layers.replica_seed import ReplicaSeedGenerator
from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class GaussianPatchNoise(keras.layers.Layer):
    """Add `stddev * eps`, `eps ~ N(0, 1)`, to every patch value.

    Unlike `keras.layers.GaussianNoise` this is a corruption that defines the
    pretext task, so it is applied at every call, not only in training.
    `stddev=0` returns the input unchanged and draws no random numbers.

    Args:
        stddev: noise level in normalised-pixel units, >= 0.
        seed: optional int seed.

    Call arguments:
        patches: `(B, N, P)`.

    Returns:
        `(B, N, P)`.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = validation.check_float("stddev", stddev, low=0.0)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def call(self, patches):
        if self.stddev == 0.0:
            return patches
        noise = keras.random.normal(
            keras.ops.shape(patches),
            stddev=self.stddev,
            dtype=patches.dtype,
            seed=self.seed_generator,
        )
        return patches + noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
