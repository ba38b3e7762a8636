"""Users' own images in a folder (any size and number, grayscale or RGB),
streamed: files are listed, never decoded before training; the training
pipeline decodes them, skips the undecodable ones (`SkippedFiles`), and
crops from the original resolution.
"""

import warnings

import numpy as np
import tensorflow as tf

from keras_dsmae.data.decoded_files import ON_ERROR, SkippedFiles, decoded_images
from keras_dsmae.data.file_listing import list_image_files
from keras_dsmae.data.epoch_stream import keyed_shuffle
from keras_dsmae.data.pipeline import build_pipeline
from keras_dsmae.data.statistics import image_statistics
from keras_dsmae.utils import validation

STATISTICS_SAMPLE = 2000  # images whose pixels give the default normalisation


def shard_of(items, shard):
    """The `index`-th of `count` interleaved shares of `items` (a list or
    array); all of them when `shard` is None."""
    if shard is None:
        return items
    count, index = _check_shard(shard)
    return items[index::count]


def _check_shard(shard):
    if (not isinstance(shard, (tuple, list)) or len(shard) != 2
            or not all(isinstance(v, (int, np.integer)) for v in shard)
            or not 0 <= shard[1] < shard[0]):
        raise ValueError(
            f"`shard` must be a (count, index) pair of ints with 0 <= index < count; got "
            f"shard={shard!r}."
        )
    return int(shard[0]), int(shard[1])


def sample_statistics(paths, num_channels, sample=STATISTICS_SAMPLE, seed=0, on_error="skip"):
    """Per-channel mean/std of a seeded random sample of at most `sample`
    image files (each image weighs the same, whatever its size).

    Undecodable files in the sample are left out with one warning (or raise
    under `on_error="raise"`); a sample without one readable image is a
    `ValueError`.

    Returns:
        a `Normalization`.
    """
    validation.check_int("sample", sample, minimum=1)
    chosen = sorted(np.random.default_rng(seed).permutation(len(paths))[:sample])
    chosen_paths = [paths[i] for i in chosen]
    skipped = SkippedFiles(on_error)
    source = tf.data.Dataset.from_tensor_slices((chosen_paths, np.zeros(len(chosen), np.int64)))
    try:
        normalization = image_statistics(
            decoded_images(source, skipped, deterministic=False), num_channels,
            f"none of the {len(chosen_paths)} sampled files decodes, e.g. {', '.join(chosen_paths[:3])}",
        )
    except Exception:
        if skipped.failure is not None:  # on_error="raise", wrapped by tf.data
            raise skipped.failure from None
        raise
    bad = skipped.take_new()
    if bad:
        warnings.warn(f"Normalisation sample: {skipped.describe(bad)}.", stacklevel=2)
    return normalization


def folder_pipeline(paths, labels, *, image_size, num_channels, normalization, batch_size,
                    training, with_labels, skipped, crop_scale=(0.2, 1.0), seed=None, cache=False,
                    augment_on="host"):
    """The batches of `from_image_folder` from an already listed folder.

    Training shuffles the file names (all of them, every epoch) before
    decoding, so no buffer of decoded images is needed; with `cache=True`
    the decoded originals are kept in memory instead and shuffled there.

    Args:
        paths: N file paths.
        labels: `(N,)` int labels or None.
        skipped: the `SkippedFiles` that records (or raises on) bad files.
        other arguments: see `from_image_folder`.
    """
    labels = labels if labels is not None else np.zeros(len(paths), np.int64)
    source = tf.data.Dataset.from_tensor_slices((list(paths), labels))
    shuffle_names = training and not cache

    def shuffled_pass(key, skip):  # names shuffled and the consumed ones left out, then decoded
        names = keyed_shuffle(source, len(paths), key).enumerate().skip(skip)
        named = names.map(lambda index, example: (example[0], (example[1], index)))
        return decoded_images(named, skipped).map(lambda image, label_and_index: (image, *label_and_index))

    dataset = build_pipeline(
        decoded_images(source, skipped), image_size=image_size, num_channels=num_channels,
        normalization=normalization, batch_size=batch_size, training=training, with_labels=with_labels,
        crop_scale=crop_scale, seed=seed, cache=bool(cache), num_examples=len(paths),
        shuffle_buffer=0 if shuffle_names else 10_000, augment_on=augment_on,
        ordered_passes=shuffled_pass if shuffle_names else None,
        exact_num_examples=False,  # undecodable files are left out on the way
    )
    # Skipped files make a pass shorter than the listing says; DSMAE.fit
    # repeats the data and counts epochs in batches of the listing.
    dataset.batches_per_epoch = len(paths) // batch_size if training else None
    return dataset


def from_image_folder(
    directory,
    *,
    image_size,
    num_channels=3,
    batch_size=256,
    on_error="skip",
    normalization=None,
    statistics_sample=STATISTICS_SAMPLE,
    training=True,
    crop_scale=(0.2, 1.0),
    seed=None,
    cache=False,
    shard=None,
    augment_on="host",
):
    """A streaming `tf.data.Dataset` of the images in a folder.

    Nothing is decoded up front: files are listed (in parallel), and the
    pipeline decodes them as it goes. A file that does not decode is left
    out and recorded in `dataset.skipped_files` (`on_error="skip"`; the
    pretraining job, or `callbacks.SkippedFilesReport`, warns about them at
    the end of each epoch), or stops iteration with an `UndecodableFile`
    naming it (`on_error="raise"`). Images of any size, grayscale, RGB or
    RGBA, become `image_size` and `num_channels`: training takes a random
    resized crop of the original, evaluation resizes the whole image.

    Args:
        directory: folder of images; first-level sub-folders, if every image
            is in one, are classes and batches are `(images, labels)`.
        image_size: `(H, W)` (or int) to produce.
        num_channels: 1 or 3.
        batch_size: images per batch.
        on_error: "skip" or "raise".
        normalization: a `Normalization`; default: the per-channel
            statistics of a random sample of `statistics_sample` files.
        statistics_sample: files decoded for the default normalisation.
        training: shuffle (file names, every epoch) + random resized crop +
            flip + drop the last partial batch; otherwise the files' sorted
            order, resize only, all images.
        crop_scale: area range of the random resized crop.
        seed: reproducible order, crops and normalisation sample.
        cache: True keeps the decoded originals in memory (small folders
            only); False or "auto" (the same here) decode every epoch.
        shard: `(count, index)`: use only every `count`-th file from
            `index` (one share per process of a multi-host run).
        augment_on: "host", "device" or "auto" (see `data.device_feed`):
            with "device" the crops are still made from the originals on
            the host, and the model flips and normalises the uint8 crops.

    Returns:
        `tf.data.Dataset` of `(B, H, W, C)` float32 normalised images, or of
        `(images, (B,) labels)`, with attributes `file_paths` (the files
        of this shard), `batches_per_epoch` (training: files // batch size,
        which `DSMAE.fit` takes as its epoch), `skipped_files` (a `SkippedFiles`), `class_names`
        (or None) and `normalization`.
    """
    image_size = validation.check_image_size("image_size", image_size)
    validation.check_choice("num_channels", num_channels, (1, 3))
    validation.check_choice("on_error", on_error, ON_ERROR)
    validation.check_choice("cache", cache, (True, False, "auto"))
    cache = cache is True  # "auto": decoded originals of unknown size are not kept
    paths, labels, classes = list_image_files(directory)
    paths = shard_of(paths, shard)
    labels = shard_of(labels, shard) if labels is not None else None
    if normalization is None:
        normalization = sample_statistics(paths, num_channels, statistics_sample,
                                          seed=seed or 0, on_error=on_error)
    skipped = SkippedFiles(on_error)
    dataset = folder_pipeline(
        paths, labels, image_size=image_size, num_channels=num_channels,
        normalization=normalization, batch_size=batch_size, training=training,
        with_labels=labels is not None, skipped=skipped, crop_scale=crop_scale, seed=seed, cache=cache,
        augment_on=augment_on,
    )
    dataset.file_paths = paths
    dataset.skipped_files = skipped
    dataset.class_names = classes
    dataset.normalization = normalization
    return dataset
