"""Schedules: the learning rate (linear warm-up, cosine decay) and the
teacher's EMA momentum (cosine)."""

import math

import keras
from keras import ops


def warmup_cosine_schedule(peak_learning_rate, total_steps, warmup_steps, final_fraction=0.0):
    """Linear warm-up from 0 to `peak_learning_rate` over `warmup_steps`, then
    cosine decay to `final_fraction × peak` at `total_steps`."""
    warmup_steps = int(min(warmup_steps, max(total_steps - 1, 0)))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else peak_learning_rate,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=final_fraction,
        warmup_target=peak_learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


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
