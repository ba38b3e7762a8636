"""The teacher knobs of issue 13: a lagging teacher (`teacher_update_every`),
the loss-weight warm-up, a separate feature predictor, the image-level
term, and the spread logging that makes collapse visible."""

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae import losses
from keras_dsmae.utils.token_math import spread_across_tokens
from tests.helpers.builders import structured_images, tiny_model, to_numpy


def _first_weight(encoder):
    return to_numpy(encoder.weights[0].value).copy()


def test_a_lagging_teacher_moves_only_every_nth_step():
    model = tiny_model(teacher_update_every=3, teacher_momentum=0.5, teacher_momentum_end=0.5)
    teacher, student = model.ema_teacher, model.encoder
    teacher.update(student)  # step 0: a copy
    np.testing.assert_allclose(_first_weight(model.teacher), _first_weight(student))
    student.weights[0].assign(student.weights[0].value + 1.0)
    before = _first_weight(model.teacher)
    teacher.update(student)  # step 1
    teacher.update(student)  # step 2
    np.testing.assert_array_equal(_first_weight(model.teacher), before)
    teacher.update(student)  # step 3: θ ← 0.5 θ_T + 0.5 θ_S
    np.testing.assert_allclose(_first_weight(model.teacher), before + 0.5, rtol=1e-5, atol=1e-5)
    assert int(to_numpy(teacher.step.value)) == 4


def test_every_step_teacher_moves_each_step():
    model = tiny_model(teacher_momentum=0.5, teacher_momentum_end=0.5)
    model.ema_teacher.update(model.encoder)
    model.encoder.weights[0].assign(model.encoder.weights[0].value + 1.0)
    before = _first_weight(model.teacher)
    model.ema_teacher.update(model.encoder)
    np.testing.assert_allclose(_first_weight(model.teacher), before + 0.5, rtol=1e-5, atol=1e-5)


def _loss_parts(model, images):
    outputs = model(images)
    total = float(to_numpy(model.compute_loss(images, y_pred=outputs)))
    logged = {term.tracker.name: float(to_numpy(term.tracker.result())) for term in model.loss_terms}
    for term in model.loss_terms:
        term.tracker.reset_state()
    return total, logged


@pytest.mark.parametrize("step, expected_scale", [(0, 0.0), (2, 0.4), (5, 1.0), (9, 1.0)])
def test_the_warmup_ramps_the_teacher_terms_over_the_schedule(step, expected_scale):
    model = tiny_model(loss_weight=2.0, image_loss_weight=0.5, loss_weight_warmup=0.5, seed=3)
    model.ema_teacher.set_schedule(total_steps=10)
    model.ema_teacher.step.assign(step)
    assert float(to_numpy(model.teacher_loss_scale())) == pytest.approx(expected_scale)
    total, logged = _loss_parts(model, structured_images(4))
    expected = logged["pixel_loss"] + expected_scale * (2.0 * logged["feature_loss"] + 0.5 * logged["image_loss"])
    assert total == pytest.approx(expected, rel=1e-5)


def test_without_a_schedule_the_warmup_is_over():
    model = tiny_model(loss_weight_warmup=0.5)
    assert float(to_numpy(model.teacher_loss_scale())) == 1.0
    assert tiny_model().teacher_loss_scale() == 1.0


def test_a_separate_feature_predictor_replaces_the_shared_head():
    model = tiny_model(feature_predictor_depth=2)
    assert model.decoder.feature_head is None and model.decoder.pixel_head is not None
    predictor = model.feature_predictor
    assert len(predictor.blocks) == 2 and predictor.decoder_dim == model.encoder.hidden_dim
    outputs = model(structured_images(3))
    assert tuple(outputs["features"].shape) == (3, 16, 32)
    assert tuple(outputs["pixels"].shape) == (3, 16, 48)
    assert tiny_model().feature_predictor is None


def _fake_inputs(prediction, targets, calls):
    def teacher_targets(clean_patches, ids_masked):
        calls.append(1)
        return keras.ops.convert_to_tensor(targets)

    ids = np.tile(np.arange(16, dtype="int32"), (len(targets), 1))
    return losses.LossInputs(
        outputs={"image_prediction": keras.ops.convert_to_tensor(prediction), "ids_shuffle": ids,
                 "features": keras.ops.convert_to_tensor(np.zeros((len(targets), 16, 8), "float32"))},
        clean_patches=None, num_views=1, num_visible=4, teacher_targets=teacher_targets)


def test_image_regression_is_mse_to_the_standardised_mean_target():
    rng = np.random.RandomState(0)
    prediction = rng.normal(size=(5, 8)).astype("float32")
    targets = rng.normal(size=(5, 12, 8)).astype("float32")
    term = losses.ImageLevelTerm(1.0, "regression")
    value = float(to_numpy(term.compute(_fake_inputs(prediction, targets, []))))
    mean = targets.mean(1)
    standardised = (mean - mean.mean(-1, keepdims=True)) / np.sqrt(mean.var(-1, keepdims=True) + 1e-6)
    assert value == pytest.approx(np.mean((prediction - standardised) ** 2), rel=1e-5)


def test_image_contrast_tells_its_own_image_from_the_others():
    rng = np.random.RandomState(1)
    targets = rng.normal(size=(6, 12, 8)).astype("float32")
    term = losses.ImageLevelTerm(1.0, "contrast", temperature=0.1)
    matched = float(to_numpy(term.compute(_fake_inputs(targets.mean(1), targets, []))))
    shuffled = float(to_numpy(term.compute(_fake_inputs(targets.mean(1)[::-1].copy(), targets, []))))
    assert matched < 0.5 < np.log(6) < shuffled


def test_the_teacher_runs_once_per_step_for_all_its_terms():
    rng = np.random.RandomState(2)
    calls = []
    inputs = _fake_inputs(rng.normal(size=(2, 8)).astype("float32"),
                          rng.normal(size=(2, 12, 8)).astype("float32"), calls)
    for term in (losses.FeatureDistillationTerm(1.0), losses.ImageLevelTerm(1.0)):
        term.weighted_loss(inputs)
    assert len(calls) == 1


def test_spread_across_tokens_is_zero_for_collapsed_tokens():
    rng = np.random.RandomState(3)
    tokens = rng.normal(size=(4, 6, 5)).astype("float32")
    expected = np.sqrt(tokens.reshape(-1, 5).var(0) + 1e-6).mean()
    assert float(to_numpy(spread_across_tokens(tokens))) == pytest.approx(expected, rel=1e-5)
    collapsed = np.broadcast_to(tokens[:1, :1], tokens.shape)
    assert float(to_numpy(spread_across_tokens(collapsed))) < 1e-2


def test_an_image_term_alone_gets_a_teacher_but_no_feature_head():
    model = tiny_model(loss_weight=0.0, image_loss_weight=1.0)
    assert model.teacher is not None and model.decoder.feature_head is None
    outputs = model(structured_images(3))
    assert tuple(outputs["image_prediction"].shape) == (3, 32)
    assert "features" not in outputs


@pytest.mark.parametrize("image_loss", ["regression", "contrast"])
def test_all_knobs_train_with_falling_losses_and_targets_that_do_not_collapse(image_loss):
    model = tiny_model(
        teacher_target="layer_average", feature_loss="mse", teacher_update_every=2,
        loss_weight_warmup=0.2, feature_predictor_depth=1, image_loss_weight=0.5,
        image_loss=image_loss, seed=4,
    )
    model.compile(optimizer=keras.optimizers.AdamW(3e-3))
    history = model.fit(structured_images(32), batch_size=8, epochs=6, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA(momentum_start=0.9)]).history
    for key in ("loss", "pixel_loss", "feature_loss", "image_loss", "target_std", "prediction_std"):
        assert np.all(np.isfinite(history[key])), key
    assert history["pixel_loss"][-1] < 0.8 * history["pixel_loss"][0]
    assert history["feature_loss"][-1] < history["feature_loss"][0]
    assert min(history["target_std"]) > 0.2  # targets keep varying across tokens
    assert history["prediction_std"][-1] > 0.01  # predictions are not one constant token


def test_the_knobs_survive_saving(tmp_path):
    model = tiny_model(teacher_update_every=5, loss_weight_warmup=0.3, feature_predictor_depth=1,
                       image_loss_weight=0.2, image_loss="contrast", seed=5)
    images = structured_images(2)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for name in ("teacher_update_every", "loss_weight_warmup", "feature_predictor_depth",
                 "image_loss_weight", "image_loss"):
        assert loaded.get_config()[name] == model.get_config()[name], name
    assert loaded.ema_teacher.update_every == 5
    for key in ("features", "image_prediction"):
        np.testing.assert_allclose(to_numpy(loaded(images)[key]), to_numpy(model(images)[key]),
                                   rtol=1e-5, atol=1e-5)


def test_every_preset_records_where_its_settings_came_from():
    for name in keras_dsmae.presets.list_presets():
        assert len(keras_dsmae.presets.preset_source(name)) > 20, name
    with pytest.raises(ValueError, match=r"'nope'.*Allowed.*dsmae_vit_tiny_cifar"):
        keras_dsmae.presets.preset_source("nope")


def test_the_dsmae_preset_gets_its_schedules_from_fit_and_teacher_ema_alone():
    model = keras_dsmae.DSMAE.from_preset(
        "dsmae_vit_tiny_cifar", image_size=16, encoder_dim=32, encoder_depth=2, encoder_heads=2,
        decoder_dim=32, decoder_depth=1, decoder_heads=2, teacher_update_every=3, seed=6)
    assert model.settings["loss_weight_warmup"] > 0 and model.feature_predictor is not None
    scales = []

    class RecordScale(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            scales.append(float(to_numpy(self.model.teacher_loss_scale())))

    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    model.fit(structured_images(16), batch_size=2, epochs=2, verbose=0,
              callbacks=[keras_dsmae.callbacks.TeacherEMA(), RecordScale()])
    # 16 steps, warm-up over the first 25 %: 1/4, 2/4, 3/4, then 1
    np.testing.assert_allclose(scales[:5], [0.25, 0.5, 0.75, 1.0, 1.0], rtol=1e-5)
    assert int(to_numpy(model.ema_teacher.step.value)) == 16


def test_without_teacher_ema_fit_warns_of_the_constant_momentum_naming_the_skipped_warmup():
    model = tiny_model(loss_weight_warmup=0.3)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    with pytest.warns(UserWarning, match=r"TeacherEMA: the teacher follows the student with a constant momentum 0.996 "
                                          r"instead of the cosine schedule and no loss-weight warm-up \(loss_weight_warmup=0.3\)"):
        model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0)
