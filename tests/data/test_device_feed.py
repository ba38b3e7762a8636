"""Pipelines that leave the augmentation to the device (`augment_on`):
resident data sets fed by indices, uint8 batches, host crops of mixed
sizes; training through each; resident images never saved; a resumed run
continues the same data order."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dsmae import data
from keras_dsmae.callbacks import RunCheckpoint, TeacherEMA
from keras_dsmae.data import device_feed
from keras_dsmae.layers import DeviceAugmentation, ResidentImages
from keras_dsmae.models import DeviceInput
from tests.helpers.builders import tiny_model, to_numpy

BACKEND = keras.backend.backend()


def _images(count=40, size=20, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (count, size, size, 3)).astype("uint8")


def _mixed_size_folder(root, count=24):
    rng = np.random.RandomState(1)
    for index in range(count):
        side = 18 + 3 * (index % 4)
        pixels = rng.randint(0, 256, (side, side + index % 3, 3)).astype("uint8")
        tf.io.write_file(str(root / f"{index}.png"), tf.io.encode_png(pixels))
    return root


def _fit(dataset, epochs=1, model_overrides=None, **compile_kwargs):
    keras.utils.set_random_seed(0)
    model = tiny_model(seed=0, **(model_overrides or {}))
    model.use_device_input(dataset.device_input)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), **compile_kwargs)
    history = model.fit(dataset, epochs=epochs, verbose=0, callbacks=[TeacherEMA()])
    return model, history.history


def test_each_placement_yields_what_the_model_finishes_and_trains_on_it(tmp_path, monkeypatch):
    """Resident (indices), uint8 originals over the budget, and host crops
    of a folder of mixed sizes; resident data and the folder's crops train
    with finite, falling losses, the first under XLA on TensorFlow and JAX
    (no layer in the step turns it off) with two masked copies of each
    augmented image."""
    images, labels = _images(), np.arange(40) % 4
    resident = data.from_arrays(images, labels, batch_size=8, image_size=16, augment_on="device", seed=1)
    assert resident.element_spec[0].shape.as_list() == [8] and resident.batches_per_epoch == 5
    indices, batch_labels = next(iter(resident))
    np.testing.assert_array_equal(labels[indices.numpy()], batch_labels.numpy())
    held = resident.device_input.resident_images
    assert held.dtype == np.uint8 and held.shape == images.shape and np.array_equal(held, images)

    monkeypatch.setattr(device_feed, "RESIDENT_LIMIT_BYTES", 0)
    originals = data.from_arrays(images, batch_size=8, image_size=16, augment_on="device", seed=1)
    assert originals.element_spec.shape.as_list() == [8, 20, 20, 3] and originals.element_spec.dtype == tf.uint8
    assert originals.device_input.crop and originals.device_input.resident_images is None

    folder = data.from_image_folder(_mixed_size_folder(tmp_path), image_size=16, batch_size=8,
                                    augment_on="device", seed=1)
    assert folder.element_spec.shape.as_list() == [8, 16, 16, 3] and not folder.device_input.crop

    xla = {} if BACKEND == "torch" else {"jit_compile": True}  # torch.compile: see benchmarks
    copies = {"masks_per_image": 2}
    for dataset, overrides, compile_kwargs in ((resident, copies, xla), (folder, None, {})):  # uint8: as resident
        model, history = _fit(dataset, epochs=2, model_overrides=overrides, **compile_kwargs)
        assert np.all(np.isfinite(history["loss"])) and history["pixel_loss"][-1] < history["pixel_loss"][0]
        if compile_kwargs:  # no layer of the step turned XLA off (Keras would, with a warning)
            assert model.jit_compile is True
    host = data.from_arrays(images, batch_size=8, image_size=16, augment_on="host", seed=1)
    assert host.element_spec.dtype == tf.float32 and not hasattr(host, "device_input")


def test_bad_placements_and_inputs_are_refused():
    with pytest.raises(ValueError, match=r"augment_on.*'auto', 'host', 'device'.*'gpu'"):
        data.from_arrays(_images(8), batch_size=4, augment_on="gpu")
    with pytest.raises(ValueError, match=r"batch_size.*16.*8 images"):
        data.from_arrays(_images(8), batch_size=16, augment_on="device")
    model = tiny_model(seed=0)
    with pytest.raises(ValueError, match=r"indices.*holds no resident images"):
        model(np.arange(4, dtype="int32"))
    with pytest.raises(ValueError, match=r"normalised float images.*uint8"):
        model(np.zeros((2, 16, 16, 3), "uint8"))


def test_resident_images_are_never_written_to_checkpoints_or_keras_files(tmp_path):
    images = _images(count=256, size=32)  # 786 KB, more than the tiny model's weights
    dataset = data.from_arrays(images, batch_size=8, image_size=16, augment_on="device")
    model = tiny_model(seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    model.optimizer.build(model.trainable_variables)
    sizes = {}
    for state in ("without", "with"):
        if state == "with":
            model.use_device_input(dataset.device_input)
            assert model.resident_images.images.shape == images.shape
        model.save(str(tmp_path / f"{state}.keras"))
        model.save_weights(str(tmp_path / f"{state}.weights.h5"))
        checkpoint = RunCheckpoint(tmp_path / state)
        checkpoint.set_model(model)
        checkpoint.save(1)
        sizes[state] = [os.path.getsize(tmp_path / name) for name in (
            f"{state}.keras", f"{state}.weights.h5", f"{state}/epoch_0001/model.weights.h5")]
    for without, with_images in zip(sizes["without"], sizes["with"]):
        assert with_images - without < 20_000, sizes  # images would add 786,432 bytes
    # another pipeline's settings reconfigure the one augmentation layer (one seed stream)
    model.use_device_input(DeviceInput((16, 16), (0.5,) * 3, (0.25,) * 3, crop_scale=(0.5, 1.0)))
    augmentations = [layer for layer in model._flatten_layers() if isinstance(layer, DeviceAugmentation)]
    assert len(augmentations) == 1 and augmentations[0].crop_scale == (0.5, 1.0)
    assert augmentations[0].std == (0.25,) * 3
    assert tuple(model(np.arange(4, dtype="int32"), training=True)["mask"].shape) == (4, 16)
    loaded = keras.models.load_model(str(tmp_path / "with.keras"))
    assert loaded.resident_images is None
    model.load_weights(str(tmp_path / "with.weights.h5"))  # the held images stay as they are
    np.testing.assert_array_equal(to_numpy(model.resident_images.images), images)


def test_a_resumed_run_continues_the_same_data_order(tmp_path, monkeypatch):
    """Every index batch the model gathers, recorded (eager steps): an
    uninterrupted 2-epoch run, and a run stopped after epoch 1 and resumed
    from its checkpoint, see the same batches; each epoch is a permutation
    of all images, a different one per epoch."""
    seen = []
    original = ResidentImages.call

    def recording(self, indices):
        try:
            seen.append(to_numpy(indices).tolist())
        except Exception:  # symbolic build: no values
            pass
        return original(self, indices)

    monkeypatch.setattr(ResidentImages, "call", recording)
    images = _images(count=16)  # two steps an epoch (eager steps are slow on JAX)

    def run(directory, epochs):
        seen.clear()
        keras.utils.set_random_seed(0)
        model = tiny_model(seed=0)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), run_eagerly=True)
        dataset = data.from_arrays(images, batch_size=8, image_size=16, augment_on="device", seed=3)
        model.fit(dataset, epochs=epochs, verbose=0,
                  callbacks=[TeacherEMA(), RunCheckpoint(directory, verbose=False)])
        return list(seen)

    whole = run(tmp_path / "whole", 2)
    first = run(tmp_path / "resumed", 1)
    resumed = run(tmp_path / "resumed", 2)
    assert len(whole) == 4 and len(first) == 2 and len(resumed) == 2
    assert first == whole[:2] and resumed == whole[2:]
    for epoch in (whole[:2], whole[2:]):
        assert sorted(sum(epoch, [])) == list(range(16))
    assert whole[:2] != whole[2:]
