"""Pretraining on any source: `--dataset` names, streaming folders (no
decode up front, skipped files counted per epoch, crops from the original,
bounded statistics sample, shards), numpy files, TFDS names through
`tfds.testing.mock_data`, the real-size presets, and the installed
`keras-dsmae-pretrain` command on a folder of mixed files."""

import csv
import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_dsmae
from keras_dsmae import data, presets
from keras_dsmae.data.dataset_names import dataset_forms
from keras_dsmae.training.pretrain import run_pretraining
from tests.helpers.builders import TINY_JOB, tiny_model
from tests.helpers.folders import write_image_folder, write_labelled_folder, write_mixed_folder
from tests.helpers.paths import REPO

RUN_FILES = {"encoder.keras", "history.csv", "curves.png", "reconstructions", "tensorboard",
             "run_config.json", "checkpoints"}


@pytest.mark.parametrize("text, kind, name, split", [
    ("cifar100", "catalog", "cifar100", None),
    ("tfds:imagenette/320px", "tfds", "imagenette/320px", "train"),
    ("tfds:imagenet2012:validation[:10%]", "tfds", "imagenet2012", "validation[:10%]"),
])
def test_dataset_names_parse(text, kind, name, split):
    parsed = data.parse_dataset(text)
    assert (parsed.kind, parsed.name, parsed.split) == (kind, name, split)
    assert "/" not in parsed.run_name


@pytest.mark.parametrize("text, message", [
    ("cifar11", r"dataset.*cifar10 \| cifar100.*folder:PATH.*got dataset='cifar11'"),
    ("tfds:", r"dataset.*got dataset='tfds:'"),
    ("tfds:Not A Name", r"not a TFDS name"),
    ("folder:/no/such/folder", r"not an existing folder"),
    ("npy:/no/such/file.npy", r"not an existing file"),
    ("", r"dataset.*must be one of"),
])
def test_bad_dataset_names_are_refused_with_the_allowed_forms(text, message):
    with pytest.raises(ValueError, match=message):
        data.parse_dataset(text)


def test_a_new_dataset_kind_is_one_registered_class():
    from keras_dsmae.data.sources import ImageSource

    @data.register_dataset_kind("noise")
    class NoiseSource(ImageSource):  # noise:N, N random images
        FORM = "noise:COUNT"

        @classmethod
        def parse_name(cls, rest, text):
            if not rest.isdigit():
                raise ValueError(f"`dataset` {text!r}: COUNT must be a whole number; got {rest!r}.")
            return data.DatasetName(cls.kind, rest, None, text)

        @classmethod
        def open(cls, name, **options):
            return cls(name)

    try:
        assert data.parse_dataset("noise:8").run_name == "8" and "noise:COUNT" in dataset_forms()
        assert isinstance(data.open_source("noise:8"), NoiseSource)
        with pytest.raises(ValueError, match=r"COUNT must be a whole number; got 'x'"):
            data.parse_dataset("noise:x")
        with pytest.raises(ValueError, match=r"Evaluation needs labels.*got dataset='noise:8'"):
            data.evaluation_splits("noise:8", image_size=16, num_channels=3)
        with pytest.raises(ValueError, match=r"use_synthetic_data.*noise:8"):
            data.open_source("noise:8", use_synthetic_data=True)
        with pytest.raises(ValueError, match=r"kind 'noise' is registered already"):
            data.register_dataset_kind("noise")(NoiseSource)
    finally:
        del data.DATASET_KINDS["noise"]
    with pytest.raises(ValueError, match=r"must be one of.*got dataset='noise:8'"):
        data.parse_dataset("noise:8")


def test_folder_listing_labels_first_level_folders_and_takes_top_level_files(tmp_path):
    write_image_folder(tmp_path)
    paths, labels, classes = data.list_image_files(tmp_path)
    assert classes == ["cats", "dogs"] and len(paths) == 6 and paths == sorted(paths)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])
    tf.io.write_file(str(tmp_path / "loose.png"), tf.io.encode_png(np.zeros((4, 4, 3), np.uint8)))
    paths, labels, classes = data.list_image_files(tmp_path)
    assert len(paths) == 7 and labels is None and classes is None


def test_a_folder_pipeline_decodes_nothing_before_training(tmp_path):
    for index in range(5):  # every file is corrupt: any decode up front would notice
        (tmp_path / f"{index}.jpg").write_bytes(b"not a jpeg")
    given = data.Normalization((0.5,) * 3, (0.25,) * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        dataset = data.from_image_folder(tmp_path, image_size=8, batch_size=1, normalization=given)
    assert dataset.skipped_files.total == 0
    assert list(dataset) == [] and dataset.skipped_files.total == 5


def test_normalisation_comes_from_a_bounded_sample(tmp_path):
    for index in range(4):
        tf.io.write_file(str(tmp_path / f"good{index}.png"),
                         tf.io.encode_png(np.full((6, 6, 3), 200, np.uint8)))
    for index in range(40):
        (tmp_path / f"bad{index:02d}.png").write_bytes(b"broken")
    with pytest.warns(UserWarning, match=r"Normalisation sample: ([1-4]) undecodable") as caught:
        sampled = data.from_image_folder(tmp_path, image_size=4, batch_size=1, statistics_sample=4,
                                         training=False, seed=3).normalization
    message = next(str(w.message) for w in caught if "Normalisation sample" in str(w.message))
    decoded = 4 - int(message.split(": ")[1].split()[0])
    assert decoded >= 1 and abs(sampled.mean[0] - 200 / 255) < 1e-3
    with pytest.raises(ValueError, match=r"statistics_sample|sample"):
        data.from_image_folder(tmp_path, image_size=4, statistics_sample=0)


def test_training_crops_come_from_the_original_resolution(tmp_path):
    """A fine 2-pixel checkerboard: resized to 8x8 first it is flat grey; a
    small crop of the original, resized up, keeps its contrast."""
    board = ((np.indices((128, 128)) // 2).sum(axis=0) % 2 * 255).astype(np.uint8)
    tf.io.write_file(str(tmp_path / "board.png"), tf.io.encode_png(np.repeat(board[..., None], 3, -1)))
    given = data.Normalization((0.0,) * 3, (1.0,) * 3)
    common = dict(image_size=8, batch_size=1, normalization=given, seed=0)
    crop = next(iter(data.from_image_folder(tmp_path, crop_scale=(0.002, 0.01), **common)))
    whole = next(iter(data.from_image_folder(tmp_path, training=False, **common)))
    assert float(np.std(whole)) < 0.05  # the whole board at 8x8 is grey
    assert float(np.std(crop)) > 0.2, float(np.std(crop))


def test_shards_split_the_files_between_processes(tmp_path):
    write_image_folder(tmp_path)
    given = data.Normalization((0.5,) * 3, (0.25,) * 3)
    shares = [data.from_image_folder(tmp_path, image_size=8, batch_size=1, normalization=given,
                                     shard=(2, index)).file_paths for index in (0, 1)]
    assert set(shares[0]).isdisjoint(shares[1]) and len(shares[0]) + len(shares[1]) == 6
    with pytest.raises(ValueError, match=r"shard.*index < count.*\(2, 2\)"):
        data.from_image_folder(tmp_path, image_size=8, normalization=given, shard=(2, 2))


def test_a_cached_folder_keeps_decoded_images_and_still_reshuffles(tmp_path):
    for index in range(8):
        tf.io.write_file(str(tmp_path / f"{index}.png"),
                         tf.io.encode_png(np.full((6, 6, 3), index * 30, np.uint8)))
    given = data.Normalization((0.0,) * 3, (1.0,) * 3)
    dataset = data.from_image_folder(tmp_path, image_size=4, batch_size=8, normalization=given,
                                     cache=True, seed=0, crop_scale=(0.9, 1.0))
    orders = [np.round(np.asarray(batch)[:, 0, 0, 0] * 255 / 30).tolist() for batch in dataset.repeat(2)]
    assert sorted(orders[0]) == list(range(8)) and orders[0] != orders[1]


def test_skipped_files_are_reported_at_the_end_of_each_epoch(tmp_path):
    write_image_folder(tmp_path)
    given = data.Normalization((0.5,) * 3, (0.25,) * 3)
    dataset = data.from_image_folder(tmp_path, image_size=16, batch_size=1, normalization=given, seed=0)
    report = keras_dsmae.callbacks.SkippedFilesReport(dataset.skipped_files)
    model = tiny_model(seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    with pytest.warns(UserWarning, match=r"epoch 2: 1 undecodable image file.*broken.png"):
        history = model.fit(dataset, epochs=2, verbose=0,
                            callbacks=[report, keras_dsmae.callbacks.TeacherEMA()])
    assert report.reports == [(1, 1), (2, 1)]
    assert history.params["steps"] == dataset.batches_per_epoch == 6  # files listed // batch


def test_real_size_presets_and_the_preset_for_each_image_size():
    small = presets.preset_config("dsmae_vit_small_224")
    base = presets.preset_config("dsmae_vit_base_224")
    assert (small["image_size"], small["patch_size"], small["encoder_dim"]) == (224, 16, 384)
    assert (base["encoder_dim"], base["encoder_heads"], base["decoder_dim"]) == (768, 12, 512)
    assert "Untrained" in presets.describe_presets()["dsmae_vit_base_224"]
    model = keras_dsmae.DSMAE.from_preset("dsmae_vit_small_224", encoder_depth=1, decoder_depth=1)
    assert model.encoder.num_patches == 196
    assert presets.preset_for_image_size((96, 96)) == ("dsmae_vit_tiny_stl10", {})
    assert presets.preset_for_image_size((64, 64)) == ("dsmae_vit_tiny_stl10", {"image_size": (64, 64)})
    with pytest.raises(ValueError, match=r"image_size.*100x100.*16x16.*multiples of 16"):
        presets.preset_for_image_size((100, 100))


def _job(tmp_path, dataset, **options):
    settings = dict(output_dir=str(tmp_path / "run"), epochs=1, steps_per_epoch=2, batch_size=2,
                    preset="dsmae_vit_tiny_cifar", image_size=16, verbose=0,
                    model_overrides={**TINY_JOB, "patch_size": 4}, mixed_precision="float32")
    settings.update(options)
    return run_pretraining(dataset, **settings)


def test_pretraining_on_a_numpy_file_with_its_own_crop_scale(tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (12, 20, 20), dtype=np.uint8)  # grayscale
    np.save(tmp_path / "faces.npy", images)
    from keras_dsmae.data.source_npy import NpySource
    crop_scales, batches = [], NpySource.training_batches
    monkeypatch.setattr(NpySource, "training_batches", lambda self, *args, **kwargs: (
        crop_scales.append(kwargs["crop_scale"]), batches(self, *args, **kwargs))[1])
    model, history = _job(tmp_path, f"npy:{tmp_path / 'faces.npy'}", crop_scale_min=0.5)
    assert np.isfinite(history.history["loss"]).all() and model.encoder.image_size == (16, 16)
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["dataset"].startswith("npy:") and len(config["normalization"]["mean"]) == 3
    assert crop_scales == [(0.5, 1.0)] and config["crop_scale_min"] == 0.5
    with pytest.raises(ValueError, match=r"crop_scale_min.*\(0, 1\].*crop_scale_min=0"):
        _job(tmp_path, f"npy:{tmp_path / 'faces.npy'}", crop_scale_min=0)
    assert RUN_FILES <= set(os.listdir(tmp_path / "run"))
    np.save(tmp_path / "flat.npy", np.zeros((5, 7)))
    with pytest.raises(ValueError, match=r"dataset.*\(N, H, W\).*\(5, 7\)"):
        _job(tmp_path, f"npy:{tmp_path / 'flat.npy'}")


def test_tfds_names_the_job_cannot_use_are_refused_before_any_work(tmp_path):
    # A TFDS name that trains is the command test below (mock data).
    with pytest.raises(ValueError, match=r"TFDS does not know 'no_such_dataset_here'"):
        _job(tmp_path, "tfds:no_such_dataset_here")
    with pytest.raises(ValueError, match="use_synthetic_data.*catalog"):
        _job(tmp_path, "tfds:imagenette/160px", use_synthetic_data=True)
    assert not (tmp_path / "run").exists()


def test_undecodable_file_stops_the_job_naming_it_with_on_error_raise(tmp_path):
    write_image_folder(tmp_path / "images")
    given = data.Normalization((0.5,) * 3, (0.25,) * 3)
    with pytest.raises(data.UndecodableFile, match="broken.png"):
        _job(tmp_path, f"folder:{tmp_path / 'images'}", on_error="raise", normalization=given,
             steps_per_epoch=6, batch_size=1)



def test_installed_pretraining_command_on_a_folder_writes_the_example_outputs(tmp_path):
    write_mixed_folder(tmp_path / "images")
    command = os.path.join(os.path.dirname(sys.executable), "keras-dsmae-pretrain")
    assert os.path.exists(command), "pip install -e . registers keras-dsmae-pretrain"
    overrides = json.dumps({**TINY_JOB, "encoder_dim": 24, "encoder_heads": 2})
    result = subprocess.run(
        [command, f"--dataset=folder:{tmp_path / 'images'}", "--image_size=96", "--epochs=1",
         "--steps_per_epoch=3", "--batch_size=2", f"--output_dir={tmp_path / 'run'}",
         f"--model_overrides={overrides}", "--mixed_precision=float32"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert RUN_FILES <= set(os.listdir(tmp_path / "run"))
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["preset"] == "dsmae_vit_tiny_stl10" and config["image_size"] == [96, 96]
    assert "undecodable image file" in result.stderr
    help_text = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=120).stdout
    assert "--dataset" in help_text and "folder:PATH" in help_text and "--image_size" in help_text


def test_normalization_flag_parses_and_refuses_with_the_flag_named():
    from keras_dsmae.cli.common import parse_normalization

    assert parse_normalization("imagenet").mean == (0.485, 0.456, 0.406)
    given = parse_normalization("0.5,0.4,0.3/0.2,0.2,0.25")
    assert given.mean == (0.5, 0.4, 0.3) and given.std == (0.2, 0.2, 0.25)
    assert parse_normalization(None) is None
    for bad in ("0.5,0.5/0.2", "0.5", "a,b,c/1,1,1", "0.5,0.5,0.5/0,1,1"):
        with pytest.raises(ValueError, match=r"--normalization.*imagenet"):
            parse_normalization(bad)


def test_a_given_normalization_is_used_for_a_catalog_data_set_too(tmp_path):
    given = data.Normalization((0.1, 0.2, 0.3), (0.5, 0.5, 0.5))
    source = data.open_source("cifar10", use_synthetic_data=True, synthetic_examples=8)
    images = source.display_images(4, image_size=(32, 32), num_channels=3, normalization=given, seed=0)
    catalog = source.display_images(4, image_size=(32, 32), num_channels=3,
                                    normalization=source.default_normalization(3), seed=0)
    np.testing.assert_allclose(images * 0.5 + np.array([0.1, 0.2, 0.3]),
                               catalog * np.array(data.get_spec("cifar10").std)
                               + np.array(data.get_spec("cifar10").mean), atol=1e-5)
    _, history = _job(tmp_path, "cifar10", use_synthetic_data=True, synthetic_examples=8,
                      normalization=given, image_size=None, preset=None)
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["normalization"]["mean"] == [0.1, 0.2, 0.3]


def test_pretraining_command_on_a_tfds_name_through_mock_data(tmp_path, capsys):
    # Also a compiled step: XLA on TensorFlow and JAX (torch.compile is left out: it takes
    # minutes on a CPU; `--jit_compile=false` reaching PyTorch is the MAE test of the job).
    from absl import flags

    from keras_dsmae.cli import pretrain as command

    compiles = keras.backend.backend() != "torch"
    flags.FLAGS.unparse_flags()  # another test of this process may have parsed them
    argv = ["keras-dsmae-pretrain", "--dataset=tfds:imagenette/160px", "--image_size=96",
            "--epochs=1", "--steps_per_epoch=3", "--batch_size=2", f"--output_dir={tmp_path / 'run'}",
            f"--model_overrides={json.dumps(TINY_JOB)}", f"--jit_compile={'true' if compiles else 'auto'}",
            "--mixed_precision=float32"]
    with tfds.testing.mock_data(num_examples=12), pytest.raises(SystemExit) as finished:
        command.main(argv)
    flags.FLAGS.unparse_flags()
    assert finished.value.code in (0, None)
    assert f"compiled step: {compiles}" in capsys.readouterr().out
    assert RUN_FILES <= set(os.listdir(tmp_path / "run"))
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["dataset"] == "tfds:imagenette/160px" and config["preset"] == "dsmae_vit_tiny_stl10"
    with open(tmp_path / "run" / "history.csv", newline="") as file:
        losses = [float(row["loss"]) for row in csv.DictReader(file)]
    assert len(losses) == 1 and np.isfinite(losses).all()


def test_evaluation_splits_of_a_labelled_folder_and_refusals(tmp_path):
    write_labelled_folder(tmp_path / "labelled")
    train, test, classes, normalization = data.evaluation_splits(
        f"folder:{tmp_path / 'labelled'}", image_size=(16, 16), num_channels=3, batch_size=4)
    labels = np.concatenate([np.asarray(b[1]) for b in test])
    assert classes == 2 and sorted(labels.tolist()) == [0] * 4 + [1] * 4
    assert next(iter(train))[0].shape == (4, 16, 16, 3) and len(normalization.mean) == 3
    with pytest.raises(ValueError, match=r"train/ and test/"):
        data.evaluation_splits(f"folder:{tmp_path / 'labelled' / 'train'}", image_size=16, num_channels=3)
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"needs labels.*folder:PATH"):
        data.evaluation_splits(f"npy:{tmp_path / 'x.npy'}", image_size=16, num_channels=3)


@pytest.mark.slow
def test_the_tutorial_then_the_probe_example_and_the_finetune_command_on_a_labelled_folder(tmp_path):
    # The tutorial (examples/own_images_end_to_end.py: pretrain, score, export, load in
    # transformers), then one of each other kind of entry point on its encoder: an example
    # script (examples/linear_probe.py) and an installed command (keras-dsmae-finetune).
    write_labelled_folder(tmp_path / "labelled")
    tutorial = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "own_images_end_to_end.py"),
         f"--images={tmp_path / 'labelled'}", f"--output_dir={tmp_path / 'run'}", "--image_size=16",
         "--epochs=1", "--steps_per_epoch=2", "--batch_size=4", "--probe_epochs=1", "--knn_k=3",
         "--encoder_depth=1", "--mixed_precision=float32"],
        capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert tutorial.returncode == 0, tutorial.stdout[-2000:] + tutorial.stderr[-3000:]
    assert "kNN accuracy" in tutorial.stdout and "linear-probe accuracy" in tutorial.stdout
    assert "transformers.ViTModel loads" in tutorial.stdout, tutorial.stdout[-2000:]
    card = (tmp_path / "run" / "hf_vit" / "README.md").read_text()
    assert "knn accuracy |" in card and "linear probe accuracy |" in card
    common = [f"--dataset=folder:{tmp_path / 'labelled'}", f"--encoder={tmp_path / 'run' / 'encoder.keras'}",
              "--batch_size=4"]
    probe = subprocess.run([sys.executable, os.path.join(REPO, "examples", "linear_probe.py"), *common,
                            "--epochs=2", "--knn_k=3"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert "kNN (k=3) accuracy" in probe.stdout and "linear-probe accuracy" in probe.stdout
    finetune = os.path.join(os.path.dirname(sys.executable), "keras-dsmae-finetune")
    tune = subprocess.run([finetune, *common, "--epochs=1", f"--output_dir={tmp_path / 'ft'}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert tune.returncode == 0, tune.stderr[-3000:]
    assert "fine-tuned test accuracy" in tune.stdout and (tmp_path / "ft" / "classifier.keras").exists()
    assert (tmp_path / "ft" / "checkpoints" / "epoch_0001" / "model.weights.h5").exists()  # a rerun resumes


def test_knn_monitor_resizes_its_images_for_an_encoder_of_another_size():
    monitor = keras_dsmae.callbacks.KNNMonitor.for_dataset(
        "cifar10", reference_examples=8, query_examples=4, use_synthetic_data=True, image_size=16)
    assert next(iter(monitor.train_data))[0].shape[1:] == (16, 16, 3)
    assert next(iter(monitor.val_data))[0].shape[1:] == (16, 16, 3)
