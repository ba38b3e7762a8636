"""Stochastic depth: drop a residual branch for whole samples."""

import keras
from keras import ops

from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class DropPath(keras.layers.Layer):
    """Zero the residual branch of a random `rate` fraction of the samples
    during training and scale the rest by `1 / (1 - rate)`.

    Args:
        rate: drop probability in [0, 1).
        seed: optional int seed.

    Call arguments:
        inputs: `(B, ...)`.
        training: drop only in training.

    Returns:
        `(B, ...)`.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = validation.check_float("rate", rate, 0.0, 1.0, high_open=True)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        keep_prob = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        draw = keras.random.uniform(shape, seed=self.seed_generator)
        keep = ops.cast(draw < keep_prob, inputs.dtype)
        return inputs * keep / ops.cast(keep_prob, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
