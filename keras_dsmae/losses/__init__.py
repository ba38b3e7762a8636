"""Losses of DSD-MAE: the pure loss functions and the weighted loss terms
(each with its metric) that `DSMAE.compute_loss` sums."""

from keras_dsmae.losses.functions import (
    FEATURE_LOSSES,
    feature_distillation_loss,
    info_nce_loss,
    normalize_tokens,
    pixel_reconstruction_loss,
)
from keras_dsmae.losses.terms import (
    ContrastTerm,
    FeatureDistillationTerm,
    ImageLevelTerm,
    LossInputs,
    LossTerm,
    PixelReconstructionTerm,
)

__all__ = [
    "FEATURE_LOSSES",
    "ContrastTerm",
    "FeatureDistillationTerm",
    "ImageLevelTerm",
    "LossInputs",
    "LossTerm",
    "PixelReconstructionTerm",
    "feature_distillation_loss",
    "info_nce_loss",
    "normalize_tokens",
    "pixel_reconstruction_loss",
]
