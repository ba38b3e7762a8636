"""Decoder of the masked autoencoder: visible tokens + mask tokens → patch
pixels and teacher-feature predictions."""

import keras
from keras import ops

from keras_dsmae.layers.masking import RestoreMaskedTokens
from keras_dsmae.layers.position_embedding import SinCosPositionEmbedding
from keras_dsmae.layers.transformer_block import transformer_stack
from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class MaskedDecoder(keras.layers.Layer):
    """Lightweight transformer decoder with a pixel head and a feature head.

    Args:
        grid_size: `(rows, cols)` of the patch grid, `N = rows * cols`.
        decoder_dim: width of the decoder tokens.
        depth: number of transformer blocks.
        num_heads: attention heads per block.
        pixel_dim: values per patch `p*p*C` predicted by the pixel head, or
            0 for no pixel head.
        feature_dim: width of the teacher features predicted by the feature
            head, or 0 for no feature head.
        num_prefix_tokens: leading non-patch tokens (class token) in the
            encoder output; they go through the blocks and are then dropped.
        mlp_ratio, layer_norm_epsilon: as in `TransformerBlock`.

    Call arguments:
        encoded: `(B, num_prefix_tokens + K, D_enc)` encoder output on the
            visible patches, in shuffled order.
        ids_restore: `(B, N)` from `RandomMasking`.

    Returns:
        dict with `"pixels"`: `(B, N, pixel_dim)` and/or `"features"`:
        `(B, N, feature_dim)`, in patch order.
    """

    def __init__(
        self,
        grid_size,
        decoder_dim=128,
        depth=4,
        num_heads=4,
        pixel_dim=48,
        feature_dim=0,
        num_prefix_tokens=1,
        mlp_ratio=4.0,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.grid_size = validation.check_image_size("grid_size", grid_size)
        self.decoder_dim = validation.check_int("decoder_dim", decoder_dim, minimum=4)
        self.depth = validation.check_int("decoder_depth", depth, minimum=0)
        self.num_heads = validation.check_int("decoder_heads", num_heads, minimum=1)
        self.pixel_dim = validation.check_int("pixel_dim", pixel_dim, minimum=0)
        self.feature_dim = validation.check_int("feature_dim", feature_dim, minimum=0)
        if pixel_dim == 0 and feature_dim == 0:
            raise ValueError(
                "`MaskedDecoder` needs a pixel head or a feature head; got "
                "pixel_dim=0 and feature_dim=0."
            )
        self.num_prefix_tokens = validation.check_int(
            "num_prefix_tokens", num_prefix_tokens, minimum=0
        )
        self.mlp_ratio = mlp_ratio
        self.layer_norm_epsilon = layer_norm_epsilon
        policy = self.dtype_policy
        self.input_projection = keras.layers.Dense(
            decoder_dim, dtype=policy, name="input_projection"
        )
        self.restore = RestoreMaskedTokens(dtype=policy, name="restore_masked_tokens")
        self.position_embedding = SinCosPositionEmbedding(
            self.grid_size, dtype=policy, name="position_embedding"
        )
        self.blocks = transformer_stack(
            decoder_dim, depth, num_heads, mlp_ratio, layer_norm_epsilon, policy
        )
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="final_norm"
        )
        self.pixel_head = (
            keras.layers.Dense(pixel_dim, dtype=policy, name="pixel_head")
            if pixel_dim
            else None
        )
        self.feature_head = (
            keras.layers.Dense(feature_dim, dtype=policy, name="feature_head")
            if feature_dim
            else None
        )

    def build(self, encoded_shape, ids_restore_shape=None):
        num_patches = self.grid_size[0] * self.grid_size[1]
        token_shape = (None, None, self.decoder_dim)
        self.input_projection.build(encoded_shape)
        self.restore.build(token_shape)
        self.position_embedding.build((None, num_patches, self.decoder_dim))
        for block in self.blocks:
            block.build(token_shape)
        self.final_norm.build(token_shape)
        for head in (self.pixel_head, self.feature_head):
            if head is not None:
                head.build(token_shape)

    def call(self, encoded, ids_restore, training=False):
        tokens = self.input_projection(encoded)
        prefix = tokens[:, : self.num_prefix_tokens]
        patches = self.restore(tokens[:, self.num_prefix_tokens:], ids_restore)
        tokens = ops.concatenate([prefix, self.position_embedding(patches)], axis=1)
        for block in self.blocks:
            tokens = block(tokens, training=training)
        tokens = self.final_norm(tokens)[:, self.num_prefix_tokens:]
        outputs = {}
        if self.pixel_head is not None:
            outputs["pixels"] = self.pixel_head(tokens)
        if self.feature_head is not None:
            outputs["features"] = self.feature_head(tokens)
        return outputs

    # the constructor arguments, each kept in the attribute of its name
    CONFIG_ATTRIBUTES = ("grid_size", "decoder_dim", "depth", "num_heads", "pixel_dim", "feature_dim",
                         "num_prefix_tokens", "mlp_ratio", "layer_norm_epsilon")

    def get_config(self):
        return {**super().get_config(), **{name: getattr(self, name) for name in self.CONFIG_ATTRIBUTES}}
