"""Optimizers and schedules: MAE's pretraining AdamW, layer-wise-decay
AdamW for fine-tuning, the learning-rate and EMA-momentum schedules."""

from keras_dsmae.optimizers.layerwise_adamw import LayerwiseDecayAdamW, layer_index
from keras_dsmae.optimizers.pretraining import (
    NO_WEIGHT_DECAY,
    pretraining_optimizer,
    scaled_learning_rate,
)
from keras_dsmae.optimizers.schedules import cosine_momentum, warmup_cosine_schedule

__all__ = [
    "NO_WEIGHT_DECAY",
    "LayerwiseDecayAdamW",
    "cosine_momentum",
    "layer_index",
    "pretraining_optimizer",
    "scaled_learning_rate",
    "warmup_cosine_schedule",
]
