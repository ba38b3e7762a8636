"""Each epoch's batches are a function of (seed, epoch): a stream started at
any (epoch, step) yields exactly what the uninterrupted stream yields from
there, for every kind of source and on both sides of the input (host and
device); where the order is known before the work (file names, arrays) a
resumed stream leaves the consumed examples out before decoding or
augmenting them, and a TFDS set (shuffled after reading) reads and drops
them."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_dsmae import data
from keras_dsmae.data.epoch_stream import EpochStream
from tests.helpers.folders import write_labelled_folder

STEPS = 3  # batches per epoch: less than a pass of the 16 training files (8 batches)
BATCH = 2


def _batches(dataset, count):
    return [np.asarray(batch) for batch in dataset.take(count)]


def _assert_resumes_exactly(train, steps=STEPS, start=(1, 2)):
    whole = _batches(EpochStream(train.training_passes, steps).dataset(), 3 * steps)
    resumed_stream = EpochStream(train.training_passes, steps)
    resumed_stream.start_at(*start)
    offset = start[0] * steps + start[1]
    resumed = _batches(resumed_stream.dataset(), len(whole) - offset)
    assert len(resumed) == len(whole) - offset
    for ours, theirs in zip(resumed, whole[offset:]):
        np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(whole[0], whole[steps])  # each epoch has an order of its own


@pytest.mark.parametrize("augment_on", ["host", "device"])
def test_a_folder_and_npy_file_resume_at_any_step(tmp_path, augment_on):
    write_labelled_folder(tmp_path / "labelled")
    folder = data.open_source(f"folder:{tmp_path / 'labelled' / 'train'}")
    norm = data.Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    settings = dict(image_size=(16, 16), num_channels=3, normalization=norm, seed=3, augment_on=augment_on)
    train = folder.training_batches(BATCH, **settings)
    _assert_resumes_exactly(train)
    _assert_resumes_exactly(train, steps=12, start=(1, 11))  # an epoch of 1.5 passes
    assert train.training_passes.examples_per_pass == 16  # the skip is on the names, before decoding
    np.save(tmp_path / "images.npy", np.random.RandomState(0).randint(0, 256, (10, 16, 16, 3), dtype=np.uint8))
    arrays = data.open_source(f"npy:{tmp_path / 'images.npy'}")
    _assert_resumes_exactly(arrays.training_batches(BATCH, **settings))


def test_a_tfds_set_resumes_at_any_step():
    with tfds.testing.mock_data(num_examples=12):
        source = data.open_source("tfds:imagenette/160px")
        train = source.training_batches(BATCH, image_size=(16, 16), num_channels=3,
                                        normalization=data.Normalization((0.5,) * 3, (0.25,) * 3), seed=3,
                                        augment_on="host")
        _assert_resumes_exactly(train)
        assert train.training_passes.examples_per_pass is None

