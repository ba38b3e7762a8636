"""Users' own images in a folder (any size, grayscale or RGB)."""

import os
import warnings

import numpy as np
import tensorflow as tf

from keras_dsmae.data.normalization import Normalization
from keras_dsmae.data.pipeline import build_pipeline, match_channels, resize_to
from keras_dsmae.utils import validation

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
ON_ERROR = ("skip", "raise")


def list_image_files(directory):
    """Image paths under `directory` (sorted) and their labels.

    When every image sits in a first-level sub-folder, the sub-folder names
    are the classes (sorted) and labels are their indices; otherwise
    labels are None.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an existing folder; got directory={directory!r}.")
    paths = []
    for root, _, files in os.walk(directory):
        paths += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
    paths.sort()
    if not paths:
        raise ValueError(
            f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under directory={directory!r}."
        )
    parents = [os.path.relpath(os.path.dirname(p), directory) for p in paths]
    if any(parent == "." for parent in parents):
        return paths, None, None
    classes = sorted({parent.split(os.sep)[0] for parent in parents})
    index = {name: i for i, name in enumerate(classes)}
    return paths, np.array([index[p.split(os.sep)[0]] for p in parents]), classes


def _decoder(image_size, num_channels):
    """path → `(*image_size, num_channels)` float32 in [0, 1]."""

    def decode(path):
        # channels=3 turns grayscale into RGB and drops alpha, for every format.
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.ensure_shape(tf.image.convert_image_dtype(image, tf.float32), (None, None, 3))
        return resize_to(match_channels(image, num_channels), image_size)

    return decode


def from_image_folder(
    directory,
    *,
    image_size,
    num_channels=3,
    batch_size=256,
    on_error="skip",
    normalization=None,
    training=True,
    crop_scale=(0.2, 1.0),
    seed=None,
    cache="auto",
):
    """A `tf.data.Dataset` from the images in a folder.

    Every file is decoded once up front, so an undecodable file never stops
    training mid-epoch: with `on_error="skip"` such files are left out with
    one warning that counts them; with `on_error="raise"` a `ValueError`
    lists them. Images of any size, grayscale, RGB or RGBA, are converted
    to `image_size` and `num_channels`.

    Args:
        directory: folder of images; first-level sub-folders, if every image
            is in one, are classes and batches are `(images, labels)`.
        image_size: `(H, W)` (or int) to produce.
        num_channels: 1 or 3.
        batch_size: images per batch.
        on_error: "skip" or "raise".
        normalization: a `Normalization`; default: computed from the images.
        training, crop_scale, seed, cache: see `build_pipeline`.

    Returns:
        `tf.data.Dataset` with attributes `file_paths` (the images used),
        `skipped_files`, `class_names` (or None) and `normalization`.
    """
    image_size = validation.check_image_size("image_size", image_size)
    validation.check_choice("num_channels", num_channels, (1, 3))
    validation.check_choice("on_error", on_error, ON_ERROR)
    paths, labels, classes = list_image_files(directory)
    decode = _decoder(image_size, num_channels)

    scan = tf.data.Dataset.from_tensor_slices((paths, np.arange(len(paths))))
    def channel_moments(path, index):
        image = decode(path)
        return index, tf.reduce_mean(image, axis=(0, 1)), tf.reduce_mean(tf.square(image), axis=(0, 1))

    scan = scan.map(channel_moments, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    good, means, squares = [], [], []
    for index, mean, square in scan.as_numpy_iterator():
        good.append(index)
        means.append(mean)
        squares.append(square)
    bad = sorted(set(range(len(paths))) - set(good))
    if bad:
        names = [paths[i] for i in bad]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        if on_error == "raise":
            raise ValueError(
                f"{len(bad)} of {len(paths)} files under {directory!r} could not "
                f"be decoded as images: {shown}. Remove them or pass "
                f"on_error='skip'."
            )
        warnings.warn(
            f"Skipped {len(bad)} of {len(paths)} files under {directory!r} that "
            f"could not be decoded as images: {shown}",
            stacklevel=2,
        )
    if not good:
        raise ValueError(f"None of the {len(paths)} files under {directory!r} is a readable image.")
    good = sorted(good)
    if normalization is None:
        mean = np.mean(means, axis=0)
        std = np.sqrt(np.maximum(np.mean(squares, axis=0) - mean**2, 1e-6))
        normalization = Normalization(tuple(map(float, mean)), tuple(map(float, std)))
    good_paths = [paths[i] for i in good]
    good_labels = labels[good] if labels is not None else np.zeros(len(good), np.int64)
    source = tf.data.Dataset.from_tensor_slices((good_paths, good_labels)).map(
        lambda path, label: (decode(path), label), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = build_pipeline(
        source, image_size=image_size, num_channels=num_channels, normalization=normalization,
        batch_size=batch_size, training=training, with_labels=labels is not None,
        crop_scale=crop_scale, seed=seed, cache=cache, num_examples=len(good),
    )
    dataset.file_paths = good_paths
    dataset.skipped_files = [paths[i] for i in bad]
    dataset.class_names = classes
    dataset.normalization = normalization
    return dataset
