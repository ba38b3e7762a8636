"""The parts DSMAE is composed of: the EMA teacher, the teacher-target
strategies, the loss terms' use in `compute_loss`, and the callback order
`fit` enforces."""

import csv

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.models import TEACHER_TARGETS, TeacherTarget, register_teacher_target
from keras_dsmae.utils.callback_order import order_callbacks
from tests.helpers.builders import structured_images, tiny_model, to_numpy


def _teacher_weights(model):
    return [to_numpy(w).copy() for w in model.teacher.weights]


def test_compute_loss_called_directly_leaves_the_teacher_where_it_is():
    model = tiny_model(seed=0)
    images = structured_images(2)
    model.ema_teacher.step.assign(3)
    model.encoder.weights[1].assign(model.encoder.weights[1] + 1.0)  # student moves away
    before = _teacher_weights(model)
    loss = model.compute_loss(x=images, y_pred=model(images))
    assert np.isfinite(float(to_numpy(loss)))
    assert int(to_numpy(model.ema_teacher.step)) == 3
    for old, new in zip(before, _teacher_weights(model)):
        np.testing.assert_array_equal(old, new)
    model.compute_loss(x=images, y_pred=model(images), training=True)  # what fit does
    assert int(to_numpy(model.ema_teacher.step)) == 4
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, _teacher_weights(model)))


def test_get_config_reports_the_teacher_momentum_the_schedule_holds():
    model = tiny_model(teacher_momentum=0.99)
    assert model.get_config()["teacher_momentum"] == 0.99  # as given, not a float32 rounding
    model.ema_teacher.set_schedule(start=0.9, end=0.95)
    config = model.get_config()
    assert config["teacher_momentum"] == pytest.approx(0.9)
    assert config["teacher_momentum_end"] == pytest.approx(0.95)
    clone = keras_dsmae.DSMAE.from_config(config)
    assert clone.ema_teacher.current_momentum() == pytest.approx(0.9)


def test_the_teacher_starts_as_a_copy_and_is_paired_weight_by_weight():
    model = tiny_model(drop_path_rate=0.1)
    pairs = model.ema_teacher.weight_pairs(model.encoder)
    assert len(pairs) == len(model.encoder.weights) == len(model.teacher.weights)
    for teacher, student in pairs:
        assert teacher.path.split("/")[-1] == student.path.split("/")[-1]
        np.testing.assert_array_equal(to_numpy(teacher), to_numpy(student))
    other = keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=32, depth=1, num_heads=2, name="other")
    other.build((None, 16, 16, 3))
    with pytest.raises(ValueError, match="differ in weights"):
        model.ema_teacher.weight_pairs(other)


def test_a_new_teacher_target_is_one_registered_class():
    @register_teacher_target("clean_patch_embeddings")
    class PatchEmbeddingTarget(TeacherTarget):
        """The teacher's patch embeddings, without the transformer."""

        def encode(self, teacher, clean_patches, ids_masked, num_views):
            embedded = teacher.embed(clean_patches)
            return keras.ops.take_along_axis(
                keras.ops.concatenate([embedded] * num_views, axis=0),
                keras.ops.expand_dims(ids_masked, -1), axis=1)

    try:
        model = tiny_model(teacher_target="clean_patch_embeddings", seed=1)
        assert isinstance(model.teacher_target, PatchEmbeddingTarget)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3))
        history = model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0,
                            callbacks=[keras_dsmae.callbacks.TeacherEMA()])
        assert np.isfinite(history.history["feature_loss"][0])
    finally:
        del TEACHER_TARGETS["clean_patch_embeddings"]
    with pytest.raises(ValueError, match=r"teacher_target.*'full'.*'clean_patch_embeddings'"):
        tiny_model(teacher_target="clean_patch_embeddings")


def test_layer_average_targets_average_the_last_blocks_and_train():
    model = keras_dsmae.DSMAE.from_preset(
        "d2v_vit_tiny_cifar", encoder_dim=32, encoder_heads=2, encoder_depth=3,
        decoder_dim=32, decoder_heads=2, decoder_depth=1, seed=2)
    images = keras.ops.convert_to_tensor(structured_images(2, size=32))
    clean = keras.ops.cast(model.encoder.patchify(images), "float32")
    ids = np.tile(np.arange(16, 64, dtype="int32"), (2, 1))
    averaged = to_numpy(model.teacher_target(model.teacher, clean, ids, 1))
    full = to_numpy(TEACHER_TARGETS["full"](num_masked=48)(model.teacher, clean, ids, 1))
    assert averaged.shape == full.shape == (2, 48, 32)
    assert np.abs(averaged - full).max() > 1e-2  # not the last block's output
    np.testing.assert_allclose(averaged.mean(-1), 0.0, atol=1e-4)  # normalised targets
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(structured_images(4, size=32), batch_size=2, epochs=1, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    assert np.isfinite(history.history["loss"][0])


def test_fit_takes_keras_positional_arguments():
    model = tiny_model(seed=3, loss_weight=0.0, noise_std=0.0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(structured_images(4), None, 2, 2, 0)  # x, y, batch_size, epochs, verbose
    assert len(history.history["loss"]) == 2


class _Stage(keras.callbacks.Callback):
    def __init__(self, stage=None):
        super().__init__()
        if stage is not None:
            self.epoch_end_stage = stage


def test_callbacks_are_ordered_by_their_declared_stage_keeping_the_users_order_within_one():
    checkpoint, writer, plain_a, plain_b, producer = _Stage(3), _Stage(2), _Stage(), _Stage(), _Stage(0)
    ordered = order_callbacks([checkpoint, writer, plain_a, producer, plain_b])
    assert ordered == [producer, plain_a, plain_b, writer, checkpoint]
    assert order_callbacks(None) is None


def test_history_csv_gets_the_knn_accuracy_wherever_the_monitor_is_listed(tmp_path):
    model = tiny_model(seed=4)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    labelled = (structured_images(8), np.arange(8) % 2)
    path = tmp_path / "history.csv"
    checkpoint = keras_dsmae.callbacks.RunCheckpoint(tmp_path / "checkpoints")
    model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0, callbacks=[
        checkpoint,
        keras_dsmae.callbacks.HistoryCSV(path),
        keras_dsmae.callbacks.KNNMonitor(labelled, labelled, k=3),
        keras_dsmae.callbacks.TeacherEMA(),
    ])
    with open(path, newline="") as file:
        row = next(csv.DictReader(file))
    assert float(row["val_knn_accuracy"]) >= 0.0 and float(row["teacher_momentum"]) > 0.9
    assert checkpoint.last_good_epoch == 1
