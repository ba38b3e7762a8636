"""The encoder as a timm `VisionTransformer`: the exported folder loads with
`timm.create_model("local-dir:...")` and with the named model and arguments
the card gives, and both give the Keras encoder's tokens and its pooled
features; what timm's ViT cannot hold is refused naming the setting.

timm needs torchvision, which does not load beside the CPU build of torch
2.13 that the main CI environment uses: these tests are skipped there and
run by `.ci/wheel_check` (torch 2.14.1, torchvision 0.29.1, timm) on every
backend."""

import json

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.models import timm_vit
from tests.helpers.builders import move_off_initial_values, to_numpy

timm = pytest.importorskip("timm", reason="timm (with torchvision) is not importable here: .ci/wheel_check runs this")
torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

TOLERANCE = 1e-4
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_timm_loads_the_export_and_gives_the_keras_encoders_tokens(tmp_path, pooling):
    keras.utils.set_random_seed(0)
    encoder = keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=32, depth=2, num_heads=2,
                                     mlp_ratio=2.0, pooling=pooling)
    encoder.build((None, 16, 16, 3))
    move_off_initial_values(encoder)
    timm_vit.write_timm_folder(encoder, str(tmp_path), MEAN, STD)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["global_pool"] == ("token" if pooling == "cls" else "avg")
    assert config["pretrained_cfg"]["mean"] == MEAN

    images = np.random.RandomState(2).normal(size=(3, 16, 16, 3)).astype("float32")
    tokens = to_numpy(encoder.encode_tokens(encoder.embed(encoder.patchify(images))))
    pooled = to_numpy(encoder(images))
    by_folder = timm.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    by_name = timm.create_model(timm_vit.BASE_ARCHITECTURE, pretrained=False,
                                **timm_vit.timm_model_arguments(encoder)).eval()
    by_name.load_state_dict(safetensors_torch.load_file(str(tmp_path / "model.safetensors")), strict=True)
    for model in (by_folder, by_name):
        with torch.no_grad():
            pixels = torch.from_numpy(images.transpose(0, 3, 1, 2))
            theirs_tokens, theirs_pooled = model.forward_features(pixels), model(pixels)
        np.testing.assert_allclose(theirs_tokens.numpy(), tokens, atol=TOLERANCE)
        np.testing.assert_allclose(theirs_pooled.numpy(), pooled, atol=TOLERANCE)


def test_what_timm_cannot_hold_is_refused_naming_the_setting():
    for settings, named in (({"layer_norm_epsilon": 1e-12}, "layer_norm_epsilon"),
                            ({"use_cls_token": False}, "use_cls_token"), ({"image_size": (16, 32)}, "image_size")):
        encoder = keras_dsmae.ViTEncoder(**{**dict(image_size=16, patch_size=4, hidden_dim=32, depth=1, num_heads=2),
                                            **settings})
        encoder.build((None, *encoder.image_size, 3))
        with pytest.raises(ValueError, match=named):
            timm_vit.timm_tensors(encoder)
