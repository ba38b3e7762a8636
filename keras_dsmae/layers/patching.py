"""Cut images into flat patches and put them back together."""

import keras
from keras import ops

from keras_dsmae.utils import validation


def patchify(images, patch_size):
    """`(B, H, W, C)` → `(B, N, p*p*C)`, patches row by row, values inside a
    patch in (row, column, channel) order as in the MAE reference code."""
    _, height, width, channels = images.shape
    validation.check_divisible((height, width), patch_size)
    p = patch_size
    rows, cols = height // p, width // p
    x = ops.reshape(images, (-1, rows, p, cols, p, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, rows * cols, p * p * channels))


def unpatchify(patches, patch_size, image_size, num_channels):
    """Inverse of `patchify`: `(B, N, p*p*C)` → `(B, H, W, C)`."""
    p, c = patch_size, num_channels
    rows, cols = image_size[0] // p, image_size[1] // p
    expected = (rows * cols, p * p * c)
    if tuple(patches.shape[1:]) != expected:
        raise ValueError(
            f"`patches` must have shape (batch, {expected[0]}, {expected[1]}) "
            f"for image_size={tuple(image_size)}, patch_size={p}, "
            f"num_channels={c}; got {tuple(patches.shape)}."
        )
    x = ops.reshape(patches, (-1, rows, cols, p, p, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, rows * p, cols * p, c))


@keras.saving.register_keras_serializable(package="keras_dsmae")
class Patchify(keras.layers.Layer):
    """Split images into non-overlapping flat patches (see `patchify`).

    Args:
        patch_size: side of the square patches, in pixels.

    Call arguments:
        images: `(B, H, W, C)` with `H` and `W` multiples of `patch_size`.

    Returns:
        `(B, N, patch_size * patch_size * C)` with
        `N = (H / patch_size) * (W / patch_size)`.
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = validation.check_int("patch_size", patch_size, minimum=1)

    def call(self, images):
        return patchify(images, self.patch_size)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        p = self.patch_size
        return (batch, (height // p) * (width // p), p * p * channels)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="keras_dsmae")
class Unpatchify(keras.layers.Layer):
    """Inverse of `Patchify`: flat patches back to images.

    Args:
        patch_size: side of the square patches, in pixels.
        image_size: `(H, W)` of the images (or an int for square images).
        num_channels: `C`.

    Call arguments:
        patches: `(B, N, patch_size * patch_size * C)`.

    Returns:
        `(B, H, W, C)`.
    """

    def __init__(self, patch_size, image_size, num_channels, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = validation.check_int("patch_size", patch_size, minimum=1)
        self.image_size = validation.check_image_size("image_size", image_size)
        self.num_channels = validation.check_int(
            "num_channels", num_channels, minimum=1
        )
        validation.check_divisible(self.image_size, self.patch_size)

    def call(self, patches):
        return unpatchify(patches, self.patch_size, self.image_size, self.num_channels)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_size, self.num_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "image_size": self.image_size,
            "num_channels": self.num_channels,
        }
