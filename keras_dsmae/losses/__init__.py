"""Losses of DSD-MAE: the pure loss functions and the registered, weighted
loss terms (each with its metric and its knobs) that `DSMAE.compute_loss` sums."""

from keras_dsmae.losses.functions import (
    FEATURE_LOSSES,
    PIXEL_VARIANCES,
    feature_distillation_loss,
    info_nce_loss,
    normalize_tokens,
    pixel_reconstruction_loss,
    pixel_target_statistics,
)
from keras_dsmae.losses.terms import (
    ContrastTerm,
    FeatureDistillationTerm,
    ImageLevelTerm,
    LOSS_TERMS,
    LossInputs,
    LossTerm,
    PixelReconstructionTerm,
    build_loss_terms,
    register_loss_term,
    teacher_needed,
    term_knobs,
)

__all__ = [
    "FEATURE_LOSSES",
    "LOSS_TERMS",
    "PIXEL_VARIANCES",
    "ContrastTerm",
    "FeatureDistillationTerm",
    "ImageLevelTerm",
    "LossInputs",
    "LossTerm",
    "PixelReconstructionTerm",
    "build_loss_terms",
    "feature_distillation_loss",
    "info_nce_loss",
    "normalize_tokens",
    "pixel_reconstruction_loss",
    "pixel_target_statistics",
    "register_loss_term",
    "teacher_needed",
    "term_knobs",
]
