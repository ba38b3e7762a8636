"""Pre-norm ViT block: x + DropPath(Attn(LN(x))), then x + DropPath(MLP(LN(x)))."""

import keras

from keras_dsmae.layers.attention import MultiHeadSelfAttention
from keras_dsmae.layers.drop_path import DropPath
from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class TransformerBlock(keras.layers.Layer):
    """One pre-norm transformer encoder block.

    Args:
        hidden_dim: token width `D`.
        num_heads: attention heads (must divide `hidden_dim`).
        mlp_ratio: hidden width of the MLP as a multiple of `D`.
        drop_path_rate: stochastic-depth rate of both residual branches.
        layer_norm_epsilon: epsilon of the two LayerNorms (computed in float32).
        seed: optional seed for drop path.

    Call arguments:
        tokens: `(B, T, D)`.
        training: drop path on or off.

    Returns:
        `(B, T, D)`.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        mlp_ratio=4.0,
        drop_path_rate=0.0,
        layer_norm_epsilon=1e-6,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = validation.check_int("hidden_dim", hidden_dim, minimum=1)
        self.num_heads = validation.check_int("num_heads", num_heads, minimum=1)
        self.mlp_ratio = validation.check_float("mlp_ratio", mlp_ratio, low=0.0, low_open=True)
        self.drop_path_rate = validation.check_float(
            "drop_path_rate", drop_path_rate, 0.0, 1.0, high_open=True
        )
        self.layer_norm_epsilon = validation.check_float(
            "layer_norm_epsilon", layer_norm_epsilon, low=0.0, low_open=True
        )
        self.seed = seed
        policy = self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="attention_norm"
        )
        self.attention = MultiHeadSelfAttention(
            hidden_dim, num_heads, dtype=policy, name="attention"
        )
        self.mlp_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="mlp_norm"
        )
        self.mlp_hidden = keras.layers.Dense(
            int(hidden_dim * mlp_ratio), activation="gelu", dtype=policy,
            name="mlp_hidden",
        )
        self.mlp_output = keras.layers.Dense(hidden_dim, dtype=policy, name="mlp_output")
        self.drop_path = DropPath(drop_path_rate, seed=seed, dtype=policy, name="drop_path")

    def build(self, input_shape):
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape)
        self.mlp_norm.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output.build((*input_shape[:-1], self.mlp_hidden.units))

    def call(self, tokens, training=False):
        branch = self.attention(self.attention_norm(tokens))
        tokens = tokens + self.drop_path(branch, training=training)
        branch = self.mlp_output(self.mlp_hidden(self.mlp_norm(tokens)))
        return tokens + self.drop_path(branch, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "drop_path_rate": self.drop_path_rate,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "seed": self.seed,
        }


def transformer_stack(hidden_dim, depth, num_heads, mlp_ratio, layer_norm_epsilon, dtype,
                      drop_path_rate=0.0, seed=None):
    """`depth` blocks named `block_0`, `block_1`, ...; stochastic depth
    rises linearly from 0 to `drop_path_rate` over them, and block `i` draws
    its drop path from `seed + i`.

    Returns:
        list of `TransformerBlock`, each `(B, T, hidden_dim)` → same.
    """
    return [
        TransformerBlock(
            hidden_dim,
            num_heads,
            mlp_ratio=mlp_ratio,
            drop_path_rate=drop_path_rate * i / max(depth - 1, 1),
            layer_norm_epsilon=layer_norm_epsilon,
            seed=None if seed is None else seed + i,
            dtype=dtype,
            name=f"block_{i}",
        )
        for i in range(depth)
    ]
