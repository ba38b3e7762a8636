"""The pretraining augmentation inside the compiled step: uint8 images in,
normalised model inputs out."""

import keras
from keras import ops

from keras_dsmae.layers.replica_seed import ReplicaSeedGenerator
from keras_dsmae.layers.resized_crops import (
    DEFAULT_RATIO,
    DRAWS_PER_IMAGE,
    crop_boxes,
    crop_resize_flip,
    flip_draws,
    whole_image_boxes,
)
from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class DeviceAugmentation(keras.layers.Layer):
    """What the host pipeline does to a pretraining image, for a whole batch
    on the accelerator: a random resized crop (the host's box distribution,
    see `layers.resized_crops`), the resize to the model's size, a random
    horizontal flip and the normalisation. One `(B, 23)` uniform draw per
    step, through a seed generator that differs per `tf.distribute`
    replica. Outside training: the whole image, resized and normalised.

    Args:
        image_size: `(H, W)` the model takes.
        mean, std: per-channel normalisation of [0, 1] pixels.
        crop_scale: `(low, high)` area range of the crop, `0 < low <= high <= 1`.
        crop_ratio: `(low, high)` aspect-ratio range of the crop.
        crop: False when the images arrive already cropped to `image_size`
            (folders of mixed sizes are cropped from their originals on
            the host); then only the flip and the normalisation run here.
        flip: flip half of the images in training.
        seed: optional int seed.

    Call arguments:
        images: `(B, H0, W0, C)` uint8 (any real dtype holding 0–255).
        training: draw crops and flips.

    Returns:
        `(B, H, W, C)` float32 normalised images.
    """

    def __init__(self, image_size, mean, std, crop_scale=(0.2, 1.0), crop_ratio=DEFAULT_RATIO,
                 crop=True, flip=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.configure(image_size, mean, std, crop_scale, crop_ratio, crop, flip)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def configure(self, image_size, mean, std, crop_scale=(0.2, 1.0), crop_ratio=DEFAULT_RATIO,
                  crop=True, flip=True):
        """Set what the layer does (the constructor's arguments but the
        seed); a model retraces its step afterwards."""
        self.image_size = validation.check_image_size("image_size", image_size)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std) or min(self.std, default=0.0) <= 0:
            raise ValueError(
                f"`mean` and `std` must have one value per channel and std > 0; got "
                f"mean={self.mean}, std={self.std}."
            )
        self.crop_scale = _check_range("crop_scale", crop_scale, upper=1.0)
        self.crop_ratio = _check_range("crop_ratio", crop_ratio)
        self.crop = bool(crop)
        self.flip = bool(flip)

    def call(self, images, training=False):
        source_size = tuple(images.shape[1:3])
        if len(self.mean) != images.shape[-1]:
            raise ValueError(
                f"DeviceAugmentation normalises {len(self.mean)} channel(s); got images of "
                f"shape {tuple(images.shape)}."
            )
        if not self.crop and source_size != self.image_size:
            raise ValueError(
                f"DeviceAugmentation(crop=False) takes images already at image_size="
                f"{self.image_size}; got {source_size}."
            )
        pixels = ops.cast(images, "float32")
        batch = ops.shape(images)[0]
        flips = None
        boxes = whole_image_boxes(batch, source_size)
        if training and (self.crop or self.flip):
            draws = keras.random.uniform((batch, DRAWS_PER_IMAGE), seed=self.seed_generator)
            if self.crop:
                boxes = crop_boxes(draws, source_size, self.crop_scale, self.crop_ratio)
            if self.flip:
                flips = flip_draws(draws)
        if source_size == self.image_size and not (training and self.crop):
            if flips is not None:  # a flip alone needs no resampling
                pixels = ops.where(ops.reshape(flips, (-1, 1, 1, 1)), ops.flip(pixels, axis=2), pixels)
        else:
            pixels = crop_resize_flip(pixels, boxes, flips, self.image_size)
        mean = ops.convert_to_tensor(self.mean, "float32")
        std = ops.convert_to_tensor(self.std, "float32")
        return (pixels * (1.0 / 255.0) - mean) / std

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "mean": self.mean,
                "std": self.std, "crop_scale": self.crop_scale, "crop_ratio": self.crop_ratio,
                "crop": self.crop, "flip": self.flip, "seed": self.seed}


def _check_range(name, value, upper=None):
    """`(low, high)` floats with `0 < low <= high` (`<= upper`), else `ValueError`."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not 0 < low <= high or (upper is not None and high > upper):
        allowed = f"0 < low <= high <= {upper:g}" if upper is not None else "0 < low <= high"
        raise ValueError(f"`{name}` must be a (low, high) pair with {allowed}; got {name}={value!r}.")
    return (low, high)
