"""Users' own images held in numpy arrays."""

import numpy as np
import tensorflow as tf

from keras_dsmae.data.normalization import Normalization
from keras_dsmae.data.pipeline import build_pipeline, match_channels, to_unit_float
from keras_dsmae.utils import validation

FLOAT_TOLERANCE = 1e-3  # resampling overshoot and rounding are fine


def from_arrays(
    images,
    labels=None,
    *,
    batch_size=256,
    image_size=None,
    num_channels=None,
    normalization=None,
    training=True,
    crop_scale=(0.2, 1.0),
    seed=None,
    cache="auto",
    augment_on="host",
):
    """A `tf.data.Dataset` from numpy images, ready for `DSMAE.fit` or
    evaluation.

    Args:
        images: `(N, H, W)` or `(N, H, W, C)`, uint8 in [0, 255] or float in
            [0, 1] (anything else, and NaN or inf, is refused), `C` in
            {1, 2, 3, 4}.
        labels: optional `(N,)` integer labels; then batches are
            `(images, labels)`.
        batch_size: images per batch.
        image_size: `(H, W)` to produce; default: the arrays' own size.
        num_channels: 1 or 3 to produce; default: the arrays' own.
        normalization: a `Normalization`; default: per-channel mean/std of
            `images` (converted to `num_channels`). The dataset carries the
            one it used as `dataset.normalization`.
        training: shuffle + random resized crop + flip + `drop_remainder`;
            otherwise fixed order and no augmentation.
        crop_scale, seed, cache, augment_on: see `build_pipeline`; with
            `augment_on="device"` the batches are for `DSMAE.fit` only
            (indices or uint8 images that the model finishes itself).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 2, 3, 4) or len(images) == 0:
        raise ValueError(
            f"`images` must be a non-empty (N, H, W) or (N, H, W, C) array with "
            f"C in 1..4; got shape {images.shape}."
        )
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise ValueError(
                f"`images` must be uint8 in [0, 255] or float in [0, 1]; got "
                f"dtype {images.dtype}."
            )
        images = images.astype("float32")
        _check_float_pixels(images)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"`labels` must have shape ({len(images)},), one per image; got "
                f"shape {labels.shape}."
            )
    image_size = validation.check_image_size(
        "image_size", image_size if image_size is not None else images.shape[1:3]
    )
    num_channels = validation.check_choice(
        "num_channels",
        num_channels if num_channels is not None else min(images.shape[-1], 3),
        (1, 3),
    )
    if normalization is None:
        normalization = _statistics(images, num_channels)
    source = tf.data.Dataset.from_tensor_slices(
        (images, labels if labels is not None else np.zeros(len(images), np.int64))
    )
    dataset = build_pipeline(
        source, image_size=image_size, num_channels=num_channels, normalization=normalization,
        batch_size=batch_size, training=training, with_labels=labels is not None,
        crop_scale=crop_scale, seed=seed, cache=cache, num_examples=len(images),
        augment_on=augment_on,
    )
    dataset.normalization = normalization
    return dataset


def _check_float_pixels(images):
    """Float images must be finite and in [0, 1] (the normalisation and the
    pipeline treat them as fractions of full brightness)."""
    finite_per_image = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if not finite_per_image.all():
        bad = np.flatnonzero(~finite_per_image)
        shown = bad[:10].tolist()
        raise ValueError(
            f"`images`: {len(bad)} of {len(images)} images hold non-finite values "
            f"(NaN or inf), at indices {shown}{' ...' if len(bad) > 10 else ''}. "
            f"Remove or repair them; one of them would make the normalisation NaN."
        )
    low, high = float(images.min()), float(images.max())
    if low < -FLOAT_TOLERANCE or high > 1 + FLOAT_TOLERANCE:
        raise ValueError(
            f"`images` of a float dtype must be in [0, 1]; got values from {low:g} "
            f"to {high:g}. Pass 0–255 pixels as uint8, or divide them by 255."
        )


def _statistics(images, num_channels, max_images=10_000):
    """Mean/std of (a sample of) the images after channel conversion."""
    sample = images[:max_images]
    converted = match_channels(to_unit_float(tf.constant(sample)), num_channels)
    return Normalization.from_images(converted.numpy())
