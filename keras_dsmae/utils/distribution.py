"""What the model needs to know about data-parallel training: the number
of `tf.distribute` replicas (to scale the loss) and the index of the
replica running (to give each its own random draws)."""

import contextlib

import keras


def num_replicas_in_sync():
    """Replicas of the current `tf.distribute` strategy; 1 elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_index():
    """Index of the `tf.distribute` replica running this code, as an int32
    scalar tensor; 0 outside a multi-replica strategy and on JAX and
    PyTorch (where `keras.distribution.DataParallel` draws random numbers
    for the global batch at once)."""
    if num_replicas_in_sync() == 1:
        return 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context
        return 0
    return tf.cast(context.replica_id_in_sync_group, "int32")


def process_count():
    """Processes (hosts) training together: `jax.process_count()` on JAX
    (several after `keras.distribution.initialize`), 1 elsewhere (Keras'
    TensorFlow and PyTorch `fit` train in one process)."""
    if keras.backend.backend() != "jax":
        return 1
    import jax

    return jax.process_count()


def scale_loss_for_replicas(loss):
    """Divide a per-replica loss by the number of replicas, as Keras' own
    `compute_loss` does, so that summed gradients and the logged loss are
    those of the global batch."""
    replicas = num_replicas_in_sync()
    if replicas == 1:
        return loss
    return loss * (1.0 / replicas)


def variable_creation_scope(model):
    """The context in which to create variables that `model` adds after it
    was built: its `tf.distribute` strategy's scope on TensorFlow (so they
    are mirrored on every replica), else none (JAX places them with the
    current `keras.distribution`)."""
    strategy = getattr(model, "distribute_strategy", None)
    if keras.backend.backend() == "tensorflow" and strategy is not None:
        return strategy.scope()
    return contextlib.nullcontext()


def largest_over_processes(value):
    """The largest of the int `value` over the processes of the run (a
    collective: every process must call it at the same point); `value`
    itself in one process."""
    if process_count() == 1:
        return int(value)
    import numpy as np
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.asarray([int(value)], np.int64))))
