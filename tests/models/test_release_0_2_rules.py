"""Files of keras_dsmae 0.2 (tests/fixtures/release_0_2, written by 0.2.0)
keep the rules they were trained with: 0.2 kept round(N·(1 − mask_ratio))
patches visible and normalised `norm_pix_loss` targets by the biased
variance, where facebookresearch/mae (and now a new model) truncates and
uses the unbiased one. A 0.2 `.keras` file gives its recorded loss and
trains; a 0.2 run folder resumes with its rules and records them."""

import importlib.util
import json
import os
import shutil

import keras
import numpy as np

import keras_dsmae
from keras_dsmae.training import PretrainingConfig, run_pretraining
from keras_dsmae.training.run_model import load_run_model
from tests.helpers.paths import FIXTURES

RELEASE = os.path.join(FIXTURES, "release_0_2")
# the script that wrote the fixtures, for its settings and inputs (it is not a test module)
_SPEC = importlib.util.spec_from_file_location("make_fixtures", os.path.join(RELEASE, "make_fixtures.py"))
MAKE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(MAKE)


def _rules(model):
    pixel = next(t for t in model.loss_terms if isinstance(t, keras_dsmae.losses.PixelReconstructionTerm))
    return model.num_visible, model.masking.visible_rounding, pixel.norm_pix_variance


def test_a_0_2_keras_file_keeps_its_rules_its_loss_and_trains(tmp_path):
    with open(os.path.join(RELEASE, "mae_expected.json")) as file:
        expected = json.load(file)
    model = keras.models.load_model(os.path.join(RELEASE, "mae.keras"))
    assert _rules(model) == (expected["num_visible"], "round", "biased") == (5, "round", "biased")
    images, scores = MAKE.fixed_inputs()
    outputs = model(images, mask_scores=scores)
    np.testing.assert_allclose(float(model.compute_loss(x=images, y_pred=outputs)), expected["loss"], rtol=2e-5)

    model.save(tmp_path / "again.keras")  # the rules are now written down, and stay
    assert _rules(keras.models.load_model(tmp_path / "again.keras")) == (5, "round", "biased")
    history = model.fit(images, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    current = keras_dsmae.DSMAE(**MAKE.MODEL)  # the same settings today: the reference's rules
    assert _rules(current) == (4, "floor", "unbiased")
    assert float(current.compute_loss(x=images, y_pred=current(images, mask_scores=scores))) != expected["loss"]


def test_a_0_2_run_folder_resumes_with_its_rules_and_records_them(tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(os.path.join(RELEASE, "run"), run)
    monkeypatch.chdir(tmp_path)  # the run records `npy:images.npy`
    np.save("images.npy", MAKE.run_images())
    saved = json.loads((run / "run_config.json").read_text())
    assert "mae_rules" not in saved

    whole, _ = load_run_model(str(run))  # the export's way in: its rules too
    assert _rules(whole) == (5, "round", "biased")

    overrides = {k: v for k, v in MAKE.MODEL.items() if k != "seed"}
    model, history = run_pretraining(PretrainingConfig(
        dataset="npy:images.npy", output_dir=str(run), epochs=2, steps_per_epoch=2, batch_size=8,
        warmup_epochs=0, preset="mae_vit_tiny_cifar", model_overrides=overrides, mixed_precision="float32",
        reconstruction_every=100, checkpoint_every_minutes=0), verbose=0)
    assert len(history.history["loss"]) == 1  # epoch 2 only: it resumed
    assert _rules(model) == (5, "round", "biased")
    recorded = json.loads((run / "run_config.json").read_text())
    assert recorded["mae_rules"] == {"visible_rounding": "round", "norm_pix_variance": "biased"}
    assert _rules(load_run_model(str(run))[0]) == (5, "round", "biased")


def test_a_0_2_parts_config_keeps_its_rules_in_its_parts():
    """A model built from parts writes the rules into its masking and pixel
    term; a 0.2 parts config has neither key and loads with 0.2's rules."""
    model = keras_dsmae.DSMAE(
        encoder=keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=8, depth=1, num_heads=2),
        noise=keras_dsmae.layers.GaussianPatchNoise(0.0), masking=keras_dsmae.layers.RandomMasking(0.7),
        decoder=keras_dsmae.models.MaskedDecoder((4, 4), decoder_dim=8, depth=1, num_heads=2, pixel_dim=48),
        loss_terms=[keras_dsmae.losses.PixelReconstructionTerm(1.0)])
    assert _rules(model) == (4, "floor", "unbiased")
    config = model.get_config()
    assert _rules(keras_dsmae.DSMAE.from_config(config)) == (4, "floor", "unbiased")
    del config["masking"]["config"]["visible_rounding"]
    del config["loss_terms"][0]["config"]["norm_pix_variance"]
    assert _rules(keras_dsmae.DSMAE.from_config(config)) == (5, "round", "biased")
