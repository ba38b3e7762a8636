"""A `ViTEncoder` as a timm `VisionTransformer`: its state dict, and the
`timm.create_model` name and arguments that take it.

timm's layout is the Hugging Face ViT layout (`hf_vit`) renamed, with the
query, key and value projections fused into one `attn.qkv` (as ours is):
`cls_token`, `pos_embed` `(1, N + 1, D)` (the fixed sin-cos table with the
class token's zero row; timm trains it afterwards, starting from it),
`patch_embed.proj`, `blocks.{i}.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2`,
`norm`. The model has a class token, no pre-logits and no head
(`num_classes=0`), the final norm on every token (`fc_norm=False`), and the
pooling the run used for its features: `global_pool="avg"` (the mean of the
patch tokens, this package's default) or `"token"` (the class token).

What timm's `VisionTransformer` cannot hold is refused with a `ValueError`
naming the setting: non-square images, no class token, a LayerNorm epsilon
other than timm's 1e-6.
"""

import json
import os

import numpy as np

from keras_dsmae.models import hf_vit

WEIGHTS_FILE = "model.safetensors"
# the timm model whose arguments the export overrides, every size one
BASE_ARCHITECTURE = "vit_base_patch16_224"
TIMM_EPSILON = 1e-6
_RENAMED = (("embeddings.cls_token", "cls_token"), ("embeddings.position_embeddings", "pos_embed"),
            ("embeddings.patch_embeddings.projection.", "patch_embed.proj."), ("layernorm.", "norm."))
_BLOCK_RENAMED = (("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."),
                  ("attention.output.dense.", "attn.proj."), ("intermediate.dense.", "mlp.fc1."),
                  ("output.dense.", "mlp.fc2."))


def check_timm_exportable(encoder):
    """`ValueError` naming the setting when timm's ViT cannot hold `encoder`."""
    hf_vit.check_exportable(encoder)
    if not np.isclose(encoder.layer_norm_epsilon, TIMM_EPSILON, rtol=0, atol=1e-12):
        raise ValueError(f"timm's VisionTransformer uses LayerNorm epsilon {TIMM_EPSILON}; this encoder has "
                         f"layer_norm_epsilon={encoder.layer_norm_epsilon}. Export it as --format=vit instead.")


def global_pool(encoder):
    """timm's `global_pool` for the encoder's pooling: `"token"` for `"cls"`,
    else `"avg"` (the mean of the patch tokens)."""
    return "token" if encoder.pooling == "cls" else "avg"


def timm_model_arguments(encoder, pool=None):
    """The `timm.create_model(BASE_ARCHITECTURE, **arguments)` that builds
    the `VisionTransformer` of `encoder`'s state dict (`pool`: timm's
    `global_pool`, default `global_pool(encoder)`)."""
    check_timm_exportable(encoder)
    return {"img_size": int(encoder.image_size[0]), "patch_size": encoder.patch_size,
            "in_chans": encoder.num_channels, "embed_dim": encoder.hidden_dim, "depth": encoder.depth,
            "num_heads": encoder.num_heads, "mlp_ratio": float(encoder.mlp_ratio), "qkv_bias": True,
            "class_token": True, "global_pool": pool or global_pool(encoder), "fc_norm": False,
            "num_classes": 0}


def timm_tensors(encoder):
    """`{timm name: float32 array}` of `encoder` (a built `ViTEncoder`)."""
    check_timm_exportable(encoder)
    tensors = {}
    for name, value in hf_vit.encoder_tensors(encoder).items():
        if name.startswith("encoder.layer."):
            index, rest = name[len("encoder.layer."):].split(".", 1)
            if rest.startswith("attention.attention."):
                continue  # query, key and value: fused below
            tensors[f"blocks.{index}.{_renamed(rest, _BLOCK_RENAMED)}"] = value
        else:
            tensors[_renamed(name, _RENAMED)] = value
    for index, block in enumerate(encoder.blocks):
        tensors[f"blocks.{index}.attn.qkv.weight"] = hf_vit.read_value(block.attention.qkv.kernel).T
        tensors[f"blocks.{index}.attn.qkv.bias"] = hf_vit.read_value(block.attention.qkv.bias)
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


def _renamed(name, renames):
    """`name` with the first matching prefix of `renames` replaced."""
    for theirs, ours in renames:
        if name.startswith(theirs):
            return ours + name[len(theirs):]
    raise ValueError(f"No timm name for the ViT tensor {name!r}.")


def timm_config(encoder, mean, std, pool=None):
    """The folder's `config.json` in timm's hub format (what
    `timm.create_model("local-dir:FOLDER", pretrained=True)` reads).

    Args:
        encoder: the `ViTEncoder`.
        mean, std: the per-channel normalisation its inputs need.
        pool: timm's `global_pool` (default: `global_pool(encoder)`).
    """
    arguments = timm_model_arguments(encoder, pool)
    size = [encoder.num_channels, *map(int, encoder.image_size)]
    return {
        "architecture": BASE_ARCHITECTURE, "num_classes": 0, "num_features": encoder.hidden_dim,
        "global_pool": arguments["global_pool"], "model_args": arguments,
        "pretrained_cfg": {"input_size": size, "fixed_input_size": True, "interpolation": "bicubic",
                           "crop_pct": 1.0, "crop_mode": "center", "mean": list(mean), "std": list(std),
                           "num_classes": 0, "pool_size": None, "first_conv": "patch_embed.proj",
                           "classifier": "head"},
    }


def write_timm_folder(encoder, folder, mean, std, pool=None):
    """Write `config.json` and `model.safetensors` (timm's names) of
    `encoder` into `folder` (which must exist)."""
    with open(os.path.join(folder, hf_vit.CONFIG_FILE), "w") as file:
        json.dump(timm_config(encoder, mean, std, pool), file, indent=2)
    hf_vit.safetensors_numpy().save_file(timm_tensors(encoder), os.path.join(folder, WEIGHTS_FILE),
                                        metadata={"format": "pt"})
