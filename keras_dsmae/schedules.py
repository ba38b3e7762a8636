"""Schedules used during pretraining."""

import math

from keras import ops


def cosine_momentum(step, total_steps, start, end):
    """Teacher momentum on a cosine schedule from `start` (step 0) to `end`
    (step `total_steps` and after); `total_steps <= 0` keeps it at `start`.
    Works on Python numbers and on backend tensors."""
    step = ops.cast(step, "float32")
    total_steps = ops.cast(total_steps, "float32")
    progress = ops.where(
        total_steps > 0.0,
        ops.clip(step / ops.maximum(total_steps, 1.0), 0.0, 1.0),
        0.0,
    )
    return end - (end - start) * (ops.cos(math.pi * progress) + 1.0) / 2.0
