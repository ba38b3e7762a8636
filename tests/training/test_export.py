"""`keras-dsmae-export` on a finished run: the Hugging Face folder with the
run's preprocessing and a model card, written whole or not at all, and a
run that starts from it (`--init_from`)."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from keras_dsmae.callbacks.run_checkpoint import TrainingDiverged
from keras_dsmae.training.export import export_encoder_folder, model_card
from keras_dsmae.training.run_model import load_run_model
from tests.helpers.builders import tiny_model, to_numpy
from tests.helpers.jobs import finished_run, pretrain

pytest.importorskip("safetensors", reason="safetensors is not installed (the export extra)")


class FirstWeights(keras.callbacks.Callback):
    """The student's and the teacher's encoder weights when training starts."""

    def on_train_begin(self, logs=None):
        self.student = [to_numpy(w) for w in self.model.encoder.weights]
        self.teacher = [to_numpy(w) for w in self.model.teacher.weights]


def test_a_run_exports_whole_with_its_card_and_another_run_starts_from_it(tmp_path):
    run = finished_run(tmp_path / "run", epochs=1)
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "old.txt").write_text("an earlier export")
    export_encoder_folder(str(run / "encoder.keras"), str(folder), scores={"linear_probe_accuracy": 0.5})
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model.safetensors",
                                          "preprocessor_config.json"]  # replaced whole
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["architectures"], config["layer_norm_eps"]) == ("vit", ["ViTModel"], 1e-6)
    recorded = json.loads((run / "run_config.json").read_text())
    preprocessor = json.loads((folder / "preprocessor_config.json").read_text())
    assert preprocessor["image_mean"] == recorded["normalization"]["mean"]
    assert preprocessor["size"] == {"height": 32, "width": 32}
    card = (folder / "README.md").read_text()
    for fact in (recorded["preset"], "cifar10", "| seed | 0 |", "keras_dsmae 0.", "linear probe accuracy | 50.0 %"):
        assert fact in card

    started = FirstWeights()
    pretrain(tmp_path / "second", epochs=1, init_from=str(folder), seed=1, extra_callbacks=[started])
    exported = keras.saving.load_model(str(run / "encoder.keras"))
    for ours, theirs, teacher in zip(started.student, exported.weights, started.teacher):
        np.testing.assert_array_equal(ours, to_numpy(theirs))  # not seed 1's own initialisation
        np.testing.assert_array_equal(teacher, ours)

    with pytest.raises(ValueError, match=r"`init_from` must be a Hugging Face ViT or ViTMAE folder"):
        pretrain(tmp_path / "third", epochs=1, init_from=str(tmp_path))


def test_the_decoder_comes_along_from_the_newest_checkpoint_only_when_it_holds_the_encoder(tmp_path):
    run = finished_run(tmp_path / "run", epochs=1)
    folder = tmp_path / "exported"
    export_encoder_folder(str(run / "encoder.keras"), str(folder), include_decoder=True)
    assert "pretraining_model.keras" in os.listdir(folder)
    assert "pretraining_model.keras" in (folder / "README.md").read_text()
    whole = keras.saving.load_model(str(folder / "pretraining_model.keras"))
    encoder = keras.saving.load_model(str(run / "encoder.keras"))
    for ours, theirs in zip(whole.encoder.weights, encoder.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    assert whole.teacher is not None and getattr(whole, "optimizer", None) is None
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    assert to_numpy(whole.reconstruct(images)["reconstruction"]).shape == images.shape

    # Another state than the checkpoint's (the run went on, or another run's encoder): refused.
    encoder.weights[0].assign(to_numpy(encoder.weights[0]) + 1.0)
    encoder.save(str(run / "other.keras"))
    with pytest.raises(ValueError, match=r"`include_decoder`: the newest checkpoint .*epoch_0001.*/other\.keras"):
        export_encoder_folder(str(run / "other.keras"), str(tmp_path / "refused"), include_decoder=True)
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(ValueError, match=r"`include_decoder` needs the run folder .* no checkpoint"):
        export_encoder_folder(str(run / "encoder.keras"), str(tmp_path / "refused"), include_decoder=True)
    assert not (tmp_path / "refused").exists()


def test_an_encoder_with_non_finite_weights_is_not_exported_and_the_old_export_stays(tmp_path):
    run = finished_run(tmp_path / "run", epochs=1)
    encoder = keras.saving.load_model(str(run / "encoder.keras"))
    encoder.weights[0].assign(np.full(encoder.weights[0].shape, np.nan, "float32"))
    encoder.save(str(tmp_path / "bad.keras"))
    folder = tmp_path / "exported"
    export_encoder_folder(str(run / "encoder.keras"), str(folder))
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(TrainingDiverged, match=r"Not exporting .*non-finite"):
        export_encoder_folder(str(tmp_path / "bad.keras"), str(folder))
    assert (folder / "model.safetensors").read_bytes() == before
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".partial")]
    with pytest.raises(ValueError, match=r"`scores` has 'top5'"):
        export_encoder_folder(str(run / "encoder.keras"), str(folder), scores={"top5": 0.9})


def test_a_run_exports_as_a_vit_mae_that_transformers_scores_alike_and_a_run_starts_from_it(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    run = finished_run(tmp_path / "run", epochs=1)
    folder = tmp_path / "vit_mae"
    export_encoder_folder(str(run / "encoder.keras"), str(folder), format="vit_mae")
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model.safetensors", "preprocessor_config.json"]
    card = (folder / "README.md").read_text()
    assert "ViTMAEForPreTraining.from_pretrained" in card and "floor, unbiased (the reference's" in card

    whole, _ = load_run_model(str(run))
    whole.noise.stddev = 0.0  # ViTMAE has no noise: compare the MAE part
    reference = transformers.ViTMAEForPreTraining.from_pretrained(str(folder)).eval()
    rng = np.random.RandomState(4)
    images, scores = rng.normal(size=(2, 32, 32, 3)).astype("float32"), rng.uniform(size=(2, 16)).astype("float32")
    with torch.no_grad():
        output = reference(pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2)), noise=torch.from_numpy(scores))
    outputs = whole(images, mask_scores=scores)
    pixel = next(term for term in whole.loss_terms if term.name == "pixel_reconstruction")
    pixel.tracker.reset_state()
    whole.compute_loss(x=images, y_pred=outputs)
    assert float(to_numpy(pixel.tracker.result())) == pytest.approx(output.loss.item(), rel=1e-5)
    np.testing.assert_allclose(to_numpy(outputs["pixels"]), output.logits.numpy(), atol=1e-4)

    started = FirstWeights()
    pretrain(tmp_path / "second", epochs=1, init_from=str(folder), seed=1, extra_callbacks=[started])
    for ours, theirs, teacher in zip(started.student, whole.encoder.weights, started.teacher, strict=True):
        np.testing.assert_array_equal(ours, to_numpy(theirs))
        np.testing.assert_array_equal(teacher, ours)
    recorded = json.loads((tmp_path / "second" / "run_config.json").read_text())
    assert recorded["overrides"]["decoder_dim"] == whole.decoder.decoder_dim  # the folder's architecture
    for settings, named in (({"model_overrides": {"encoder_dim": 64}}, "encoder_dim"), ({"image_size": 64, "model_overrides": {"encoder_depth": 1}}, "image_size")):
        with pytest.raises(ValueError, match=rf"`{named}`=.* differs from the ViTMAE"):
            pretrain(tmp_path / "third", epochs=1, init_from=str(folder), **settings)

    with pytest.raises(ValueError, match=r"`format` must be one of vit, vit_mae, timm"):
        export_encoder_folder(str(run / "encoder.keras"), str(tmp_path / "refused"), format="onnx")
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(ValueError, match=r"`format`='vit_mae' needs the run folder"):
        export_encoder_folder(str(run / "encoder.keras"), str(tmp_path / "refused"), format="vit_mae")
    assert not (tmp_path / "refused").exists()


def test_a_vit_mae_card_says_when_the_run_masked_otherwise_than_transformers_does():
    copies = tiny_model(masking="inverse_block", masks_per_image=2)
    card = model_card(copies.encoder, {}, {}, format="vit_mae", model=copies)
    assert "| masking (not carried by the ViTMAE layout) | inverse_block, 2 per image;" in card
    plain = tiny_model()
    assert "not carried" not in model_card(plain.encoder, {}, {}, format="vit_mae", model=plain)
    assert "not carried" not in model_card(copies.encoder, {}, {}, format="vit", model=copies)
