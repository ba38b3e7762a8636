"""Pretraining augmentation as MAE uses it: random resized crop and
horizontal flip. TensorFlow ops for the tf.data input side; stateless, so a
seed reproduces every crop."""

import tensorflow as tf


def random_resized_crop(image, seed, size, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)):
    """Crop a random region and resize it to `size`.

    Args:
        image: `(H, W, C)` float in [0, 1].
        seed: `(2,)` int seed for stateless sampling.
        size: `(height, width)` of the output.
        scale: range of the crop area as a fraction of the image area.
        ratio: range of the crop aspect ratio (width / height).

    Returns:
        `(height, width, C)` float32 in [0, 1].
    """
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=scale,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    resized = tf.image.resize(crop, size, method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def pretraining_augmentation(image, seed, size, scale):
    """Random resized crop + random horizontal flip, `(H, W, C)` → `(*size, C)`."""
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    image = random_resized_crop(image, seeds[0], size, scale)
    return tf.image.stateless_random_flip_left_right(image, seeds[1])


def seed_stream(seed):
    """An endless `tf.data.Dataset` of `(2,)` int64 seeds for stateless ops,
    one per element it is zipped with. Drawn from `seed` afresh for each new
    iterator (each epoch); `None`: not reproducible."""
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
