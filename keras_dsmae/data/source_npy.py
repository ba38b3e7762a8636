"""The `--dataset` kind `npy:PATH`: a numpy array of images, memory-mapped;
unlabelled for evaluation."""

import os

import numpy as np

from keras_dsmae.data.arrays import from_arrays
from keras_dsmae.data.dataset_names import register_dataset_kind
from keras_dsmae.data.image_folder import shard_of
from keras_dsmae.data.sources import DEFAULT_CROP_SCALE, PathSource


@register_dataset_kind("npy")
class NpySource(PathSource):
    """A numpy file of images (`npy:PATH`): `(N, H, W)` or `(N, H, W, C)`,
    uint8 or float in [0, 1]."""

    FORM = "npy:PATH"
    PATH_IS = staticmethod(os.path.isfile)
    PATH_WHAT = "file"

    @classmethod
    def run_name(cls, name):
        return os.path.splitext(super().run_name(name))[0] or "data"

    @classmethod
    def open(cls, name, **_):
        return cls(name)

    def __init__(self, dataset):
        super().__init__(dataset)
        try:
            self.images = np.load(dataset.name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"`dataset` {dataset.text!r}: not a readable .npy array ({error})."
            ) from error
        if self.images.ndim not in (3, 4) or len(self.images) == 0:
            raise ValueError(
                f"`dataset` {dataset.text!r} must hold a non-empty (N, H, W) or (N, H, W, C) "
                f"array; got shape {self.images.shape}."
            )
        self.native_image_size = tuple(self.images.shape[1:3])
        self.num_examples = len(self.images)

    def default_normalization(self, num_channels, seed=0):
        return from_arrays(self.images[:10_000], batch_size=1, num_channels=num_channels,
                           training=False).normalization

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host", crop_scale=DEFAULT_CROP_SCALE):
        return from_arrays(shard_of(self.images, shard), batch_size=batch_size, image_size=image_size,
                           num_channels=num_channels, normalization=normalization, seed=seed,
                           augment_on=augment_on, crop_scale=crop_scale)

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        batches = from_arrays(self.images[:count], batch_size=count, image_size=image_size,
                              num_channels=num_channels, normalization=normalization, training=False)
        return np.asarray(next(iter(batches)))
