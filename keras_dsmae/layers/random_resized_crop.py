"""In-model random resized crop: the second augmented view of MV-MAE."""

import math

import keras
from keras import ops

from keras_dsmae.layers.replica_seed import ReplicaSeedGenerator
from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class RandomResizedCrop(keras.layers.Layer):
    """A random crop of each image, resized back to the image's size, and a
    random horizontal flip, drawn per image inside the model (one affine
    resampling per image, bilinear, so it runs in the compiled step on every
    backend). Applied at every call: it defines a view, it is not a
    training-only augmentation.

    Args:
        scale: `(low, high)` range of the crop's area as a fraction of the
            image, `0 < low < high <= 1`.
        log_ratio: half-width of the crop's aspect-ratio range on a log
            scale (default: ratios 3/4 to 4/3).
        flip: also flip half of the images left to right.
        seed: optional int seed.

    Call arguments:
        images: `(B, H, W, C)` floats.

    Returns:
        `(B, H, W, C)`, the same dtype.
    """

    def __init__(self, scale=(0.35, 1.0), log_ratio=math.log(4 / 3), flip=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        low, high = scale
        validation.check_float("scale[0]", low, 0.0, 1.0, low_open=True, high_open=True)
        validation.check_float("scale[1]", high, 0.0, 1.0, low_open=True)
        if not low < high:
            raise ValueError(f"`scale` must satisfy 0 < low < high <= 1; got scale={tuple(scale)}.")
        self.scale = (float(low), float(high))
        self.log_ratio = validation.check_float("log_ratio", log_ratio, low=0.0)
        self.flip = bool(flip)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def transforms(self, batch, height, width):
        """`(B, 8)` float32 projective transforms (output → input
        coordinates, as `keras.ops.image.affine_transform` takes them)."""
        draws = keras.random.uniform((batch, 5), seed=self.seed_generator)
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * draws[:, 0]
        ratio = ops.exp(self.log_ratio * (2.0 * draws[:, 1] - 1.0))
        crop_w = ops.minimum(ops.sqrt(area * ratio), 1.0)  # fractions of the side
        crop_h = ops.minimum(ops.sqrt(area / ratio), 1.0)
        left = draws[:, 2] * (1.0 - crop_w) * (width - 1)
        top = draws[:, 3] * (1.0 - crop_h) * (height - 1)
        sign = ops.where(draws[:, 4] < 0.5, -1.0, 1.0) if self.flip else ops.ones_like(crop_w)
        x_scale = sign * crop_w
        x_offset = left + ops.where(sign < 0, crop_w * (width - 1), 0.0)
        zeros = ops.zeros_like(crop_w)
        return ops.stack(
            [x_scale, zeros, x_offset, zeros, crop_h, top, zeros, zeros], axis=-1
        )

    def call(self, images):
        shape = ops.shape(images)
        transforms = self.transforms(shape[0], images.shape[1], images.shape[2])
        cropped = ops.image.affine_transform(
            ops.cast(images, "float32"), transforms, interpolation="bilinear",
            fill_mode="nearest", data_format="channels_last",
        )
        return ops.cast(cropped, images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "log_ratio": self.log_ratio,
                "flip": self.flip, "seed": self.seed}
