"""The teacher starts as the student and moves by the EMA formula, once per
step, inside the compiled step on every backend."""

import math

import keras
import numpy as np
import pytest

import keras_dsmae
from tests.helpers.builders import structured_images, tiny_model, to_numpy


def weights_of(encoder):
    return [to_numpy(w) for w in encoder.weights]


def expected_momentum(step, total, start, end):
    progress = min(step / total, 1.0) if total > 0 else 0.0
    return end - (end - start) * (math.cos(math.pi * progress) + 1) / 2


def test_teacher_starts_as_exact_copy_and_is_frozen():
    model = tiny_model()
    for teacher, student in zip(weights_of(model.teacher), weights_of(model.encoder)):
        np.testing.assert_array_equal(teacher, student)
    assert model.teacher.trainable_weights == []
    assert len(model.teacher.weights) == len(model.encoder.weights)
    trainable_ids = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable_ids for w in model.teacher.weights)


def test_teacher_follows_ema_formula_with_cosine_schedule_over_steps():
    """With a frozen student (SGD, lr 0) and a teacher set away from it, n
    steps must give T_n = S + (T_0 - S) * prod_k m(k). Each step multiplies
    the previous teacher, so this also proves that every step sees the
    teacher the previous one wrote (the JAX fit loop carries it)."""
    model = tiny_model(noise_std=0.1, seed=0)
    student = weights_of(model.encoder)
    start_teacher = [s + np.float32(0.5) for s in student]
    for variable, value in zip(model.teacher.weights, start_teacher):
        variable.assign(value)
    model.ema_teacher.step.assign(1)  # skip the first-step copy
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    schedule = keras_dsmae.callbacks.TeacherEMA(
        momentum_start=0.6, momentum_end=0.95, total_steps=5
    )
    model.fit(structured_images(12), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])

    assert int(to_numpy(model.ema_teacher.step)) == 4
    factor = np.prod([expected_momentum(k, 5, 0.6, 0.95) for k in (1, 2, 3)])
    for got, s, t0 in zip(weights_of(model.teacher), student, start_teacher):
        np.testing.assert_allclose(got, s + (t0 - s) * factor, rtol=1e-5, atol=1e-6)
    for got, s in zip(weights_of(model.encoder), student):
        np.testing.assert_array_equal(got, s)  # the student really was frozen


def test_first_step_copies_the_student_even_if_it_changed_after_construction():
    model = tiny_model(seed=1)
    for variable in model.encoder.trainable_weights:
        variable.assign(variable.value + 0.25)
    changed_student = weights_of(model.encoder)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    model.fit(structured_images(4), batch_size=4, epochs=1, verbose=0,
              callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    for teacher, student in zip(weights_of(model.teacher), changed_student):
        np.testing.assert_allclose(teacher, student, rtol=1e-6)


def test_teacher_moves_towards_training_student_and_schedule_reaches_end():
    model = tiny_model(seed=2)
    model.compile(optimizer=keras.optimizers.AdamW(1e-2))
    initial_teacher = weights_of(model.teacher)
    history = model.fit(
        structured_images(16), batch_size=4, epochs=3, verbose=0,
        callbacks=[keras_dsmae.callbacks.TeacherEMA(momentum_start=0.5)],
    ).history
    total = 12
    assert float(to_numpy(model.ema_teacher.total_steps)) == total
    expected = [expected_momentum(4 * (e + 1), total, 0.5, 1.0) for e in range(3)]
    np.testing.assert_allclose(history["teacher_momentum"], expected, rtol=1e-5)
    moved = [np.abs(t - t0).max() for t, t0 in zip(weights_of(model.teacher), initial_teacher)]
    assert max(moved) > 1e-3
    gap = [np.abs(t - s).max() for t, s in zip(weights_of(model.teacher), weights_of(model.encoder))]
    assert max(gap) > 1e-4  # EMA lags behind the student


def test_evaluate_and_predict_do_not_move_the_teacher():
    model = tiny_model(seed=3)
    model.compile(optimizer="adam")
    before = weights_of(model.teacher)
    model.evaluate(structured_images(8), batch_size=4, verbose=0)
    model.predict(structured_images(4), verbose=0)
    assert int(to_numpy(model.ema_teacher.step)) == 0
    for teacher, old in zip(weights_of(model.teacher), before):
        np.testing.assert_array_equal(teacher, old)


def test_teacher_ema_needs_run_length_when_data_has_no_known_length():
    model = tiny_model(seed=5)
    model.compile(optimizer="adam")

    def endless():
        while True:
            yield (structured_images(4),)

    with pytest.raises(ValueError, match="total_steps"):
        model.fit(endless(), epochs=1, verbose=0, callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    model.fit(endless(), steps_per_epoch=2, epochs=1, verbose=0,
              callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    assert float(to_numpy(model.ema_teacher.total_steps)) == 2


def test_the_0_1_teacher_shortcuts_act_on_the_teacher_itself():
    # keras_dsmae.models.legacy: kept for users' 0.1 code; nothing in the package calls them.
    model = tiny_model()
    model(structured_images(2))  # built, so that the teacher has weights to move
    teacher = model.ema_teacher
    assert model.ema_step is teacher.step and model.momentum_total_steps is teacher.total_steps
    model.set_teacher_schedule(start=0.9, end=0.95, total_steps=10)
    assert model.current_teacher_momentum() == pytest.approx(teacher.current_momentum()) == pytest.approx(0.9)
    assert int(to_numpy(teacher.total_steps)) == 10
    model.update_teacher()
    assert int(to_numpy(teacher.step)) == 1
    plain = tiny_model(loss_weight=0.0)
    assert plain.ema_step is None and plain.momentum_total_steps is None
    with pytest.raises(ValueError, match="no teacher"):
        plain.update_teacher()
