"""Multi-head self-attention with a float32 softmax."""

import keras
from keras import ops

from keras_dsmae.utils import validation
from keras_dsmae.utils.backend_kernels import self_attention


@keras.saving.register_keras_serializable(package="keras_dsmae")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Scaled dot-product self-attention over a token sequence.

    The projections run in the layer's compute dtype (float16/bfloat16 under
    mixed precision); the softmax always accumulates in float32. On PyTorch
    the attention itself is one fused kernel (see
    `keras_dsmae.utils.backend_kernels`).

    Args:
        hidden_dim: token width `D`, a multiple of `num_heads`.
        num_heads: number of heads `H`.

    Call arguments:
        tokens: `(B, T, D)`.

    Returns:
        `(B, T, D)`.
    """

    def __init__(self, hidden_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = validation.check_int("hidden_dim", hidden_dim, minimum=1)
        self.num_heads = validation.check_int("num_heads", num_heads, minimum=1)
        if hidden_dim % num_heads:
            raise ValueError(
                f"`hidden_dim` must be a multiple of `num_heads`; got "
                f"hidden_dim={hidden_dim}, num_heads={num_heads}."
            )
        self.head_dim = hidden_dim // num_heads
        self.qkv = keras.layers.Dense(
            3 * hidden_dim, dtype=self.dtype_policy, name="qkv"
        )
        self.output_projection = keras.layers.Dense(
            hidden_dim, dtype=self.dtype_policy, name="output_projection"
        )

    def build(self, input_shape):
        self.qkv.build(input_shape)
        self.output_projection.build(input_shape)

    def call(self, tokens):
        seq_len = tokens.shape[1]
        qkv = ops.reshape(
            self.qkv(tokens), (-1, seq_len, 3, self.num_heads, self.head_dim)
        )
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, B, H, T, Dh)
        attended = self_attention(qkv[0], qkv[1], qkv[2])
        attended = ops.reshape(
            ops.transpose(attended, (0, 2, 1, 3)), (-1, seq_len, self.hidden_dim)
        )
        return self.output_projection(attended)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
        }
