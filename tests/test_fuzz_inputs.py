"""Malformed inputs to the public entry points: each gets a `ValueError`
that names the argument, before any work is done (no TypeError,
IndexError or backend error from deep inside)."""

import numpy as np
import pytest

import keras_dsmae
from keras_dsmae import data, evaluation
from keras_dsmae.training import run_pretraining
from tests.helpers.builders import TINY, TINY_JOB_AT_32
from tests.helpers.paths import REPO

IMAGES = np.zeros((4, 8, 8, 3), np.uint8)
FLOATS = np.full((4, 8, 8, 3), 0.5, np.float32)


def with_nan():
    images = FLOATS.copy()
    images[1, 0, 0, 0] = np.nan
    return images


FROM_ARRAYS = [
    ("images", dict(images=None)),
    ("images", dict(images=np.array([["a", "b"]] * 4))),
    ("images", dict(images=np.zeros((4, 8, 8, 3), bool))),
    ("images", dict(images=np.zeros((4, 8, 8, 3), np.complex64))),
    ("images", dict(images=np.zeros((4, 8), np.uint8))),
    ("images", dict(images=np.zeros((4, 8, 8, 3, 1), np.uint8))),
    ("images", dict(images=with_nan())),
    ("images", dict(images=FLOATS * 255)),
    ("images", dict(images=-FLOATS)),
    ("labels", dict(images=IMAGES, labels=np.zeros(5))),
    ("labels", dict(images=IMAGES, labels=np.zeros((4, 2)))),
    ("batch_size", dict(images=IMAGES, batch_size="8")),
    ("batch_size", dict(images=IMAGES, batch_size=-1)),
    ("batch_size", dict(images=IMAGES, batch_size=5)),
    ("image_size", dict(images=IMAGES, image_size=(0, 8))),
    ("image_size", dict(images=IMAGES, image_size="big")),
    ("num_channels", dict(images=IMAGES, num_channels=4)),
    ("crop_scale", dict(images=IMAGES, crop_scale=(0.0, 1.0))),
    ("seed", dict(images=IMAGES, batch_size=2, seed="x")),
    ("cache", dict(images=IMAGES, batch_size=2, cache="maybe")),
    ("normalization", dict(images=IMAGES, batch_size=2, normalization="imagenet")),
]


@pytest.mark.parametrize("argument, kwargs", FROM_ARRAYS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(FROM_ARRAYS)])
def test_from_arrays(argument, kwargs):
    with pytest.raises(ValueError, match=argument):
        data.from_arrays(**kwargs)


def image_folder(root, count=3):
    import tensorflow as tf

    for index in range(count):
        tf.io.write_file(str(root / f"{index}.png"), tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)))
    return root


FROM_IMAGE_FOLDER = [
    ("directory", lambda root: dict(directory=str(root / "missing"), image_size=8)),
    ("directory", lambda root: dict(directory=str(image_folder(root) / "0.png"), image_size=8)),
    ("directory", lambda root: dict(directory=str(root), image_size=8)),  # no images in it
    ("image_size", lambda root: dict(directory=str(image_folder(root)), image_size=None)),
    ("num_channels", lambda root: dict(directory=str(image_folder(root)), image_size=8, num_channels=2)),
    ("on_error", lambda root: dict(directory=str(image_folder(root)), image_size=8, on_error="warn")),
    ("batch_size", lambda root: dict(directory=str(image_folder(root)), image_size=8, batch_size=0)),
    ("batch_size", lambda root: dict(directory=str(image_folder(root)), image_size=8, batch_size=4)),
]


@pytest.mark.parametrize("argument, make", FROM_IMAGE_FOLDER,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(FROM_IMAGE_FOLDER)])
def test_from_image_folder(tmp_path, argument, make):
    with pytest.raises(ValueError, match=argument):
        data.from_image_folder(**make(tmp_path))


DSMAE_ARGUMENTS = [
    ("patch_size", dict(patch_size=0)),
    ("image_size", dict(patch_size=3)),
    ("image_size", dict(image_size=-1)),
    ("encoder_dim", dict(encoder_dim=0)),
    ("encoder_depth", dict(encoder_depth=0)),
    ("decoder_depth", dict(decoder_depth=-1)),
    ("mlp_ratio", dict(mlp_ratio=0)),
    ("drop_path_rate", dict(drop_path_rate=1.5)),
    ("contrast_weight", dict(contrast_weight=-1)),
    ("mask_ratio", dict(mask_ratio=None)),
    ("num_channels", dict(num_channels=0)),
    ("use_cls_token", dict(use_cls_token="yes")),
    ("denoise_visible", dict(denoise_visible=1)),
    ("contrast_temperature", dict(contrast_temperature=float("inf"))),
]


@pytest.mark.parametrize("argument, overrides", DSMAE_ARGUMENTS,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(DSMAE_ARGUMENTS)])
def test_dsmae_constructor(argument, overrides):
    with pytest.raises(ValueError, match=argument):
        keras_dsmae.DSMAE(**{**TINY, **overrides})


PRETRAINING_JOB = [
    ("dataset", dict(dataset="imagenet")),
    ("epochs", dict(epochs=1.5)),
    ("batch_size", dict(batch_size=0)),
    ("learning_rate", dict(learning_rate=0.0)),
    ("learning_rate", dict(learning_rate=float("nan"))),
    ("warmup_epochs", dict(warmup_epochs=-1)),
    ("steps_per_epoch", dict(steps_per_epoch=0)),
    ("seed", dict(seed=None)),
    ("mixed_precision", dict(mixed_precision="fp8")),
    ("bogus", dict(model_overrides={"bogus": 1})),
    ("reconstruction_every", dict(reconstruction_every=0)),
    ("dataset", dict(dataset="folder:/no/such/folder")),
    ("on_error", dict(on_error="warn")),
    ("image_size", dict(image_size=0)),
    ("normalization", dict(normalization=(0.5, 0.5))),
]


@pytest.mark.parametrize("argument, kwargs", PRETRAINING_JOB,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(PRETRAINING_JOB)])
def test_pretraining_job(tmp_path, argument, kwargs):
    options = dict(dataset="cifar10", output_dir=str(tmp_path / "run"), epochs=1, batch_size=8,
                   use_synthetic_data=True, synthetic_examples=16, verbose=0,
                   model_overrides=TINY_JOB_AT_32)
    options.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        run_pretraining(options.pop("dataset"), **options)
    assert not (tmp_path / "run" / "checkpoints").exists()


def flat_encoder():
    import keras

    return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten()])


EVALUATION = [
    ("k", lambda e, d: evaluation.knn_accuracy(e, d, d, k=0)),
    ("temperature", lambda e, d: evaluation.knn_accuracy(e, d, d, temperature=0)),
    ("pooling", lambda e, d: evaluation.knn_accuracy(e, d, d, pooling="max")),
    ("epochs", lambda e, d: evaluation.linear_probe(e, d, d, epochs=0)),
    ("labels", lambda e, d: evaluation.linear_probe(e, (d[0], d[1][:2]), d)),
    ("images", lambda e, d: evaluation.extract_features(e, "not data")),
]


@pytest.mark.parametrize("argument, call", EVALUATION, ids=[f"{a}-{i}" for i, (a, _) in enumerate(EVALUATION)])
def test_evaluation(argument, call):
    labelled = (FLOATS, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=argument):
        call(flat_encoder(), labelled)


# One failing invocation per command runs as a subprocess (exit status and
# message as a user sees them): the pretraining command's in
# tests/training/test_pretraining.py, the tuning command's in tests/tuning/test_tuning.py,
# the probe's here. Each flag's own check is tested in-process.
@pytest.mark.slow
@pytest.mark.parametrize("script, flags, named", [
    ("examples/linear_probe.py", ["--encoder={tmp}/missing/encoder.keras"], "--encoder"),
])
def test_command_lines_exit_non_zero_with_a_message_naming_the_flag(tmp_path, script, flags, named):
    import os
    import subprocess
    import sys

    command = [sys.executable, os.path.join(REPO, script), "--use_synthetic_data",
               *(flag.format(tmp=tmp_path) for flag in flags)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode != 0
    assert named in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
