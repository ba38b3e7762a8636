"""Bad arguments raise ValueError naming the argument, the value and what is
allowed."""

import numpy as np
import pytest

import keras_dsmae
from tests.conftest import tiny_model


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
        ({"teacher_view": "left"}, ["teacher_view", "'left'", "'full'", "'masked'"]),
        ({"num_folds": 2}, ["num_folds", "teacher_view", "'masked'"]),
        ({"teacher_view": "masked", "num_folds": 5}, ["num_folds", "12 masked", "num_folds=5"]),
        ({"encoder_heads": 3}, ["hidden_dim", "num_heads", "32", "3"]),
        ({"mask_ratio": 0.99}, ["mask_ratio", "0.99", "16 patches"]),
        ({"pixel_loss_weight": 0.0, "loss_weight": 0.0}, ["pixel_loss_weight", "loss_weight"]),
        ({"contrast_temperature": 0.0}, ["contrast_temperature", "0.0"]),
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
        tiny_model().set_teacher_schedule(start=1.01)


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

