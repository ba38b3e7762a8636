"""A whole MAE in the Hugging Face ViTMAE layout, both ways: a folder that
transformers writes (in its own names, or the hub's as facebook/vit-mae-*
ship them, safetensors or pytorch_model.bin) comes into a DSMAE with its
encoder, decoder and teacher; our export of it loads back into transformers
with the same weights and the same loss for the same noise; what the
layout cannot hold is refused naming the setting."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.models import hf_vit_mae
from tests.helpers.builders import to_numpy
from tests.helpers.folders import write_labelled_folder
from tests.helpers.paths import REPO

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")
from tests.helpers.reference_mae import set_reference_tables, tiny_vit_mae  # noqa: E402  (needs torch)

TOLERANCE = 1e-5


def _inputs(size=16, seed=5):
    rng = np.random.RandomState(seed)
    grid = (size // 4) ** 2
    return rng.normal(size=(2, size, size, 3)).astype("float32"), rng.uniform(size=(2, grid)).astype("float32")


def _reference_loss(model, images, scores):
    with torch.no_grad():
        return model(pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2)),
                     noise=torch.from_numpy(scores)).loss.item()


def _our_loss(model, images, scores):
    return float(to_numpy(model.compute_loss(x=images, y_pred=model(images, mask_scores=scores))))


def _written(model, folder, names="transformers"):
    """`model` saved as transformers' `save_pretrained` writes it, or in the
    hub's names (`names="hub"`, safetensors) or as a `pytorch_model.bin`."""
    model.save_pretrained(folder)
    if names != "transformers":
        state = {hf_vit_mae.canonical_name(k): v for k, v in safetensors_torch.load_file(
            os.path.join(folder, "model.safetensors")).items()}
        os.remove(os.path.join(folder, "model.safetensors"))
        if names == "hub":
            safetensors_torch.save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        else:
            torch.save(state, os.path.join(folder, "pytorch_model.bin"))
    return str(folder)


@pytest.mark.parametrize("names", ["transformers", "hub", "pytorch_bin"])
def test_a_transformers_folder_comes_in_and_goes_back_out_with_equal_weights_and_loss(tmp_path, names):
    reference = tiny_vit_mae(mask_ratio=0.8, norm_pix_loss=True)
    folder = _written(reference, tmp_path / "theirs", names)
    model = keras_dsmae.DSMAE.from_pretrained_mae(folder)
    assert model.masking.mask_ratio == 0.8 and model.teacher is None
    assert model.encoder.layer_norm_epsilon == 1e-12  # the config's, transformers' default
    images, scores = _inputs()
    expected = _reference_loss(reference, images, scores)
    assert abs(_our_loss(model, images, scores) - expected) <= TOLERANCE * expected

    (tmp_path / "ours").mkdir()
    hf_vit_mae.write_vit_mae_folder(model, str(tmp_path / "ours"))
    back = set_reference_tables(transformers.ViTMAEForPreTraining.from_pretrained(str(tmp_path / "ours")).eval())
    theirs, ours = reference.state_dict(), back.state_dict()
    assert set(theirs) == set(ours)
    for name in theirs:
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy(), err_msg=name)
    assert _reference_loss(back, images, scores) == pytest.approx(expected, rel=TOLERANCE)


def test_dsd_mae_starts_from_the_folder_with_the_teacher_as_the_encoder_and_zero_tables_are_recomputed(tmp_path):
    reference = tiny_vit_mae()
    folder = _written(tiny_vit_mae(tables=False), tmp_path / "zeros")  # transformers 5.x's zero tables
    with pytest.warns(UserWarning, match="all zeros"):
        model = keras_dsmae.DSMAE.from_pretrained_mae(folder, preset="dsmae_vit_tiny_cifar", noise_std=0.0)
    assert model.teacher is not None
    for student, teacher in zip(model.encoder.weights, model.teacher.weights):
        np.testing.assert_array_equal(to_numpy(student), to_numpy(teacher))
    images, scores = _inputs()
    pixel = next(term for term in model.loss_terms if term.name == "pixel_reconstruction")
    pixel.tracker.reset_state()
    _our_loss(model, images, scores)  # the same weights as `reference`, with MAE's own tables
    expected = _reference_loss(reference, images, scores)
    assert float(to_numpy(pixel.tracker.result())) == pytest.approx(expected, rel=TOLERANCE)

    fresh = keras_dsmae.DSMAE.from_pretrained_mae(folder, decoder_depth=2)  # another decoder: it starts fresh
    assert fresh.decoder.depth == 2
    np.testing.assert_array_equal(to_numpy(fresh.encoder.cls_token), to_numpy(model.encoder.cls_token))


def test_what_the_layout_cannot_hold_is_refused_naming_the_setting(tmp_path):
    folder = _written(tiny_vit_mae(), tmp_path / "mae")
    for overrides, named in (({"patch_size": 8}, "patch_size"), ({"encoder_dim": 64}, "encoder_dim"),
                             ({"use_cls_token": False}, "use_cls_token")):
        with pytest.raises(ValueError, match=f"`{named}`"):
            keras_dsmae.DSMAE.from_pretrained_mae(folder, **overrides)

    learned = tiny_vit_mae()
    with torch.no_grad():
        learned.vit.embeddings.position_embeddings.add_(0.1)
    with pytest.raises(ValueError, match="learned or other vit.embeddings.position_embeddings"):
        keras_dsmae.DSMAE.from_pretrained_mae(_written(learned, tmp_path / "learned"))

    config_path = os.path.join(folder, "config.json")
    config = json.loads(open(config_path).read())
    for key, value, named in (("decoder_intermediate_size", 96, "decoder_intermediate_size"),
                              ("hidden_act", "relu", "hidden_act"), ("qkv_bias", False, "qkv_bias"),
                              ("model_type", "vit", "not 'vit_mae'")):
        with open(config_path, "w") as file:
            json.dump({**config, key: value}, file)
        with pytest.raises(ValueError, match=named):
            keras_dsmae.DSMAE.from_pretrained_mae(folder)
    sdae = keras_dsmae.DSMAE.from_preset("sdae_vit_tiny_cifar", image_size=16, encoder_dim=32, encoder_depth=1,
                                         encoder_heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2)
    with pytest.raises(ValueError, match="pixel_loss_weight=0"):
        hf_vit_mae.write_vit_mae_folder(sdae, str(tmp_path))


@pytest.mark.slow
def test_the_second_stage_example_goes_on_from_a_transformers_folder_and_exports_it_back(tmp_path):
    # examples/mae_second_stage.py: kNN of the MAE, DSD-MAE pretraining from it (the job's --init_from),
    # kNN after, and the second stage as a ViTMAE folder that transformers loads.
    _written(tiny_vit_mae(), tmp_path / "mae")
    write_labelled_folder(tmp_path / "labelled")
    run = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "mae_second_stage.py"), f"--mae={tmp_path / 'mae'}",
         f"--images={tmp_path / 'labelled'}", f"--output_dir={tmp_path / 'stage2'}", "--preset=dsmae_vit_tiny_cifar",
         "--epochs=1", "--steps_per_epoch=2", "--batch_size=4", "--knn_k=3", "--mixed_precision=float32"],
        capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    for line in ("kNN accuracy", "the encoder, decoder, teacher start(s) from", "after 1 epoch(s) of DSD-MAE",
                 "exported"):
        assert line in run.stdout, run.stdout[-2000:]
    recorded = json.loads((tmp_path / "stage2" / "run_config.json").read_text())
    assert recorded["init_from"] == str(tmp_path / "mae") and recorded["overrides"]["encoder_dim"] == 32
    back = transformers.ViTMAEForPreTraining.from_pretrained(str(tmp_path / "stage2" / "vit_mae"))
    assert back.config.hidden_size == 32 and back.config.mask_ratio == 0.75
