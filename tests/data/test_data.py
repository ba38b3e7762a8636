"""tf.data pipelines: TFDS (mocked offline), numpy arrays, image folders."""

import os
import warnings
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_dsmae
from keras_dsmae import data
from tests.helpers.builders import tiny_model
from tests.helpers.folders import write_image_folder


def as_numpy(dataset):
    return list(dataset.as_numpy_iterator())


@pytest.mark.parametrize("name, shape", [("cifar10", (32, 32, 3)), ("cifar100", (32, 32, 3)), ("stl10", (96, 96, 3))])
def test_tfds_pipelines_with_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=20):
        pretrain = data.pretraining_dataset(name, batch_size=8, seed=0)
        batches = as_numpy(pretrain)
        train = as_numpy(data.labelled_dataset(name, "train", batch_size=8))
        test = as_numpy(data.labelled_dataset(name, "test", batch_size=8))
        spec = data.get_spec(name)
        source_size = sum(1 for _ in data.load_tfds_split(name, spec.pretrain_split))
    assert len(batches) == source_size // 8  # the partial batch is dropped for training
    assert all(b.shape == (8, *shape) and b.dtype == np.float32 for b in batches)
    assert [len(b[0]) for b in train] == [8, 8, 4]  # evaluation keeps the last batch
    images, labels = test[0]
    assert images.shape == (8, *shape) and labels.dtype == np.int32
    # normalised with the data set's statistics: roughly zero-centred
    assert abs(np.concatenate(batches).mean()) < 1.0


def test_tfds_failure_explains_data_dir_and_synthetic_data(tmp_path):
    # The real builder path up to the download, which fails as it does offline
    # (without the patch TFDS retries the network for minutes).
    offline = ConnectionError("Failed to establish a new connection")
    with mock.patch.object(tfds.download.DownloadManager, "download_and_extract", side_effect=offline):
        with pytest.raises(RuntimeError, match=r"(?s)ConnectionError.*--data_dir.*--use_synthetic_data"):
            data.load_tfds_split("cifar10", "train", data_dir=str(tmp_path / "nothing"))


def test_unknown_dataset_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"dataset.*'cifar10'.*'mnist'"):
        data.pretraining_dataset("mnist")


def test_synthetic_data_has_the_data_set_format():
    train = data.labelled_dataset("cifar100", batch_size=16, use_synthetic_data=True,
                                  synthetic_examples=64, seed=1)
    images, labels = next(iter(train))
    assert images.shape == (16, 32, 32, 3)
    assert labels.numpy().max() < 100
    stl = data.pretraining_dataset("stl10", batch_size=4, use_synthetic_data=True,
                                   synthetic_examples=8, seed=1)
    assert next(iter(stl)).shape == (4, 96, 96, 3)


def test_seed_makes_order_and_augmentation_reproducible_and_epochs_differ():
    images = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)

    def make(seed):
        return data.from_arrays(images, batch_size=8, seed=seed, training=True)

    first, second = as_numpy(make(3)), as_numpy(make(3))
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))
    dataset = make(3)
    epoch_one, epoch_two = as_numpy(dataset), as_numpy(dataset)
    assert not np.allclose(np.concatenate(epoch_one), np.concatenate(epoch_two))
    other = as_numpy(make(4))
    assert not np.allclose(np.concatenate(first), np.concatenate(other))


def test_augmentation_crops_and_flips_but_evaluation_does_not():
    image = np.tile(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (16, 1, 3))[None]
    images = np.repeat(image, 16, axis=0)  # a horizontal ramp
    norm = data.Normalization((0.5,) * 3, (0.25,) * 3)
    evaluation = np.concatenate(as_numpy(data.from_arrays(images, batch_size=16, training=False, normalization=norm)))
    np.testing.assert_allclose(evaluation, np.repeat((image / 255.0 - 0.5) / 0.25, 16, 0), atol=1e-5)
    augmented = np.concatenate(as_numpy(data.from_arrays(images, batch_size=16, seed=0, normalization=norm)))
    slopes = np.sign(augmented[:, 8, -1, 0] - augmented[:, 8, 0, 0])
    assert set(slopes) == {-1.0, 1.0}  # some flipped, some not
    assert not np.allclose(augmented, evaluation)


def test_from_arrays_converts_size_channels_and_keeps_labels():
    gray = np.random.default_rng(1).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    dataset = data.from_arrays(gray, np.arange(10), batch_size=4, image_size=32,
                               num_channels=3, training=False)
    batches = as_numpy(dataset)
    assert batches[0][0].shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(10))
    norm = dataset.normalization
    assert len(norm.mean) == 3 and norm.mean[0] == pytest.approx(norm.mean[1])
    floats = data.from_arrays(gray[..., None] / 255.0, batch_size=5, training=False)
    assert next(iter(floats)).shape == (5, 28, 28, 1)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"images": np.zeros((0, 8, 8, 3), np.uint8)}, "images"),
        ({"images": np.zeros((4, 8, 8, 5), np.uint8)}, "images"),
        ({"images": np.zeros((4, 8, 8, 3), np.int32)}, "dtype"),
        ({"images": np.zeros((4, 8, 8, 3), np.uint8), "labels": np.zeros(3)}, "labels"),
        ({"images": np.zeros((4, 8, 8, 3), np.uint8), "num_channels": 2}, "num_channels"),
        ({"images": np.zeros((4, 8, 8, 3), np.uint8), "crop_scale": (0.5, 0.1)}, "crop_scale"),
        ({"images": np.zeros((4, 8, 8, 3), np.uint8), "batch_size": 0}, "batch_size"),
    ],
)
def test_from_arrays_rejects_bad_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        data.from_arrays(**kwargs)


def test_from_arrays_refuses_float_images_outside_the_unit_interval():
    raw = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"(?s)images.*\[0, 1\].*255.*uint8"):
        data.from_arrays(raw)
    with pytest.raises(ValueError, match=r"images.*\[0, 1\].*-0.5"):
        data.from_arrays(np.full((8, 8, 8, 3), -0.5, "float32"))


def test_from_arrays_refuses_non_finite_images_with_a_count():
    images = np.random.default_rng(0).random((8, 8, 8, 3)).astype("float32")
    images[2, 0, 0, 0] = np.nan
    images[5, 1, 1, 1] = np.inf
    with pytest.raises(ValueError, match=r"images.*2 of 8.*non-finite.*\[2, 5\]"):
        data.from_arrays(images)


@pytest.mark.parametrize("source", ["arrays", "folder"])
def test_a_batch_larger_than_the_data_is_refused_when_training(tmp_path, source):
    if source == "arrays":
        make = lambda **kw: data.from_arrays(np.zeros((6, 8, 8, 3), np.uint8), **kw)  # noqa: E731
    else:
        write_image_folder(tmp_path)
        make = lambda **kw: data.from_image_folder(tmp_path, image_size=8, **kw)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the folder's corrupt file
        with pytest.raises(ValueError, match=r"batch_size=64.*(6|5) images.*no batch"):
            make(batch_size=64)
        assert len(as_numpy(make(batch_size=64, training=False))) == 1  # evaluation keeps it



def test_image_folder_streams_and_skips_corrupt_files_naming_them(tmp_path):
    write_image_folder(tmp_path)
    with pytest.warns(UserWarning, match=r"Normalisation sample: 1 undecodable.*broken.png"):
        dataset = data.from_image_folder(tmp_path, image_size=16, batch_size=2, training=False)
    assert dataset.class_names == ["cats", "dogs"]
    assert len(dataset.file_paths) == 6  # listed; nothing was decoded to build the dataset
    batches = as_numpy(dataset)
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.shape == (5, 16, 16, 3) and np.isfinite(images).all()
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    assert [os.path.basename(p) for p in dataset.skipped_files.take_new()] == ["broken.png"]
    # the sampled normalisation (of the noise images at full size; resizing
    # them down averages some noise away) centres the data
    assert abs(images.mean()) < 0.3 and 0.3 < images.std() < 1.4
    with pytest.warns(UserWarning, match="Normalisation sample: 1 undecodable"):
        gray = data.from_image_folder(tmp_path, image_size=(8, 12), num_channels=1,
                                      batch_size=5, seed=0)
    assert next(iter(gray))[0].shape == (5, 8, 12, 1)


def test_image_folder_can_refuse_corrupt_files(tmp_path):
    write_image_folder(tmp_path)
    with pytest.raises(data.UndecodableFile, match=r"broken.png.*on_error='skip'"):
        data.from_image_folder(tmp_path, image_size=16, on_error="raise")
    given = data.Normalization((0.5,) * 3, (0.25,) * 3)
    dataset = data.from_image_folder(tmp_path, image_size=16, batch_size=1, on_error="raise",
                                     normalization=given, training=False)
    with pytest.raises(Exception, match="broken.png"):
        as_numpy(dataset)
    assert "broken.png" in str(dataset.skipped_files.failure)
    with pytest.raises(ValueError, match="on_error"):
        data.from_image_folder(tmp_path, image_size=16, on_error="ignore")
    with pytest.raises(ValueError, match="directory"):
        data.from_image_folder(tmp_path / "missing", image_size=16)


def test_pipeline_feeds_fit_on_this_backend(tmp_path):
    write_image_folder(tmp_path)
    with pytest.warns(UserWarning, match="Normalisation sample: 1 undecodable"):
        dataset = data.from_image_folder(tmp_path, image_size=16, batch_size=2, seed=0)
    model = tiny_model(seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(dataset, epochs=2, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()]).history
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
