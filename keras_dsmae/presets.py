"""Named model configurations for `DSMAE.from_preset`.

    >>> import keras_dsmae
    >>> keras_dsmae.presets.list_presets()
    ['dsmae_vit_tiny_cifar', 'dsmae_vit_tiny_stl10', ...]
    >>> model = keras_dsmae.DSMAE.from_preset("dsmae_vit_tiny_cifar", mask_ratio=0.8)

Presets hold architecture and method settings only (no pretrained weights).
"""

_VIT_TINY = {
    "encoder_dim": 192,
    "encoder_depth": 12,
    "encoder_heads": 3,
    "decoder_dim": 128,
    "decoder_depth": 4,
    "decoder_heads": 4,
    "mlp_ratio": 4.0,
}
_CIFAR = {"image_size": 32, "patch_size": 4, "num_channels": 3}
_STL10 = {"image_size": 96, "patch_size": 8, "num_channels": 3}
_DSMAE = {
    "mask_ratio": 0.75,
    "noise_std": 0.25,
    "loss_weight": 1.0,
    "norm_pix_loss": True,
    "feature_loss": "cosine",
    "teacher_momentum": 0.996,
}
_MAE = {**_DSMAE, "noise_std": 0.0, "loss_weight": 0.0}

PRESETS = {
    "dsmae_vit_tiny_cifar": {
        "description": "DSD-MAE, ViT-Tiny (192 wide, 12 blocks, 3 heads), "
        "32x32x3 images in 4x4 patches, 4-block 128-wide decoder.",
        "config": {**_CIFAR, **_VIT_TINY, **_DSMAE},
    },
    "dsmae_vit_tiny_stl10": {
        "description": "DSD-MAE, ViT-Tiny, 96x96x3 images in 8x8 patches, "
        "4-block 128-wide decoder.",
        "config": {**_STL10, **_VIT_TINY, **_DSMAE},
    },
    "mae_vit_tiny_cifar": {
        "description": "Plain MAE baseline (no noise, no teacher), ViT-Tiny "
        "on 32x32x3 images.",
        "config": {**_CIFAR, **_VIT_TINY, **_MAE},
    },
    "sdae_vit_tiny_cifar": {
        "description": "SdAE-style: feature distillation only, teacher fed "
        "the 48 masked patches in 4 folds, ViT-Tiny on 32x32x3 images.",
        "config": {
            **_CIFAR, **_VIT_TINY, **_MAE,
            "loss_weight": 1.0, "pixel_loss_weight": 0.0,
            "teacher_view": "masked", "num_folds": 4,
        },
    },
    "mvmae_vit_tiny_cifar": {
        "description": "MV-MAE-style: pixel reconstruction of two masked "
        "views + InfoNCE between their pooled encodings, ViT-Tiny on 32x32x3.",
        "config": {**_CIFAR, **_VIT_TINY, **_MAE, "contrast_weight": 0.1},
    },
    "d2v_vit_tiny_cifar": {
        "description": "data2vec-style targets: DSD-MAE whose teacher target is "
        "the mean of its last 6 block outputs, ViT-Tiny on 32x32x3.",
        "config": {**_CIFAR, **_VIT_TINY, **_DSMAE, "teacher_view": "layer_average"},
    },
}


def list_presets():
    """Names of the available presets."""
    return list(PRESETS)


def describe_presets():
    """`{name: description}` for every preset."""
    return {name: entry["description"] for name, entry in PRESETS.items()}


def preset_config(name, overrides=None, allowed=None):
    """The constructor arguments of preset `name`, updated with `overrides`.

    Args:
        name: one of `list_presets()`.
        overrides: dict of arguments that replace the preset's.
        allowed: the argument names `overrides` may use (all when None).

    Returns:
        a new dict.
    """
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Allowed: {', '.join(PRESETS)}."
        )
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(allowed)) if allowed is not None else []
    if unknown:
        raise ValueError(
            f"Unknown argument(s) for DSMAE.from_preset: {unknown}. "
            f"Allowed: {sorted(allowed)}."
        )
    return {**PRESETS[name]["config"], **overrides}
