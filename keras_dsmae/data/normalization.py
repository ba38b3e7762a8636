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
