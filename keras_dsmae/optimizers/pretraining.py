"""AdamW with linear warm-up and cosine decay, as MAE pretrains."""

import keras

from keras_dsmae.optimizers.schedules import warmup_cosine_schedule

# Variables without weight decay: biases, LayerNorm scales/offsets, tokens.
NO_WEIGHT_DECAY = ["bias", "gamma", "beta", "mask_token", "cls_token"]


def scaled_learning_rate(base_learning_rate, batch_size):
    """MAE's linear scaling rule: `base × batch_size / 256`."""
    return base_learning_rate * batch_size / 256.0


def pretraining_optimizer(
    base_learning_rate, batch_size, total_steps, warmup_steps, weight_decay, beta_2=0.95
):
    """AdamW(β₂=0.95) on the scaled, warmed-up, cosine-decayed rate, with no
    decay on biases, norms and learned tokens."""
    schedule = warmup_cosine_schedule(
        scaled_learning_rate(base_learning_rate, batch_size), total_steps, warmup_steps
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9, beta_2=beta_2
    )
    optimizer.exclude_from_weight_decay(var_names=NO_WEIGHT_DECAY)
    return optimizer
