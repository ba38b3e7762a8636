"""Fixed 2-D sine-cosine position embedding (MAE, Appendix of He et al.)."""

import keras
import numpy as np

from keras_dsmae.utils import validation


def sincos_position_table(grid_size, dim):
    """Return the `(rows * cols, dim)` float32 table of 2-D sin-cos codes.

    Half of the channels encode the row, half the column; each half is
    `[sin(pos * w_k), cos(pos * w_k)]` with `w_k = 1 / 10000^(k / (dim/4))`.
    """
    if dim % 4:
        raise ValueError(
            f"`hidden_dim` must be a multiple of 4 for a 2-D sin-cos position "
            f"embedding; got hidden_dim={dim}."
        )
    rows, cols = grid_size
    omega = 1.0 / 10000.0 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4.0))
    grid_rows, grid_cols = np.meshgrid(
        np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64),
        indexing="ij",
    )

    def encode(positions):
        angles = np.outer(positions.reshape(-1), omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    # MAE encodes the width coordinate first, then the height coordinate.
    table = np.concatenate([encode(grid_cols), encode(grid_rows)], axis=1)
    return table.astype("float32")


@keras.saving.register_keras_serializable(package="keras_dsmae")
class SinCosPositionEmbedding(keras.layers.Layer):
    """Add a fixed (not trained) 2-D sin-cos code to each patch token.

    Args:
        grid_size: `(rows, cols)` of the patch grid, `N = rows * cols`.

    Call arguments:
        tokens: `(B, N, D)` tokens in patch order (`D` a multiple of 4).

    Returns:
        `(B, N, D)`.
    """

    def __init__(self, grid_size, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = validation.check_image_size("grid_size", grid_size)

    def build(self, input_shape):
        num_patches = self.grid_size[0] * self.grid_size[1]
        if input_shape[-2] is not None and input_shape[-2] != num_patches:
            raise ValueError(
                f"`SinCosPositionEmbedding` with grid_size={self.grid_size} "
                f"expects {num_patches} tokens; got input shape "
                f"{tuple(input_shape)}."
            )
        table = sincos_position_table(self.grid_size, input_shape[-1])
        self.positions = self.add_weight(
            name="positions",
            shape=table.shape,
            initializer=lambda shape, dtype=None: table,
            trainable=False,
        )

    def call(self, tokens):
        return tokens + keras.ops.cast(self.positions, tokens.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size}
