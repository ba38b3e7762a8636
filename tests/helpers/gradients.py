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


def variable_gradients(loss, variables):
    """`loss()` and its gradient with respect to each of `variables`.

    Args:
        loss: a function of no argument that reads the variables and returns
            a scalar backend tensor.
        variables: Keras variables (e.g. `model.trainable_variables`).

    Returns:
        `(value, [gradient, ...])` as float64 numpy, a zero gradient where
        the loss does not depend on a variable.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        for variable in variables:
            variable.value.grad = None
        value = loss()
        value.backward()
        grads = [variable.value.grad for variable in variables]
    elif backend == "jax":
        import jax

        def stateless_loss(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss()
        value, grads = jax.value_and_grad(stateless_loss)([variable.value for variable in variables])
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss()
        grads = tape.gradient(value, variables)
    zeros = [np.zeros(v.shape) if g is None else _numpy(g) for v, g in zip(variables, grads)]
    return _numpy(value), zeros
