"""Bad arguments raise ValueError naming the argument, the value and what is
allowed."""

import numpy as np
import pytest

import keras_dsmae
from tests.helpers.builders import tiny_model


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        ({"mask_ratio": 0.0}, ["mask_ratio", "0.0", "(0, 1)"]),
        ({"mask_ratio": 1.0}, ["mask_ratio", "1.0", "(0, 1)"]),
        ({"mask_ratio": 1.5}, ["mask_ratio", "1.5", "(0, 1)"]),
        ({"mask_ratio": "high"}, ["mask_ratio", "'high'"]),
        ({"noise_std": -0.1}, ["noise_std", "-0.1", "[0, inf)"]),
        ({"loss_weight": -1.0}, ["loss_weight", "-1.0", "[0, inf)"]),
        ({"image_size": 30}, ["image_size", "(30, 30)", "patch_size=4", "multiples"]),
        ({"image_size": (16, 18)}, ["image_size", "(16, 18)", "patch_size=4"]),
        ({"teacher_momentum": 1.5}, ["teacher_momentum", "1.5", "[0, 1]"]),
        ({"teacher_momentum": -0.1}, ["teacher_momentum", "-0.1", "[0, 1]"]),
        ({"teacher_momentum_end": 2}, ["teacher_momentum_end", "2", "[0, 1]"]),
        ({"feature_loss": "l3"}, ["feature_loss", "'l3'", "'cosine'", "'mse'", "'smooth_l1'"]),
        ({"teacher_target": "left"}, ["teacher_target", "'left'", "'full'", "'masked'"]),
        ({"num_folds": 2}, ["num_folds", "teacher_target", "'masked'"]),
        ({"teacher_target": "masked", "num_folds": 5}, ["num_folds", "12 masked", "num_folds=5"]),
        ({"encoder_heads": 3}, ["encoder_dim", "encoder_heads", "32", "3"]),
        ({"decoder_heads": 5}, ["decoder_dim", "decoder_heads", "32", "5"]),
        ({"noise_std": float("inf")}, ["noise_std", "inf", "finite"]),
        ({"loss_weight": float("inf")}, ["loss_weight", "inf", "finite"]),
        ({"loss_weight": float("nan")}, ["loss_weight", "nan"]),
        ({"seed": "abc"}, ["seed", "'abc'", "integer >= 0"]),
        ({"seed": 1.5}, ["seed", "1.5", "integer >= 0"]),
        ({"seed": -1}, ["seed", "-1", "integer >= 0"]),
        ({"mask_ratio": 0.99}, ["mask_ratio", "0.99", "16 patches"]),
        ({"pixel_loss_weight": 0.0, "loss_weight": 0.0}, ["pixel_loss_weight", "loss_weight"]),
        ({"contrast_temperature": 0.0}, ["contrast_temperature", "0.0"]),
        ({"teacher_update_every": 0}, ["teacher_update_every", "0", ">= 1"]),
        ({"loss_weight_warmup": 1.0}, ["loss_weight_warmup", "1.0", "[0, 1)"]),
        ({"feature_predictor_depth": -1}, ["feature_predictor_depth", "-1", ">= 0"]),
        ({"image_loss_weight": -0.5}, ["image_loss_weight", "-0.5", "[0, inf)"]),
        ({"image_loss": "cosine"}, ["image_loss", "'cosine'", "'regression'", "'contrast'"]),
        ({"contrast_views": "crop"}, ["contrast_views", "'crop'", "'masks'", "'crops'"]),
        ({"norm_pix_loss": "yes"}, ["norm_pix_loss", "'yes'"]),
    ],
)
def test_bad_constructor_argument_raises_clear_value_error(overrides, fragments):
    with pytest.raises(ValueError) as error:
        tiny_model(**overrides)
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize(
    "shape, fragment",
    [
        ((2, 32, 32, 3), "(2, 32, 32, 3)"),
        ((2, 16, 16, 1), "(2, 16, 16, 1)"),
        ((2, 16, 16), "(2, 16, 16)"),
    ],
)
def test_wrong_image_shape_at_call_time_raises(shape, fragment):
    model = tiny_model()
    with pytest.raises(ValueError) as error:
        model(np.zeros(shape, "float32"))
    message = str(error.value)
    assert "images" in message and fragment in message and "(16, 16, 3)" in message
    with pytest.raises(ValueError, match="images"):
        model.encoder(np.zeros(shape, "float32"))


def test_momentum_outside_unit_interval_rejected_by_callback_and_schedule():
    with pytest.raises(ValueError, match=r"momentum_start.*\[0, 1\].*1.2"):
        keras_dsmae.callbacks.TeacherEMA(momentum_start=1.2)
    with pytest.raises(ValueError, match=r"momentum_end.*-0.5"):
        keras_dsmae.callbacks.TeacherEMA(momentum_end=-0.5)
    with pytest.raises(ValueError, match=r"total_steps.*0"):
        keras_dsmae.callbacks.TeacherEMA(total_steps=0)
    with pytest.raises(ValueError, match=r"momentum_start.*1.01"):
        tiny_model().ema_teacher.set_schedule(start=1.01)


def test_presets_reject_unknown_names_and_arguments():
    with pytest.raises(ValueError, match=r"Unknown preset 'vit_huge'.*dsmae_vit_tiny_cifar"):
        keras_dsmae.DSMAE.from_preset("vit_huge")
    with pytest.raises(ValueError, match=r"mask_rate.*Allowed.*mask_ratio"):
        keras_dsmae.DSMAE.from_preset("dsmae_vit_tiny_cifar", mask_rate=0.5)


def test_encoder_arguments_are_validated():
    with pytest.raises(ValueError, match=r"pooling.*'none', 'cls', 'mean'.*'max'"):
        keras_dsmae.ViTEncoder(image_size=16, patch_size=4, pooling="max")
    with pytest.raises(ValueError, match=r"pooling.*'cls'.*use_cls_token"):
        keras_dsmae.ViTEncoder(image_size=16, patch_size=4, use_cls_token=False, pooling="cls")
    with pytest.raises(ValueError, match=r"patch_size.*0"):
        keras_dsmae.ViTEncoder(image_size=16, patch_size=0)
    with pytest.raises(ValueError, match=r"depth.*>= 1.*0"):
        keras_dsmae.ViTEncoder(**{"image_size": 16, "patch_size": 4, "depth": 0})



FIT_ERRORS = [
    (np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3)).astype("uint8"), r"dtype uint8.*from_arrays"),
    (np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3)).astype("float32"), r"raw 0–255.*from_arrays"),
    (np.zeros((0, 16, 16, 3), "float32"), r"empty.*from_arrays"),
]


@pytest.mark.parametrize("images, message", FIT_ERRORS, ids=["uint8", "float_0_255", "empty"])
@pytest.mark.parametrize("preset_like", ["dsmae", "mae"])
def test_fit_refuses_raw_or_empty_images_pointing_to_from_arrays(images, message, preset_like):
    overrides = {"noise_std": 0.0, "loss_weight": 0.0} if preset_like == "mae" else {}
    model = tiny_model(**overrides)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        model.fit(images, epochs=1, batch_size=2, verbose=0)


def test_fit_refuses_a_uint8_dataset_and_an_empty_one():
    import tensorflow as tf

    model = tiny_model()
    model.compile(optimizer="adam")
    uint8 = tf.data.Dataset.from_tensor_slices(np.zeros((4, 16, 16, 3), "uint8")).batch(2)
    with pytest.raises(ValueError, match=r"dtype uint8.*from_arrays"):
        model.fit(uint8, epochs=1, verbose=0)
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((4, 16, 16, 3), "float32")).batch(8, drop_remainder=True)
    with pytest.raises(ValueError, match=r"empty"):
        model.fit(empty, epochs=1, verbose=0)


def test_fit_ignores_labels_of_any_type_as_documented():
    import tensorflow as tf

    images = np.random.default_rng(0).standard_normal((4, 16, 16, 3)).astype("float32")
    names = np.array(["cat", "dog", "cat", "bird"])
    model = tiny_model()
    model.compile(optimizer="adam")
    history = model.fit(images, names, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    dataset = tf.data.Dataset.from_tensor_slices((images, names)).batch(2)
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
