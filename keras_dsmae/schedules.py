"""Schedules used during pretraining."""

import math

from keras import ops


def cosine_momentum(step, total_steps, start, end, start_step=0):
    """Teacher momentum on a cosine schedule from `start` (at `start_step`)
    to `end` (at step `total_steps` and after); `total_steps <= 0` keeps it
    at `start`. A resumed run that is made longer starts a new segment at its
    current step and momentum (`start_step`, `start`), so the momentum never
    goes back down. Works on Python numbers and on backend tensors."""
    step = ops.cast(step, "float32")
    total_steps = ops.cast(total_steps, "float32")
    start_step = ops.cast(start_step, "float32")
    length = total_steps - start_step
    progress = ops.where(
        total_steps > 0.0,
        ops.clip((step - start_step) / ops.maximum(length, 1.0), 0.0, 1.0),
        0.0,
    )
    return end - (end - start) * (ops.cos(math.pi * progress) + 1.0) / 2.0
