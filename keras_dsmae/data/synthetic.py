"""Generated stand-ins for the TFDS data sets (offline runs and tests).

Each class gets its own smooth random colour pattern (the same for every
seed, so "train" and "test" sets drawn with different seeds share their
classes); images are that pattern, randomly shifted, plus noise, stored as
uint8 exactly like TFDS images. Classes are therefore separable, so
evaluation on synthetic data has a known, better-than-chance answer.
"""

import numpy as np
import tensorflow as tf

_CLASS_PATTERN_SEED = 20261122


def synthetic_images(num_examples, image_size, num_channels, num_classes, seed=None):
    """Numpy `(uint8 images (N, H, W, C), int64 labels (N,))`."""
    rng = np.random.default_rng(seed)
    height, width = image_size
    class_rng = np.random.default_rng(_CLASS_PATTERN_SEED)
    low_res = class_rng.uniform(0, 255, size=(num_classes, 4, 4, num_channels))
    patterns = tf.image.resize(low_res, (height, width), method="bicubic").numpy()
    labels = rng.integers(0, num_classes, size=num_examples)
    shifts = rng.integers(-height // 8, height // 8 + 1, size=(num_examples, 2))
    images = np.empty((num_examples, height, width, num_channels), np.uint8)
    for i, (label, (dy, dx)) in enumerate(zip(labels, shifts)):
        pattern = np.roll(patterns[label], (dy, dx), axis=(0, 1))
        noisy = pattern + rng.normal(0, 20, size=pattern.shape)
        images[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def synthetic_source(spec, num_examples, seed=None):
    """`tf.data.Dataset` of `(uint8 image, label)` shaped like `spec`'s data."""
    images, labels = synthetic_images(
        num_examples, spec.image_size, spec.num_channels, spec.num_classes, seed
    )
    return tf.data.Dataset.from_tensor_slices((images, labels))
