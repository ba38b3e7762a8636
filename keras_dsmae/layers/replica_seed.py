"""Seeds that differ between data-parallel replicas."""

import keras
from keras import ops

from keras_dsmae.utils.distribution import replica_index


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` whose seeds include the replica index.

    Under `tf.distribute`, every replica holds the same generator state, so
    a plain generator gives each replica the same masks and noise. This one
    adds the replica index to the first seed word: replica 0 (and any run on
    one device) draws exactly what a plain generator with the same seed
    draws, so runs still reproduce from their seed.
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        index = replica_index()
        if isinstance(index, int) and index == 0:
            return seed
        offset = ops.stack([ops.cast(index, seed.dtype), ops.zeros((), seed.dtype)])
        return seed + offset
