"""A data set kept on the accelerator, so that a step receives only indices."""

import keras
from keras import ops


class ResidentImages(keras.layers.Layer):
    """Fixed uint8 images held in one device variable (replicated on every
    device of a `tf.distribute` strategy or a JAX `DataParallel` mesh, so
    each replica gathers its own share of the batch locally).

    The images are data, not model state: they are never written by
    `save_weights`, checkpoints or `.keras` files, and a load leaves them as
    they are. Not registered for serialization (it has no config to rebuild
    from); the model that holds one is saved without it.

    Args:
        images: `(N, H, W, C)` uint8 numpy array.

    Call arguments:
        indices: `(B,)` integer indices into the images.

    Returns:
        `(B, H, W, C)` uint8.
    """

    def __init__(self, images, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.num_images = int(images.shape[0])
        self.image_shape = tuple(int(d) for d in images.shape[1:])
        self.images = self.add_weight(
            shape=images.shape, dtype="uint8", trainable=False, name="images",
            initializer=lambda shape, dtype: ops.convert_to_tensor(images, dtype="uint8"),
        )
        self.built = True

    def call(self, indices):
        return ops.take(self.images, ops.cast(indices, "int32"), axis=0)

    def save_own_variables(self, store):
        """Nothing: the images are data, not state."""

    def load_own_variables(self, store):
        """Nothing: the images stay as they are."""

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_shape)
