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
- `"auto"`: `"device"` (see README, "Feeding the accelerator", for the
  measurement behind it).
"""

import numpy as np
import tensorflow as tf

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


def seed_words(seed):
    """A `(2,)` int64 stateless seed from an int seed; None draws one."""
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    return tf.constant([seed, 0], tf.int64)


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


def epoch_order(num_examples, batch_size, seed):
    """Index batches from one permutation per epoch, fixed by (seed, epoch).

    Returns:
        `(dataset, start_at_epoch)`: an endless `tf.data.Dataset` of `(B,)`
        int32 batches, epoch after epoch (each epoch drops its last partial
        batch), and a callable that sets the epoch the next iterator starts
        at (`fit` calls it with its first epoch, so a resumed run continues
        the order of the run it resumes).
    """
    check_batch_size(batch_size, num_examples)
    words = seed_words(seed)
    with tf.device("/CPU:0"):
        first_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int32), seed=words + tf.stack([tf.constant(0, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    epochs = tf.data.Dataset.counter().map(lambda count: count + first_epoch.read_value())
    dataset = epochs.flat_map(one_epoch)
    return dataset, lambda epoch: first_epoch.assign(int(epoch))


def resident_pipeline(images, labels, *, batch_size, image_size, normalization, crop_scale, seed,
                      with_labels):
    """Training batches of indices into `images`, which the model keeps on
    the device.

    Args:
        images: `(N, H0, W0, C)` uint8 numpy images.
        labels: `(N,)` labels (used when `with_labels`).
        other arguments: see `pipeline.build_pipeline`.

    Returns:
        the endless index dataset (of `(indices, labels)` with labels),
        with `device_input` (what the model does with the indices) and
        `batches_per_epoch` (`N // batch_size`) attached.
    """
    dataset, start_at_epoch = epoch_order(len(images), batch_size, seed)
    if with_labels:
        label_table = tf.constant(np.asarray(labels).astype("int32"))
        dataset = dataset.map(lambda indices: (indices, tf.gather(label_table, indices)))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset.device_input = device_input(image_size, normalization, crop_scale,
                                        resident_images=images, start_at_epoch=start_at_epoch)
    dataset.batches_per_epoch = len(images) // batch_size
    return dataset
