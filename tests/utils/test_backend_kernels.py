"""The fused backend kernels compute what their keras.ops references do
(values and gradients within float32 tolerance), on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dsmae.utils import backend_kernels
from tests.helpers.builders import tiny_model, to_numpy
from tests.helpers.gradients import value_and_gradients


def numpy_attention(q, k, v):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("tokens", [17, 65])
def test_attention_matches_numpy_and_reference_gradients(tokens):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, tokens, 8)).astype("float32") for _ in range(3))
    probe = rng.standard_normal((2, 3, tokens, 8)).astype("float32")

    np.testing.assert_allclose(
        to_numpy(backend_kernels.self_attention(*map(ops.convert_to_tensor, (q, k, v)))),
        numpy_attention(q, k, v),
        rtol=1e-5, atol=1e-5)

    def weighted(attention):
        return lambda q, k, v: ops.sum(attention(q, k, v) * ops.convert_to_tensor(probe))

    value, grads = value_and_gradients(weighted(backend_kernels.self_attention), [q, k, v])
    ref_value, ref_grads = value_and_gradients(
        weighted(backend_kernels.reference_self_attention), [q, k, v])
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for grad, ref_grad in zip(grads, ref_grads):
        assert np.abs(ref_grad).max() > 1e-3
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-5)


def test_attention_in_bfloat16_stays_close_to_float32():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 3, 17, 8)).astype("float32") for _ in range(3))
    low = backend_kernels.self_attention(*(ops.cast(x, "bfloat16") for x in (q, k, v)))
    assert keras.backend.standardize_dtype(low.dtype) == "bfloat16"
    np.testing.assert_allclose(to_numpy(ops.cast(low, "float32")), numpy_attention(q, k, v), atol=0.05)


def test_moving_average_matches_the_ema_formula():
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    teacher_start = [rng.standard_normal(s).astype("float32") for s in shapes]
    student_values = [rng.standard_normal(s).astype("float32") for s in shapes]
    targets = [keras.Variable(t, trainable=False) for t in teacher_start]
    sources = [keras.Variable(s) for s in student_values]
    backend_kernels.moving_average(targets, sources, ops.convert_to_tensor(0.9, "float32"))
    for target, t0, s in zip(targets, teacher_start, student_values):
        np.testing.assert_allclose(to_numpy(target), 0.9 * t0 + 0.1 * s, rtol=1e-6, atol=1e-7)
    for source, s in zip(sources, student_values):  # the student is left alone
        np.testing.assert_array_equal(to_numpy(source), s)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_teacher_update_moves_float32_teacher_weights_by_the_formula(policy):
    keras.config.set_dtype_policy(policy)
    model = tiny_model(seed=0)
    teacher = model.ema_teacher
    teacher.update(model.encoder)  # step 0: a plain copy
    pairs = teacher.weight_pairs(model.encoder)
    for _, student_weight in pairs:  # move the student away from the teacher
        student_weight.assign(student_weight.value + 1.0)
    before = [(to_numpy(t), to_numpy(s)) for t, s in pairs]
    momentum = teacher.current_momentum()
    teacher.update(model.encoder)
    for (teacher_weight, _), (t0, s) in zip(pairs, before):
        assert teacher_weight.dtype == "float32"
        np.testing.assert_allclose(
            to_numpy(teacher_weight), momentum * t0 + (1 - momentum) * s, rtol=1e-6, atol=1e-6)
