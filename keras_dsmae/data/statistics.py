"""Per-channel normalisation statistics of a stream of images of any size."""

import numpy as np
import tensorflow as tf

from keras_dsmae.data.normalization import Normalization
from keras_dsmae.data.pipeline import match_channels, to_unit_float


def image_statistics(images, num_channels, what):
    """The `Normalization` of the images of a `(image, label)` dataset:
    per-channel mean and std in [0, 1] units, each image weighing the same
    whatever its size.

    Args:
        images: `tf.data.Dataset` of `((H, W, C') image, label)`, uint8 or
            float in [0, 1], sizes may differ.
        num_channels: 1 or 3 (images are converted first).
        what: the images in words, for the error when there are none.

    Returns:
        a `Normalization`.
    """

    def moments(image, label):
        image = match_channels(to_unit_float(image), num_channels)
        return tf.reduce_mean(image, axis=(0, 1)), tf.reduce_mean(tf.square(image), axis=(0, 1))

    pairs = list(images.map(moments, num_parallel_calls=tf.data.AUTOTUNE).as_numpy_iterator())
    if not pairs:
        raise ValueError(f"No readable images to compute the normalisation from: {what}.")
    mean = np.mean([pair[0] for pair in pairs], axis=0)
    std = np.sqrt(np.maximum(np.mean([pair[1] for pair in pairs], axis=0) - mean**2, 1e-6))
    return Normalization(tuple(map(float, mean)), tuple(map(float, std)))
