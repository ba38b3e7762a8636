"""Per-channel normalisation of images and its inverse for display."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Normalization:
    """`x ↦ (x / 255 - mean) / std` per channel.

    Attributes:
        mean, std: per-channel values in [0, 1] units, length `C`.
    """

    mean: tuple
    std: tuple

    def __post_init__(self):
        if len(self.mean) != len(self.std):
            raise ValueError(
                f"`mean` and `std` must have one value per channel; got "
                f"mean={self.mean} and std={self.std}."
            )
        if any(s <= 0 for s in self.std):
            raise ValueError(f"`std` values must be > 0; got std={self.std}.")

    @classmethod
    def parse(cls, text):
        """'imagenet', or 'MEAN,.../STD,...' in [0, 1] units with one value
        per channel (1 or 3) → a `Normalization`; None when empty; a
        `ValueError` saying what is allowed otherwise."""
        if not text:
            return None
        if text.strip().lower() == "imagenet":
            return IMAGENET
        means, sep, stds = text.partition("/")
        try:
            mean = tuple(float(v) for v in means.split(","))
            std = tuple(float(v) for v in stds.split(","))
            if not sep or len(mean) != len(std) or len(mean) not in (1, 3):
                raise ValueError("one value per channel (1 or 3) on each side of '/'")
            return cls(mean, std)
        except ValueError as error:
            raise ValueError(
                f"must be 'imagenet' or MEAN,MEAN,MEAN/STD,STD,STD in [0, 1] units "
                f"(1 or 3 channels, std > 0); got {text!r} ({error})."
            ) from None

    @classmethod
    def from_images(cls, images):
        """Statistics of `(N, H, W, C)` uint8 images (or floats in [0, 1])."""
        images = np.asarray(images)
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        pixels = images.reshape(-1, images.shape[-1]).astype("float64") / scale
        std = np.maximum(pixels.std(axis=0), 1e-3)
        return cls(tuple(float(m) for m in pixels.mean(axis=0)), tuple(float(s) for s in std))

    def apply(self, images):
        """tf ops: `(..., C)` float in [0, 1] → normalised float32."""
        import tensorflow as tf

        mean = tf.constant(self.mean, tf.float32)
        std = tf.constant(self.std, tf.float32)
        return (tf.cast(images, tf.float32) - mean) / std

    def invert(self, images):
        """numpy: normalised `(..., C)` → float in [0, 1], clipped, for display."""
        images = np.asarray(images, dtype="float32")
        return np.clip(images * np.asarray(self.std) + np.asarray(self.mean), 0.0, 1.0)


IMAGENET = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
