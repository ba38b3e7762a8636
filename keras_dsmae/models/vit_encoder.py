"""ViT encoder: the student and teacher of DSD-MAE, and a plain backbone."""

import keras
from keras import ops

from keras_dsmae.layers.patch_embedding import PatchEmbedding
from keras_dsmae.layers.patching import Patchify
from keras_dsmae.layers.position_embedding import SinCosPositionEmbedding
from keras_dsmae.layers.transformer_block import transformer_stack
from keras_dsmae.models import hf_vit
from keras_dsmae.utils import validation
from keras_dsmae.utils.token_math import mean_pool

POOLING_MODES = ("none", "cls", "mean")


@keras.saving.register_keras_serializable(package="keras_dsmae")
class ViTEncoder(keras.Model):
    """Vision Transformer encoder from images to tokens.

    `encoder(images)` runs the whole image. The masked autoencoder runs the
    same weights on a subset of patches through the three stages
    `patchify` → `embed` → (pick tokens) → `encode_tokens`.

    Args:
        image_size: int or `(H, W)`.
        patch_size: side `p` of the square patches; must divide `H` and `W`.
        num_channels: `C` of the images.
        hidden_dim: token width `D` (a multiple of 4 and of `num_heads`).
        depth: number of transformer blocks.
        num_heads: attention heads per block.
        mlp_ratio: MLP width as a multiple of `D`.
        drop_path_rate: stochastic depth, rising linearly to this value over
            the blocks.
        use_cls_token: prepend a learned class token.
        pooling: output of `call`: `"none"` all tokens `(B, T, D)` (class
            token first when used), `"cls"` the class token `(B, D)`,
            `"mean"` the mean of the patch tokens `(B, D)`.
        layer_norm_epsilon: epsilon of every LayerNorm.
        seed: optional seed for drop path only; the initial weights follow
            `keras.utils.set_random_seed` (call it before building).

    Call arguments:
        images: `(B, H, W, C)`.
        training: drop path on or off.

    Returns:
        `(B, N + use_cls_token, D)` or `(B, D)` (see `pooling`); `N = H * W / p²`.
    """

    def __init__(
        self,
        image_size=32,
        patch_size=4,
        num_channels=3,
        hidden_dim=192,
        depth=12,
        num_heads=3,
        mlp_ratio=4.0,
        drop_path_rate=0.0,
        use_cls_token=True,
        pooling="none",
        layer_norm_epsilon=1e-6,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = validation.check_image_size("image_size", image_size)
        self.patch_size = validation.check_int("patch_size", patch_size, minimum=1)
        validation.check_divisible(self.image_size, self.patch_size)
        self.num_channels = validation.check_int("num_channels", num_channels, minimum=1)
        self.hidden_dim = validation.check_int("hidden_dim", hidden_dim, minimum=4)
        if hidden_dim % 4:
            raise ValueError(
                f"`hidden_dim` must be a multiple of 4 (2-D sin-cos position "
                f"embedding); got hidden_dim={hidden_dim}."
            )
        self.depth = validation.check_int("depth", depth, minimum=1)
        self.num_heads = validation.check_int("num_heads", num_heads, minimum=1)
        self.mlp_ratio = mlp_ratio
        self.drop_path_rate = validation.check_float(
            "drop_path_rate", drop_path_rate, 0.0, 1.0, high_open=True
        )
        self.use_cls_token = validation.check_bool("use_cls_token", use_cls_token)
        self.pooling = validation.check_choice("pooling", pooling, POOLING_MODES)
        if pooling == "cls" and not use_cls_token:
            raise ValueError(
                "`pooling`='cls' needs `use_cls_token`=True; got "
                "use_cls_token=False. Allowed: pooling='mean' or 'none'."
            )
        self.layer_norm_epsilon = layer_norm_epsilon
        self.seed = seed

        policy = self.dtype_policy
        self.grid_size = (
            self.image_size[0] // self.patch_size,
            self.image_size[1] // self.patch_size,
        )
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.patch_dim = self.patch_size * self.patch_size * self.num_channels
        self.patchify_layer = Patchify(self.patch_size, dtype=policy, name="patchify")
        self.patch_embedding = PatchEmbedding(hidden_dim, dtype=policy, name="patch_embedding")
        self.position_embedding = SinCosPositionEmbedding(
            self.grid_size, dtype=policy, name="position_embedding"
        )
        self.blocks = transformer_stack(
            hidden_dim, depth, num_heads, mlp_ratio, layer_norm_epsilon, policy,
            drop_path_rate=self.drop_path_rate, seed=seed,
        )
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="final_norm"
        )

    @property
    def num_prefix_tokens(self):
        """1 when a class token is prepended, else 0."""
        return int(self.use_cls_token)

    def build(self, input_shape=None):
        if input_shape is not None:
            validation.check_image_shape(input_shape, self.image_size, self.num_channels)
        self.patch_embedding.build((None, self.num_patches, self.patch_dim))
        self.position_embedding.build((None, self.num_patches, self.hidden_dim))
        if self.use_cls_token:
            self.cls_token = self.add_weight(
                name="cls_token",
                shape=(1, 1, self.hidden_dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
            )
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.final_norm.build((None, None, self.hidden_dim))
        self.built = True

    def patchify(self, images):
        """`(B, H, W, C)` images → `(B, N, p*p*C)` flat patches."""
        validation.check_image_shape(images.shape, self.image_size, self.num_channels)
        return self.patchify_layer(images)

    def embed(self, patches):
        """`(B, N, p*p*C)` flat patches → `(B, N, D)` tokens with positions."""
        return self.position_embedding(self.patch_embedding(patches))

    def block_outputs(self, tokens, training=False):
        """The output of every transformer block, before the final norm.

        Args:
            tokens: `(B, T, D)` embedded patch tokens (any subset).

        Returns:
            list of `depth` tensors `(B, T + num_prefix_tokens, D)`, class
            token first.
        """
        if self.use_cls_token:
            cls = ops.cast(self.cls_token, tokens.dtype)
            cls = ops.broadcast_to(cls, (ops.shape(tokens)[0], 1, self.hidden_dim))
            tokens = ops.concatenate([cls, tokens], axis=1)
        outputs = []
        for block in self.blocks:
            tokens = block(tokens, training=training)
            outputs.append(tokens)
        return outputs

    def encode_tokens(self, tokens, training=False):
        """Run the transformer on any subset of embedded patch tokens.

        `(B, T, D)` → `(B, T + num_prefix_tokens, D)`, class token first.
        """
        return self.final_norm(self.block_outputs(tokens, training=training)[-1])

    def pool(self, tokens):
        """Apply `self.pooling` to the output of `encode_tokens`."""
        if self.pooling == "cls":
            return tokens[:, 0]
        if self.pooling == "mean":
            return mean_pool(tokens, self.num_prefix_tokens)
        return tokens

    def call(self, images, training=False):
        patches = self.patchify(images)
        return self.pool(self.encode_tokens(self.embed(patches), training=training))

    def compute_output_shape(self, input_shape):
        if self.pooling == "none":
            return (input_shape[0], self.num_patches + self.num_prefix_tokens, self.hidden_dim)
        return (input_shape[0], self.hidden_dim)

    @classmethod
    def from_pretrained_vit(cls, folder, **overrides):
        """The encoder stored in a Hugging Face ViT folder (`config.json` +
        `model.safetensors`, as `keras-dsmae-export` writes it), weights and
        all; see `keras_dsmae.models.hf_vit` for the layout and what it
        refuses.

        Args:
            folder: the folder.
            **overrides: other `ViTEncoder` arguments (e.g. `pooling`,
                `drop_path_rate`); the size comes from the folder.
        """
        config, _ = hf_vit.read_vit_folder(folder)
        encoder = cls(**{**hf_vit.encoder_settings(config), **overrides})
        encoder.build((None, *encoder.image_size, encoder.num_channels))
        hf_vit.load_vit_weights(encoder, folder)
        return encoder

    # the constructor arguments, each kept in the attribute of its name
    CONFIG_ATTRIBUTES = ("image_size", "patch_size", "num_channels", "hidden_dim", "depth", "num_heads",
                         "mlp_ratio", "drop_path_rate", "use_cls_token", "pooling", "layer_norm_epsilon", "seed")

    def get_config(self):
        return {**super().get_config(), **{name: getattr(self, name) for name in self.CONFIG_ATTRIBUTES}}
