"""In-model random resized crop: the second augmented view of MV-MAE."""

import math

import keras
from keras import ops

from keras_dsmae.layers.replica_seed import ReplicaSeedGenerator
from keras_dsmae.layers.resized_crops import DRAWS_PER_IMAGE, crop_boxes, crop_resize_flip, flip_draws
from keras_dsmae.utils import validation


@keras.saving.register_keras_serializable(package="keras_dsmae")
class RandomResizedCrop(keras.layers.Layer):
    """A random crop of each image, resized back to the image's size, and a
    random horizontal flip, drawn per image inside the model with the same
    batched op as the pretraining augmentation (`layers.resized_crops`:
    the host pipeline's box distribution, bilinear resampling). Applied at
    every call: it defines a view, it is not a training-only augmentation.

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

    def call(self, images):
        size = tuple(images.shape[1:3])
        draws = keras.random.uniform((ops.shape(images)[0], DRAWS_PER_IMAGE), seed=self.seed_generator)
        ratio = (math.exp(-self.log_ratio), math.exp(self.log_ratio))
        boxes = crop_boxes(draws, size, self.scale, ratio)
        flips = flip_draws(draws) if self.flip else None
        return ops.cast(crop_resize_flip(images, boxes, flips, size), images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "log_ratio": self.log_ratio,
                "flip": self.flip, "seed": self.seed}
