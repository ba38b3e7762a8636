"""Linear projection of flat patches to token vectors."""

import keras

from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class PatchEmbedding(keras.layers.Layer):
    """Project each flat patch to a `hidden_dim` token (a p×p stride-p
    convolution written as a Dense layer on flattened patches).

    Args:
        hidden_dim: width `D` of the tokens.

    Call arguments:
        patches: `(B, N, P)` flat patches (`P = p * p * C`).

    Returns:
        `(B, N, D)`.
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = validation.check_int("hidden_dim", hidden_dim, minimum=1)
        self.projection = keras.layers.Dense(
            self.hidden_dim,
            kernel_initializer="glorot_uniform",
            dtype=self.dtype_policy,
            name="projection",
        )

    def build(self, input_shape):
        self.projection.build(input_shape)

    def call(self, patches):
        return self.projection(patches)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.hidden_dim)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim}
