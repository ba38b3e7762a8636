"""Feeding the accelerator: which part of the pretraining augmentation runs
where, and data sets that stay on the device.

`augment_on` of the training pipelines:

- `"host"`: tf.data crops, resizes, flips and normalises each image on the
  CPU and sends float32 batches (the pipeline of 0.2).
- `"device"`: tf.data sends uint8 batches and the model augments them in
  its compiled step (`layers.DeviceAugmentation`). Images of one fixed size
  are sent as they are and cropped on the device; when all of them fit in
  `RESIDENT_LIMIT_BYTES` they are put on the device once and a step
  receives only `(B,)` indices, from a permutation per epoch fixed by
  (seed, epoch) (in one process; several JAX processes, each reading its
  own share, get uint8 batches instead). Images of mixed sizes (folders)
  are still cropped from their originals on the host; only the flip and
  the normalisation move.
- `"auto"`: `"device"` (see benchmarks/README.md, "Feeding the accelerator", for the
  measurement behind it).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_dsmae.data.epoch_stream import EpochStream, TrainingPasses
from keras_dsmae.models.device_input import DeviceInput
from keras_dsmae.utils import validation

AUGMENT_ON = ("auto", "host", "device")
RESIDENT_LIMIT_BYTES = 4 * 1024**3  # CIFAR-10/100: 150 MB, STL-10 unlabelled: 2.8 GB


def resolve_augment_on(augment_on):
    """`"host"` or `"device"` for an `augment_on` argument."""
    validation.check_choice("augment_on", augment_on, AUGMENT_ON)
    return "device" if augment_on == "auto" else augment_on


def fits_on_device(num_examples, image_shape):
    """Whether `num_examples` uint8 images of `image_shape` `(H, W, C)`
    take at most `RESIDENT_LIMIT_BYTES` (read at each call; unknown counts
    or sizes never fit)."""
    if not num_examples or num_examples < 0 or image_shape is None or None in tuple(image_shape):
        return False
    return num_examples * int(np.prod(image_shape)) <= RESIDENT_LIMIT_BYTES


def device_input(image_size, normalization, crop_scale, crop=True, resident_images=None,
                 start_at_epoch=None):
    """The `DeviceInput` a pipeline carries for the model."""
    return DeviceInput(tuple(image_size), tuple(normalization.mean), tuple(normalization.std),
                       crop_scale=tuple(crop_scale), crop=crop, resident_images=resident_images,
                       start_at_epoch=start_at_epoch)


def materialize(dataset, batch_size=4096):
    """Stack a dataset of `(uint8 image, label)` of one size into numpy
    `(images, labels)`."""
    images, labels = [], []
    for image_batch, label_batch in dataset.batch(batch_size).as_numpy_iterator():
        images.append(image_batch)
        labels.append(label_batch)
    return np.concatenate(images), np.concatenate(labels)


def int_seed(seed):
    """`seed`, or (None) one drawn at random: the int every pass key of a
    training pipeline is drawn from."""
    return int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)


def check_batch_size(batch_size, num_examples):
    """`ValueError` when training batches of `batch_size` (which drop the
    last partial batch) cannot be made from `num_examples` images (None or
    negative: unknown, not checked)."""
    validation.check_int("batch_size", batch_size, minimum=1)
    if num_examples is not None and 0 <= num_examples < batch_size:
        raise ValueError(
            f"`batch_size` is too large: got batch_size={batch_size} for {num_examples} "
            f"images; training drops the last partial batch, so no batch would be made. "
            f"Allowed: batch_size <= {num_examples} (or more images)."
        )


def index_passes(num_examples, batch_size, seed):
    """`TrainingPasses` of `(B,)` int32 index batches, each pass one
    permutation of `range(num_examples)` fixed by its key (the last partial
    batch dropped)."""
    check_batch_size(batch_size, num_examples)

    def make(key, skip):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int32), seed=tf.stack([key, tf.constant(0, tf.int64)]))
        return tf.data.Dataset.from_tensor_slices(order[skip:]).batch(batch_size, drop_remainder=True)

    return TrainingPasses(make, batch_size, num_examples // batch_size * batch_size, int_seed(seed))


def resident_pipeline(images, labels, *, batch_size, image_size, normalization, crop_scale, seed,
                      with_labels):
    """Training batches of indices into `images`, which the model keeps on
    the device.

    Args:
        images: `(N, H0, W0, C)` uint8 numpy images.
        labels: `(N,)` labels (used when `with_labels`).
        other arguments: see `pipeline.build_pipeline`.

    Returns:
        the endless index dataset (of `(indices, labels)` with labels), one
        permutation per epoch fixed by (seed, epoch), with `device_input`
        (what the model does with the indices; `fit` tells it the epoch to
        start at), `batches_per_epoch` (`N // batch_size`) and
        `training_passes` attached.
    """
    passes = index_passes(len(images), batch_size, seed)
    if with_labels:
        label_table = tf.constant(np.asarray(labels).astype("int32"))
        indices_of = passes.make
        passes = dataclasses.replace(passes, make=lambda key, skip: indices_of(key, skip).map(
            lambda indices: (indices, tf.gather(label_table, indices))))
    stream = EpochStream(passes, len(images) // batch_size)
    dataset = stream.dataset()
    dataset.device_input = device_input(image_size, normalization, crop_scale,
                                        resident_images=images, start_at_epoch=stream.start_at)
    dataset.batches_per_epoch = len(images) // batch_size
    dataset.training_passes = passes
    return dataset
