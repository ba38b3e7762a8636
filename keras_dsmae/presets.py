"""Named model configurations for `DSMAE.from_preset`.

    >>> import keras_dsmae
    >>> keras_dsmae.presets.list_presets()
    ['dsmae_vit_tiny_cifar', 'dsmae_vit_tiny_stl10', ...]
    >>> model = keras_dsmae.DSMAE.from_preset("dsmae_vit_tiny_cifar", mask_ratio=0.8)

Presets hold architecture and method settings only (no pretrained weights).
Each records where its settings came from (`preset_source(name)`).
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
# MAE's ViT-S/16 and ViT-B/16 encoders with its 512-wide, 8-block decoder.
_VIT_SMALL = {
    "encoder_dim": 384,
    "encoder_depth": 12,
    "encoder_heads": 6,
    "decoder_dim": 512,
    "decoder_depth": 8,
    "decoder_heads": 16,
    "mlp_ratio": 4.0,
}
_VIT_BASE = {**_VIT_SMALL, "encoder_dim": 768, "encoder_heads": 12}
_CIFAR = {"image_size": 32, "patch_size": 4, "num_channels": 3}
_REAL_SIZE = {"image_size": 224, "patch_size": 16, "num_channels": 3}
_STL10 = {"image_size": 96, "patch_size": 8, "num_channels": 3}
# The DSD-MAE design defaults (DESIGN.md), before issue 13.
_DSMAE_V1 = {
    "mask_ratio": 0.75,
    "noise_std": 0.25,
    "loss_weight": 1.0,
    "norm_pix_loss": True,
    "feature_loss": "cosine",
    "teacher_momentum": 0.996,
}
# Issue 13's best combination on Fashion-MNIST (benchmarks/fashion_mnist.py).
_DSMAE = {
    **_DSMAE_V1,
    "teacher_target": "layer_average",
    "feature_loss": "mse",
    "feature_predictor_depth": 1,
    "loss_weight": 0.5,
    "loss_weight_warmup": 0.25,
    "teacher_update_every": 100,
    "teacher_momentum": 0.9,
}
_MAE = {**_DSMAE_V1, "noise_std": 0.0, "loss_weight": 0.0}
DSMAE_SOURCE = (
    "Issue 13's best combination in benchmarks/fashion_mnist.py (2026-11-30, 2 CPU cores, 4 epochs "
    "= 936 steps, seeds 0-2; benchmarks/README.md 'Representation quality'): the mean of the last 6 teacher "
    "blocks as MSE targets, a 1-block feature predictor, feature weight 0.5 warmed up over the "
    "first 25 % of the run, a teacher that moves every 100 steps from momentum 0.9; noise 0.25 "
    "and mask 75 % from the DSD-MAE design. Measured: kNN / linear probe +1.0 / +1.6 points over "
    "the design defaults and +0.1 / +0.3 over plain MAE (fine-tuning +1.8 over MAE), paired by "
    "seed; at 25 epochs (5850 steps, seeds 0-1, on a GPU) +0.3 / +0.2 over MAE; with mask 50 % "
    "on 16 patches +0.7 / +0.7 (not carried over to these presets' 64+ patches). Measured on "
    "28x28 grey images only; `teacher_update_every` counts steps, so for runs far longer than "
    "936 steps consider a larger interval (SdAE moves its teacher once per epoch)."
)

PRESETS = {
    "dsmae_vit_tiny_cifar": {
        "source": DSMAE_SOURCE,
        "description": "DSD-MAE, ViT-Tiny (192 wide, 12 blocks, 3 heads), "
        "32x32x3 images in 4x4 patches, 4-block 128-wide decoder.",
        "config": {**_CIFAR, **_VIT_TINY, **_DSMAE},
    },
    "dsmae_vit_tiny_stl10": {
        "source": DSMAE_SOURCE,
        "description": "DSD-MAE, ViT-Tiny, 96x96x3 images in 8x8 patches, "
        "4-block 128-wide decoder.",
        "config": {**_STL10, **_VIT_TINY, **_DSMAE},
    },
    "dsmae_vit_small_224": {
        "source": "Architecture: MAE's ViT-S/16 with its 8-block 512-wide decoder; method settings: the dsmae_* defaults.",
        "description": "DSD-MAE, ViT-Small/16 (384 wide, 12 blocks, 6 heads), "
        "224x224x3 images in 16x16 patches, MAE's 8-block 512-wide decoder. "
        "Untrained architecture settings: the method settings are the CIFAR "
        "presets', not tuned at this size.",
        "config": {**_REAL_SIZE, **_VIT_SMALL, **_DSMAE},
    },
    "dsmae_vit_base_224": {
        "source": "Architecture: MAE's ViT-B/16 with its 8-block 512-wide decoder; method settings: the dsmae_* defaults.",
        "description": "DSD-MAE, ViT-Base/16 (768 wide, 12 blocks, 12 heads), "
        "224x224x3 images in 16x16 patches, MAE's 8-block 512-wide decoder. "
        "Untrained architecture settings: the method settings are the CIFAR "
        "presets', not tuned at this size.",
        "config": {**_REAL_SIZE, **_VIT_BASE, **_DSMAE},
    },
    "mae_vit_tiny_cifar": {
        "source": "MAE (He et al. 2021): mask 75 %, normalised-pixel targets; ViT-Tiny sizes from DeiT.",
        "description": "Plain MAE baseline (no noise, no teacher), ViT-Tiny "
        "on 32x32x3 images.",
        "config": {**_CIFAR, **_VIT_TINY, **_MAE},
    },
    "sdae_vit_tiny_cifar": {
        "source": "SdAE (Chen et al. 2022): distillation only, the teacher sees the masked patches in folds.",
        "description": "SdAE-style: feature distillation only, teacher fed "
        "the 48 masked patches in 4 folds, ViT-Tiny on 32x32x3 images.",
        "config": {
            **_CIFAR, **_VIT_TINY, **_MAE,
            "loss_weight": 1.0, "pixel_loss_weight": 0.0,
            "teacher_target": "masked", "num_folds": 4,
        },
    },
    "mvmae_vit_tiny_cifar": {
        "source": "MV-MAE-style masks-only variant: two masks of one crop, InfoNCE weight 0.1 (not measured against two crops on CIFAR).",
        "description": "MV-MAE-style: pixel reconstruction of two masked "
        "views + InfoNCE between their pooled encodings, ViT-Tiny on 32x32x3.",
        "config": {**_CIFAR, **_VIT_TINY, **_MAE, "contrast_weight": 0.1},
    },
    "d2v_vit_tiny_cifar": {
        "source": "data2vec (Baevski et al. 2022): the mean of the last 6 teacher blocks as targets.",
        "description": "data2vec-style targets: DSD-MAE whose teacher target is "
        "the mean of its last 6 block outputs, ViT-Tiny on 32x32x3.",
        "config": {**_CIFAR, **_VIT_TINY, **_DSMAE_V1, "teacher_target": "layer_average"},
    },
}


# The preset a data set of that image size gets when none is named.
PRESET_FOR_IMAGE_SIZE = {
    32: "dsmae_vit_tiny_cifar",
    96: "dsmae_vit_tiny_stl10",
    224: "dsmae_vit_small_224",
}


def preset_for_image_size(image_size):
    """The default preset for `(H, W)` images: the one of `PRESET_FOR_IMAGE_SIZE`
    made for that size, else the one for the next larger size (smaller
    than all: the smallest), to be built with `image_size` overridden.

    Returns:
        `(preset name, overrides)`: `{}` or `{"image_size": (H, W)}`.

    Raises:
        ValueError: the chosen preset's patch size does not divide `H` and
            `W` (the message names the allowed sizes).
    """
    height, width = image_size
    if height == width and height in PRESET_FOR_IMAGE_SIZE:
        return PRESET_FOR_IMAGE_SIZE[height], {}
    sizes = sorted(PRESET_FOR_IMAGE_SIZE)
    size = next((s for s in sizes if s >= max(height, width)), sizes[-1])
    name = PRESET_FOR_IMAGE_SIZE[size]
    patch = PRESETS[name]["config"]["patch_size"]
    if height % patch or width % patch:
        raise ValueError(
            f"`image_size` {height}x{width} does not split into the {patch}x{patch} "
            f"patches of {name!r}, the preset for images up to {size} pixels. Allowed: "
            f"sizes that are multiples of {patch}, or {', '.join(map(str, sizes))} "
            f"(each has its own preset); or name a preset whose patch size divides it."
        )
    return name, {"image_size": (height, width)}


def list_presets():
    """Names of the available presets."""
    return list(PRESETS)


def describe_presets():
    """`{name: description}` for every preset."""
    return {name: entry["description"] for name, entry in PRESETS.items()}


def preset_source(name):
    """Where preset `name`'s settings came from (a sentence)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Allowed: {', '.join(PRESETS)}.")
    return PRESETS[name]["source"]


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
