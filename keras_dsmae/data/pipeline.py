"""The one tf.data pipeline behind every data source of the package.

Source elements are `(image, label)` with `image` a `(H, W, C')` uint8 or
float-in-[0, 1] tensor of any size and channel count; the pipeline converts
them to the model's size and channels, caches, shuffles, augments,
normalises, batches and prefetches.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_dsmae.data import device_feed
from keras_dsmae.data.augmentation import pretraining_augmentation, random_resized_crop
from keras_dsmae.data.epoch_stream import TrainingPasses, keyed_shuffle, one_pass_per_iteration
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.utils import validation
from keras_dsmae.utils.distribution import process_count

AUTOTUNE = tf.data.AUTOTUNE
CACHE_LIMIT_BYTES = 2 * 1024**3


def to_unit_float(image):
    """uint8/uint16/float image → float32 in [0, 1]."""
    return tf.image.convert_image_dtype(image, tf.float32)


def match_channels(image, num_channels):
    """Convert `(H, W, C')` to `num_channels` (1 or 3): grayscale ↔ RGB, and
    drop an alpha channel."""
    channels = image.shape[-1]
    if channels == num_channels:
        return image
    if channels in (2, 4):  # gray + alpha, RGB + alpha
        image = image[..., : channels - 1]
        channels -= 1
    if channels == 1 and num_channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if channels == 3 and num_channels == 1:
        return tf.image.rgb_to_grayscale(image)
    if channels == num_channels:
        return image
    raise ValueError(
        f"Cannot convert images with {image.shape[-1]} channels to "
        f"num_channels={num_channels}. Allowed: 1 (grayscale) or 3 (RGB) "
        f"images, with or without alpha."
    )


def resize_to(image, image_size):
    """Resize `(H, W, C)` float to `image_size` unless it already matches."""
    if tuple(image.shape[:2]) == tuple(image_size):
        return image
    return tf.clip_by_value(
        tf.image.resize(image, image_size, method="bicubic", antialias=True), 0.0, 1.0
    )


def shuffle_buffer_for(image_size, num_channels=3, budget_bytes=1024**3, most=10_000, least=1_000):
    """Shuffle-buffer length for decoded uint8 images of `image_size` (None:
    unknown, taken as 500x375) that fits `budget_bytes`, within
    [`least`, `most`]."""
    height, width = image_size if image_size is not None else (375, 500)
    fits = budget_bytes // max(height * width * num_channels, 1)
    return int(min(most, max(least, fits)))


def should_cache(cache, num_examples, image_size, num_channels):
    """`cache` is True, False or "auto" (cache when the uint8 images take
    less than 2 GiB)."""
    validation.check_choice("cache", cache, (True, False, "auto"))
    if cache != "auto":
        return cache
    if num_examples is None or num_examples < 0:
        return False
    size = num_examples * image_size[0] * image_size[1] * num_channels
    return size < CACHE_LIMIT_BYTES


def build_pipeline(
    source,
    *,
    image_size,
    num_channels,
    normalization,
    batch_size,
    training,
    with_labels,
    crop_scale=(0.2, 1.0),
    seed=None,
    cache="auto",
    shuffle_buffer=10_000,
    num_examples=None,
    augment_on="host",
    ordered_passes=None,
    exact_num_examples=True,
):
    """Turn `(image, label)` elements into model-ready batches.

    Args:
        source: `tf.data.Dataset` of `(image, label)`.
        image_size: `(H, W)` the model expects.
        num_channels: `C` the model expects.
        normalization: a `Normalization`.
        batch_size: images per batch.
        training: shuffle, random-resized-crop + flip, `drop_remainder`.
            Otherwise: fixed order, resize only, keep the last partial batch.
        with_labels: yield `(images, labels)` instead of images.
        crop_scale: area range of the random resized crop.
        seed: makes the order and every augmentation reproducible.
        cache: True, False or "auto" (decoded uint8 images in memory).
        shuffle_buffer: decoded images in the shuffle buffer when
            training; 0 when `source` is already shuffled (e.g. file names).
        num_examples: size of the source, if known (for "auto" caching).
        augment_on: where the training augmentation runs: "host", "device"
            or "auto" (see `keras_dsmae.data.device_feed`); evaluation
            pipelines (`training=False`) are always finished on the host.
        ordered_passes: for training, instead of a shuffle buffer over
            `source`: `ordered_passes(key, skip)` gives one pass in its own
            order as `(image, label, index)` elements from example `skip` on
            (e.g. file names shuffled by `key`, then decoded).
        exact_num_examples: `num_examples` is exactly what a pass yields, by
            construction (arrays, generated data): the dataset then has a
            known length, and a resumed run leaves out the examples it
            consumed before augmenting them (see
            `epoch_stream.TrainingPasses`). TFDS' counts are not trusted
            (mock data, partial downloads), and read-and-dropped instead.

    Returns:
        `tf.data.Dataset` of `(B, H, W, C)` float32 normalised images, or of
        `((B, H, W, C), (B,))` with labels. On the device: of `(B, H0, W0,
        C)` uint8 images, or of `(B,)` int32 indices when the images stay
        on the device, with `dataset.device_input` telling `DSMAE.fit`
        how to finish them. A training dataset is one pass (a new order for
        each iterator) and carries `training_passes`, from which
        `epoch_stream.EpochStream` makes epochs that a resume continues.
    """
    image_size = validation.check_image_size("image_size", image_size)
    validation.check_int("batch_size", batch_size, minimum=1)
    validation.check_seed("seed", seed)
    low, high = _check_crop_scale(crop_scale)
    _check_normalization(normalization, num_channels)
    on_device = device_feed.resolve_augment_on(augment_on) == "device" and training
    if training:
        device_feed.check_batch_size(batch_size, num_examples)

    def standardize(image, label):
        if image.dtype == tf.uint8 and training:  # crops come from the original
            return match_channels(image, num_channels), label
        image = match_channels(to_unit_float(image), num_channels)
        if not training:
            image = resize_to(image, image_size)
        return tf.image.convert_image_dtype(image, tf.uint8, saturate=True), label

    dataset = source.map(standardize, num_parallel_calls=AUTOTUNE)
    passes = _PassSettings(batch_size=batch_size, seed=device_feed.int_seed(seed), shuffle_buffer=shuffle_buffer,
                           ordered=ordered_passes and _standardized(ordered_passes, standardize),
                           examples_per_pass=(num_examples // batch_size * batch_size
                                              if (exact_num_examples or ordered_passes) and num_examples
                                              and num_examples > 0 else None))
    if on_device:
        return _device_pipeline(dataset, passes, image_size=image_size, num_channels=num_channels,
                                normalization=normalization, with_labels=with_labels, crop_scale=(low, high),
                                cache=cache, num_examples=num_examples)
    if should_cache(cache, num_examples, image_size, num_channels):
        dataset = dataset.cache()

    def finish(image, label):
        image = tf.ensure_shape(normalization.apply(image), (*image_size, num_channels))
        return (image, tf.cast(label, tf.int32)) if with_labels else image

    if training:
        def prepare(image, label, element_seed):
            return finish(pretraining_augmentation(to_unit_float(image), element_seed, image_size, (low, high)),
                          label)

        return _training_batches(dataset, passes, prepare)
    dataset = dataset.map(lambda i, l: finish(to_unit_float(i), l), num_parallel_calls=AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=False)
    return dataset.prefetch(AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class _PassSettings:
    """How `build_pipeline` orders a training pass (see its arguments)."""

    batch_size: int
    seed: int
    shuffle_buffer: int
    ordered: object
    examples_per_pass: object


def _standardized(ordered_passes, standardize):
    def make(key, skip):
        return ordered_passes(key, skip).map(lambda image, label, index: (*standardize(image, label), index),
                                             num_parallel_calls=AUTOTUNE)
    return make


def _training_batches(examples, settings, prepare):
    """One training pass of `examples` (`(uint8 image, label)`), each image
    made by `prepare(image, label, (2,) seed)`, as `TrainingPasses`; returns
    the one-pass dataset carrying them as `training_passes`."""

    def make(key, skip):
        if settings.ordered is not None:
            ordered = settings.ordered(key, skip)
        else:
            shuffled = keyed_shuffle(examples, settings.shuffle_buffer, key) if settings.shuffle_buffer else examples
            ordered = shuffled.enumerate().skip(skip).map(lambda index, example: (*example, index))
        prepared = ordered.map(lambda image, label, index: prepare(image, label, tf.stack([key, index])),
                               num_parallel_calls=AUTOTUNE)
        return prepared.batch(settings.batch_size, drop_remainder=True)

    passes = TrainingPasses(make, settings.batch_size, settings.examples_per_pass, settings.seed)
    dataset = one_pass_per_iteration(passes)
    if settings.examples_per_pass and settings.ordered is None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(
            settings.examples_per_pass // settings.batch_size))
    dataset = dataset.prefetch(AUTOTUNE)
    dataset.training_passes = passes
    return dataset


def _device_pipeline(dataset, passes, *, image_size, num_channels, normalization, with_labels,
                     crop_scale, cache, num_examples):
    """`build_pipeline`'s training batches with the augmentation left to
    the device: resident indices, uint8 originals of one size, or (mixed
    sizes) uint8 crops made on the host."""
    image_shape = (*dataset.element_spec[0].shape[:2], num_channels)
    fixed_size = None not in image_shape
    # A resident set is one replicated device array: several JAX processes,
    # each with its own share of the data, would hold different values.
    if fixed_size and device_feed.fits_on_device(num_examples, image_shape) and process_count() == 1:
        size = num_examples * int(np.prod(image_shape)) / 1024**2
        print(f"keras_dsmae: reading {num_examples} images ({size:.0f} MiB of uint8) once, to keep "
              f"them on the device", flush=True)
        images, labels = device_feed.materialize(dataset)
        return device_feed.resident_pipeline(
            images, labels, batch_size=passes.batch_size, image_size=image_size,
            normalization=normalization, crop_scale=crop_scale, seed=passes.seed, with_labels=with_labels)
    if should_cache(cache, num_examples, image_size, num_channels):
        dataset = dataset.cache()
    shape = (*image_size, num_channels) if not fixed_size else image_shape

    def prepare(image, label, element_seed):
        if not fixed_size:  # crops come from the originals, on the host
            image = random_resized_crop(to_unit_float(image), element_seed, image_size, crop_scale)
            image = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
        image = tf.ensure_shape(image, shape)
        return (image, tf.cast(label, tf.int32)) if with_labels else image

    batches = _training_batches(dataset, passes, prepare)
    batches.device_input = device_feed.device_input(image_size, normalization, crop_scale, crop=fixed_size)
    return batches


def _check_normalization(normalization, num_channels):
    if not isinstance(normalization, Normalization):
        raise ValueError(
            f"`normalization` must be a keras_dsmae.data.Normalization(mean, std); got "
            f"normalization={normalization!r}."
        )
    if len(normalization.mean) != num_channels:
        raise ValueError(
            f"`normalization` must have one mean/std per channel ({num_channels}); got "
            f"{len(normalization.mean)}: {normalization}."
        )


def _check_crop_scale(crop_scale):
    if (
        not isinstance(crop_scale, (tuple, list))
        or len(crop_scale) != 2
        or not 0 < crop_scale[0] <= crop_scale[1] <= 1
    ):
        raise ValueError(
            f"`crop_scale` must be a (low, high) pair with 0 < low <= high <= 1; "
            f"got crop_scale={crop_scale!r}."
        )
    return float(crop_scale[0]), float(crop_scale[1])
