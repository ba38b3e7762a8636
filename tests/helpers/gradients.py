"""Value and gradients of a scalar function of tensors, on any backend."""

import keras
import numpy as np


def value_and_gradients(function, arrays):
    """`function(*tensors)` and its gradients with respect to each input.

    Args:
        function: maps backend tensors to a scalar backend tensor.
        arrays: list of float numpy arrays.

    Returns:
        `(value, [gradient, ...])` as float64 numpy.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        value = function(*tensors)
        value.backward()
        grads = [t.grad for t in tensors]
        return _numpy(value), [_numpy(g) for g in grads]
    if backend == "jax":
        import jax

        tensors = [jax.numpy.asarray(a) for a in arrays]
        value, grads = jax.value_and_grad(
            lambda *ts: function(*ts), argnums=tuple(range(len(arrays))))(*tensors)
        return _numpy(value), [_numpy(g) for g in grads]
    import tensorflow as tf

    tensors = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = function(*tensors)
    return _numpy(value), [_numpy(g) for g in tape.gradient(value, tensors)]


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")), dtype=np.float64)
