"""The encoder in the Hugging Face ViT layout: transformers' ViTModel and
keras-hub's ViTBackbone give the Keras encoder's tokens, the layout's
limits are refused naming the setting, and the folder loads back exactly."""

import importlib.util

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.models import hf_vit
from tests.helpers.builders import move_off_initial_values, to_numpy

SIZE = dict(image_size=16, patch_size=4, hidden_dim=32, depth=2, num_heads=2, mlp_ratio=2.0)
# float32 tokens after two blocks and a LayerNorm agree to ~1e-6 across frameworks
# (other kernels, other summation orders); 1e-4 leaves room for wider models.
TOLERANCE = 1e-4


def _trained_looking_encoder():
    """A built encoder whose every trainable weight is moved off its
    initial value (so biases and norms are not trivially 0 and 1)."""
    keras.utils.set_random_seed(0)
    encoder = keras_dsmae.ViTEncoder(**SIZE)
    encoder.build((None, 16, 16, 3))
    return move_off_initial_values(encoder)


def _needs(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]' installs it)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    encoder = _trained_looking_encoder()
    folder = tmp_path_factory.mktemp("vit")
    pytest.importorskip("safetensors", reason="safetensors is not installed (the export extra)")
    hf_vit.write_vit_folder(encoder, str(folder))
    images = np.random.RandomState(2).normal(size=(3, 16, 16, 3)).astype("float32")
    return encoder, folder, images, to_numpy(encoder(images))


def test_transformers_vit_model_gives_the_keras_encoders_tokens(exported):
    _needs("transformers")
    import torch
    from transformers import ViTModel

    _, folder, images, tokens = exported
    model = ViTModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    with torch.no_grad():
        theirs = model(pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2))).last_hidden_state.numpy()
    assert theirs.shape == tokens.shape == (3, 17, 32)
    np.testing.assert_allclose(theirs, tokens, atol=TOLERANCE)


def test_keras_hub_vit_backbone_gives_the_keras_encoders_tokens(exported):
    _needs("keras_hub")
    import keras_hub

    _, folder, images, tokens = exported
    backbone = keras_hub.models.ViTBackbone.from_preset(str(folder))
    np.testing.assert_allclose(to_numpy(backbone(images)), tokens, atol=TOLERANCE)


def test_the_folder_loads_back_into_identical_weights_and_mismatches_are_refused(exported, tmp_path):
    encoder, folder, images, tokens = exported
    loaded = keras_dsmae.ViTEncoder.from_pretrained_vit(str(folder), pooling="cls")
    for ours, theirs in zip(encoder.weights, loaded.weights):
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    np.testing.assert_allclose(to_numpy(loaded(images)), tokens[:, 0], atol=1e-6)
    other = keras_dsmae.ViTEncoder(**{**SIZE, "patch_size": 8})
    other.build((None, 16, 16, 3))
    with pytest.raises(ValueError, match=r"has patch_size=4, this encoder patch_size=8"):
        hf_vit.load_vit_weights(other, str(folder))
    with pytest.raises(ValueError, match=r"not a Hugging Face ViT folder: .*config.json is missing"):
        keras_dsmae.ViTEncoder.from_pretrained_vit(str(tmp_path))


def test_encoders_the_layout_cannot_hold_are_refused_naming_the_setting():
    wide = keras_dsmae.ViTEncoder(**{**SIZE, "image_size": (16, 8)})
    with pytest.raises(ValueError, match=r"square images; this encoder has image_size=16x8"):
        hf_vit.vit_config(wide)
    without_class_token = keras_dsmae.ViTEncoder(**SIZE, use_cls_token=False)
    with pytest.raises(ValueError, match=r"use_cls_token=False"):
        hf_vit.encoder_tensors(without_class_token)
