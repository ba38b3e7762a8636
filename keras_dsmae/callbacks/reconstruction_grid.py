"""Reconstruction pictures during pretraining."""

import os

import keras

from keras_dsmae.callbacks.loop_state import random_streams_kept
from keras_dsmae.callbacks.periodic import due_this_epoch
from keras_dsmae.plotting import save_reconstruction_grid
from keras_dsmae.utils import validation


class ReconstructionGrid(keras.callbacks.Callback):
    """Save `epoch_XXX.png` reconstruction grids of fixed images every
    `every_n_epochs` epochs and always after the last epoch.

    Args:
        images: `(B, H, W, C)` normalised images to reconstruct (fixed, so
            successive pictures are comparable).
        directory: folder for the PNG files.
        normalization: the data's `Normalization`, for true colours.
        every_n_epochs: picture interval in epochs (≥ 1).
    """

    def __init__(self, images, directory, normalization=None, every_n_epochs=5):
        super().__init__()
        validation.check_int("every_n_epochs", every_n_epochs, minimum=1)
        self.images = images
        self.directory = str(directory)
        self.normalization = normalization
        self.every_n_epochs = every_n_epochs
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        if not due_this_epoch(epoch, self.every_n_epochs, self.params.get("epochs")):
            return
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        with random_streams_kept(self.model):  # a picture must not change what training draws next
            save_reconstruction_grid(
                self.model, self.images, path, self.normalization, title=f"epoch {epoch + 1}"
            )
        self.saved.append(path)
