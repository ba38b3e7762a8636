"""Helpers for losses under `tf.distribute` (no-ops on JAX and PyTorch)."""

import keras


def num_replicas_in_sync():
    """Replicas of the current `tf.distribute` strategy; 1 elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_loss_for_replicas(loss):
    """Divide a per-replica loss by the number of replicas, as Keras' own
    `compute_loss` does, so that summed gradients and the logged loss are
    those of the global batch."""
    replicas = num_replicas_in_sync()
    if replicas == 1:
        return loss
    return loss * (1.0 / replicas)
