"""Building blocks of the ViT masked autoencoders; all registered for
`.keras` serialization under the `keras_dsmae>` package prefix."""

from keras_dsmae.layers.attention import MultiHeadSelfAttention
from keras_dsmae.layers.block_masking import BlockMasking, InverseBlockMasking
from keras_dsmae.layers.device_augmentation import DeviceAugmentation
from keras_dsmae.layers.drop_path import DropPath
from keras_dsmae.layers.masking import (
    MASKING_STRATEGIES,
    PatchMasking,
    RandomMasking,
    RestoreMaskedTokens,
    gather_tokens,
    register_masking,
)
from keras_dsmae.layers.patch_embedding import PatchEmbedding
from keras_dsmae.layers.patch_noise import GaussianPatchNoise
from keras_dsmae.layers.patching import Patchify, Unpatchify, patchify, unpatchify
from keras_dsmae.layers.position_embedding import SinCosPositionEmbedding, sincos_position_table
from keras_dsmae.layers.random_resized_crop import RandomResizedCrop
from keras_dsmae.layers.resident_images import ResidentImages
from keras_dsmae.layers.transformer_block import TransformerBlock

__all__ = [
    "MASKING_STRATEGIES",
    "BlockMasking",
    "InverseBlockMasking",
    "PatchMasking",
    "register_masking",
    "DeviceAugmentation",
    "DropPath",
    "GaussianPatchNoise",
    "MultiHeadSelfAttention",
    "PatchEmbedding",
    "Patchify",
    "RandomMasking",
    "RandomResizedCrop",
    "ResidentImages",
    "RestoreMaskedTokens",
    "SinCosPositionEmbedding",
    "TransformerBlock",
    "Unpatchify",
    "gather_tokens",
    "patchify",
    "unpatchify",
    "sincos_position_table",
]
