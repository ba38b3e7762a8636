"""The real TFDS builder path, offline: CIFAR-10 prepared by TFDS' own
`cifar10` builder from small files in the original binary format, then read
through `tfds.load` by the package and by the pretraining job.

`tfds.testing.mock_data` (used elsewhere) bypasses the builder, `tfds.load`
and everything they import; this does not, so a broken install (e.g. a
module that TFDS needs but nothing installs) fails here.
"""

import os
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_dsmae import data
from keras_dsmae.training import run_pretraining
from tests.helpers.builders import TINY_JOB_AT_32

TRAIN_PER_FILE, TEST_EXAMPLES = 6, 10


def write_cifar10_binary(folder, seed=0):
    """The files of `cifar-10-binary.tar.gz`, extracted, with few records:
    each record is one label byte and 3072 image bytes (R, G, B planes)."""
    rng = np.random.default_rng(seed)
    raw = os.path.join(folder, "cifar-10-batches-bin")
    os.makedirs(raw, exist_ok=True)

    def write(name, count):
        labels = (np.arange(count) % 10).astype(np.uint8)[:, None]
        pixels = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        with open(os.path.join(raw, name), "wb") as file:
            file.write(np.concatenate([labels, pixels], axis=1).tobytes())

    for index in range(1, 6):
        write(f"data_batch_{index}.bin", TRAIN_PER_FILE)
    write("test_batch.bin", TEST_EXAMPLES)
    with open(os.path.join(raw, "batches.meta.txt"), "w") as file:
        file.write("\n".join(f"class_{i}" for i in range(10)) + "\n")


@pytest.fixture(scope="module")
def cifar10_data_dir(tmp_path_factory):
    """A TFDS data directory holding CIFAR-10 prepared by the real builder;
    only the download is replaced by the local files."""
    root = tmp_path_factory.mktemp("tfds")
    write_cifar10_binary(str(root / "extracted"))
    with mock.patch.object(
        tfds.download.DownloadManager, "download_and_extract", return_value=str(root / "extracted")
    ):
        tfds.builder("cifar10", data_dir=str(root / "data")).download_and_prepare()
    return str(root / "data")


def test_real_tfds_builder_and_load_work_offline(cifar10_data_dir):
    train = data.load_tfds_split("cifar10", "train", data_dir=cifar10_data_dir)
    examples = list(train.as_numpy_iterator())
    assert len(examples) == 5 * TRAIN_PER_FILE
    image, label = examples[0]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and 0 <= label < 10
    test = data.labelled_dataset("cifar10", "test", batch_size=4, data_dir=cifar10_data_dir)
    assert sum(len(labels) for _, labels in test.as_numpy_iterator()) == TEST_EXAMPLES


def test_pretraining_job_reads_a_prepared_tfds_data_dir(cifar10_data_dir, tmp_path):
    _, history = run_pretraining(
        "cifar10", output_dir=str(tmp_path), data_dir=cifar10_data_dir, epochs=1,
        steps_per_epoch=2, batch_size=8, warmup_epochs=0, mixed_precision="float32",
        model_overrides=TINY_JOB_AT_32, verbose=0,
    )
    assert np.isfinite(history.history["loss"]).all()


def test_a_missing_module_is_reported_as_an_install_problem_not_as_no_internet(tmp_path):
    missing = ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")
    with mock.patch.object(tfds, "load", side_effect=missing):
        with pytest.raises(RuntimeError) as error:
            data.load_tfds_split("cifar10", "train", data_dir=str(tmp_path))
    message = str(error.value)
    assert "importlib_resources" in message and "pip install" in message
    assert "internet" not in message.lower()
