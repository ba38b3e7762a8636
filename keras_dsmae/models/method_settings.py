"""DSMAE's constructor arguments: their checks, the loss terms they select,
and the config that rebuilds the model."""

import numpy as np
from keras import ops

from keras_dsmae import losses
from keras_dsmae.models.teacher_targets import TEACHER_TARGETS
from keras_dsmae.utils import validation

ENCODER_ARGUMENTS = (
    "image_size", "patch_size", "num_channels", "encoder_dim", "encoder_depth",
    "encoder_heads", "decoder_dim", "decoder_depth", "decoder_heads", "mlp_ratio",
    "drop_path_rate", "use_cls_token",
)
METHOD_ARGUMENTS = (
    "mask_ratio", "noise_std", "pixel_loss_weight", "loss_weight", "norm_pix_loss",
    "denoise_visible", "feature_loss", "teacher_view", "num_folds", "teacher_momentum",
    "teacher_momentum_end", "teacher_update_every", "loss_weight_warmup",
    "feature_predictor_depth", "image_loss_weight", "image_loss", "contrast_weight",
    "contrast_temperature", "contrast_views", "seed",
)
CONTRAST_VIEWS = ("masks", "crops")
ARGUMENTS = ENCODER_ARGUMENTS + METHOD_ARGUMENTS + ("name", "dtype")


def offset_seed(seed, offset):
    """`seed + offset`, or None without a seed (each random layer gets its own stream)."""
    return None if seed is None else seed + offset


def check(arguments):
    """Check DSMAE's method arguments before anything is built.

    Args:
        arguments: dict holding at least every name in `METHOD_ARGUMENTS`
            and the encoder/decoder widths, depths and heads.

    Returns:
        dict of the method arguments, as validated values.
    """
    a = arguments
    validation.check_width_and_heads("encoder_dim", a["encoder_dim"], "encoder_heads", a["encoder_heads"])
    validation.check_width_and_heads("decoder_dim", a["decoder_dim"], "decoder_heads", a["decoder_heads"])
    validation.check_int("encoder_depth", a["encoder_depth"], minimum=1)
    settings = {
        "mask_ratio": validation.check_float(
            "mask_ratio", a["mask_ratio"], 0.0, 1.0, low_open=True, high_open=True),
        "noise_std": validation.check_float("noise_std", a["noise_std"], low=0.0),
    }
    for name in ("pixel_loss_weight", "loss_weight", "contrast_weight", "image_loss_weight"):
        settings[name] = validation.check_float(name, a[name], low=0.0)
    if settings["pixel_loss_weight"] == 0 and settings["loss_weight"] == 0:
        raise ValueError(
            "At least one of `pixel_loss_weight` and `loss_weight` must be > 0; "
            "got pixel_loss_weight=0 and loss_weight=0."
        )
    settings.update(
        teacher_update_every=validation.check_int(
            "teacher_update_every", a["teacher_update_every"], minimum=1),
        loss_weight_warmup=validation.check_float(
            "loss_weight_warmup", a["loss_weight_warmup"], 0.0, 1.0, high_open=True),
        feature_predictor_depth=validation.check_int(
            "feature_predictor_depth", a["feature_predictor_depth"], minimum=0),
        image_loss=validation.check_choice("image_loss", a["image_loss"], losses.ImageLevelTerm.KINDS),
        contrast_views=validation.check_choice("contrast_views", a["contrast_views"], CONTRAST_VIEWS),
    )
    settings.update(
        contrast_temperature=validation.check_float(
            "contrast_temperature", a["contrast_temperature"], low=0.0, low_open=True),
        norm_pix_loss=validation.check_bool("norm_pix_loss", a["norm_pix_loss"]),
        denoise_visible=validation.check_bool("denoise_visible", a["denoise_visible"]),
        feature_loss=validation.check_choice("feature_loss", a["feature_loss"], losses.FEATURE_LOSSES),
        teacher_view=validation.check_choice("teacher_view", a["teacher_view"], tuple(TEACHER_TARGETS)),
        num_folds=validation.check_int("num_folds", a["num_folds"], minimum=1),
        teacher_momentum=validation.check_float("teacher_momentum", a["teacher_momentum"], 0.0, 1.0),
        teacher_momentum_end=validation.check_float(
            "teacher_momentum_end", a["teacher_momentum_end"], 0.0, 1.0),
        seed=validation.check_seed("seed", a["seed"]),
    )
    return settings


def has_teacher(settings):
    """Whether the settings need an EMA teacher (a feature or image term)."""
    return bool(settings["loss_weight"] or settings["image_loss_weight"])


def loss_terms(settings):
    """The loss terms whose weight is > 0, in the order they are summed:
    pixel reconstruction, feature distillation, image level, contrast."""
    terms = []
    if settings["pixel_loss_weight"]:
        terms.append(losses.PixelReconstructionTerm(
            settings["pixel_loss_weight"], settings["norm_pix_loss"], settings["denoise_visible"],
            name="pixel_reconstruction"))
    if settings["loss_weight"]:
        terms.append(losses.FeatureDistillationTerm(
            settings["loss_weight"], settings["feature_loss"], name="feature_distillation"))
    if settings["image_loss_weight"]:
        terms.append(losses.ImageLevelTerm(
            settings["image_loss_weight"], settings["image_loss"], settings["contrast_temperature"],
            name="image_level"))
    if settings["contrast_weight"]:
        terms.append(losses.ContrastTerm(
            settings["contrast_weight"], settings["contrast_temperature"], name="contrast"))
    return terms


def config_of(model):
    """The constructor arguments that rebuild `model` (a `DSMAE`). The
    teacher momentum is read from the teacher's schedule variables, the one
    record of it, so a changed schedule is never reported stale."""
    encoder, decoder = model.encoder, model.decoder
    config = {
        "image_size": encoder.image_size,
        "patch_size": encoder.patch_size,
        "num_channels": encoder.num_channels,
        "encoder_dim": encoder.hidden_dim,
        "encoder_depth": encoder.depth,
        "encoder_heads": encoder.num_heads,
        "decoder_dim": decoder.decoder_dim,
        "decoder_depth": decoder.depth,
        "decoder_heads": decoder.num_heads,
        "mlp_ratio": encoder.mlp_ratio,
        "drop_path_rate": encoder.drop_path_rate,
        "use_cls_token": encoder.use_cls_token,
        **{name: model.settings[name] for name in METHOD_ARGUMENTS},
    }
    if model.ema_teacher is not None:
        for name, variable in (("teacher_momentum", model.ema_teacher.momentum_start),
                               ("teacher_momentum_end", model.ema_teacher.momentum_end)):
            current = ops.convert_to_numpy(variable.value)
            if np.float32(config[name]) != current:  # changed since construction
                config[name] = float(current)
    return config
