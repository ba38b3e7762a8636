"""How a pipeline's batches become model inputs on the accelerator.

A pipeline that leaves the augmentation to the device (`augment_on="device"`
in `keras_dsmae.data`) yields uint8 batches, or only `(B,)` indices when
the whole data set stays on the device, and carries a `DeviceInput` that
says how to finish them. `DSMAE.fit` reads it from the dataset
(`dataset.device_input`) and adds the matching layers to the model.
"""

import dataclasses

import keras

from keras_dsmae.layers.device_augmentation import DeviceAugmentation


@dataclasses.dataclass(frozen=True, eq=False)
class DeviceInput:
    """What the model does to the batches of one pipeline.

    Attributes:
        image_size: `(H, W)` the model takes.
        mean, std: per-channel normalisation of [0, 1] pixels.
        crop_scale: area range of the random resized crop.
        crop: whether the device crops (False: the host already cropped the
            images to `image_size`, as for folders of mixed sizes).
        resident_images: `(N, H0, W0, C)` uint8 numpy images kept on the
            device (the batches are then `(B,)` indices), or None.
        start_at_epoch: for resident images, a callable that sets the epoch
            whose order the pipeline yields first (`fit` calls it with its
            first epoch, so a resumed run continues the same order).
    """

    image_size: tuple
    mean: tuple
    std: tuple
    crop_scale: tuple = (0.2, 1.0)
    crop: bool = True
    resident_images: object = None
    start_at_epoch: object = None

    def augmentation_settings(self):
        """The `DeviceAugmentation` arguments (but the seed) that do this."""
        return dict(image_size=self.image_size, mean=self.mean, std=self.std,
                    crop_scale=self.crop_scale, crop=self.crop)

    def augmentation(self, **layer_kwargs):
        """A `DeviceAugmentation` layer that does this."""
        return DeviceAugmentation(**self.augmentation_settings(), **layer_kwargs)

    def describe(self):
        """One line for logs: where the crops and the images are."""
        where = "cropped, flipped and normalised" if self.crop else "flipped and normalised"
        if self.resident_images is None:
            return f"uint8 batches {where} on the device"
        size = self.resident_images.nbytes / 1024**2
        return f"{len(self.resident_images)} images ({size:.0f} MiB) resident on the device, {where} there"


class StartDataOrder(keras.callbacks.Callback):
    """Tell a resident pipeline which epoch `fit` starts at (after a resume
    restored its checkpoint), before the epoch's first batch is read."""

    def __init__(self, device_input):
        super().__init__()
        self.device_input = device_input
        self._started = False

    def on_train_begin(self, logs=None):
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:
            self.device_input.start_at_epoch(epoch)
            self._started = True
