"""Training batches as a function of (seed, epoch, step), so that a resumed
run reads exactly the batches the interrupted one would have read next.

A training pipeline describes one pass over its data as `TrainingPasses`:
a function of a pass key (a scalar int64 drawn from the seed, the epoch and
the pass's number within the epoch) that yields the pass's batches, every
shuffle and per-image augmentation seed taken from that key. `EpochStream`
strings passes into epochs of `steps_per_epoch` batches (an epoch takes as
many passes as it needs, and each epoch starts a fresh pass) and can be
told to start at any `(epoch, step)` before it is read.
"""

import dataclasses

import tensorflow as tf

from keras_dsmae.utils import validation

_REPEATS_PER_EPOCH = 2**16  # pass numbers within one epoch, in the key's derivation


@dataclasses.dataclass(frozen=True)
class TrainingPasses:
    """How a training pipeline makes one pass over its data.

    Attributes:
        make: `make(key, skip)` → a finite `tf.data.Dataset` of the pass's
            batches, leaving out its first `skip` examples (an int64 scalar
            tensor, a multiple of `batch_size`); `key` is an int64 scalar
            tensor that fixes the pass's order and augmentation.
        batch_size: examples per batch.
        examples_per_pass: the exact number of examples a pass batches
            (`N // batch_size * batch_size`) when it is known before the
            pass is read; then a resume leaves out the consumed examples
            before they are decoded or augmented. None: the consumed
            batches are made and dropped (slower, still exact).
        seed: the int seed the keys are drawn from (drawn once when None).
    """

    make: object
    batch_size: int
    examples_per_pass: object
    seed: int


def pass_key(seed, epoch, repeat):
    """The int64 scalar key of pass `repeat` (0, 1, ...) of `epoch`."""
    words = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64) * _REPEATS_PER_EPOCH
                      + tf.cast(repeat, tf.int64)])
    return tf.random.stateless_uniform([], seed=words, minval=0, maxval=2**62, dtype=tf.int64)


def keyed_shuffle(dataset, buffer_size, key):
    """`dataset.shuffle(buffer_size, seed=key)` for an int64 tensor `key`
    inside a dataset function. TensorFlow combines an op seed with the
    global seed and, when the global seed is 0 (`keras.utils.
    set_random_seed(0)`), tests the tensor's truth in Python and fails; the
    order here depends on `key` alone, so the graph seed is left out while
    the shuffle is made."""
    graph = tf.compat.v1.get_default_graph()
    global_seed, graph.seed = graph.seed, None
    try:
        return dataset.shuffle(buffer_size, seed=key, reshuffle_each_iteration=False)
    finally:
        graph.seed = global_seed


def one_pass_per_iteration(passes):
    """A dataset of one pass, with a new key for every iterator made of it
    (each `fit` epoch over a finite dataset): the plain dataset a pipeline
    returns, reproducible from `passes.seed`."""
    keys = tf.data.Dataset.random(seed=passes.seed, rerandomize_each_iteration=True).take(1)
    return keys.flat_map(lambda key: passes.make(key, tf.constant(0, tf.int64)))


class EpochStream:
    """Endless training batches, epoch after epoch, each epoch a function
    of (seed, epoch) only.

    Args:
        passes: the pipeline's `TrainingPasses`.
        steps_per_epoch: batches per epoch (> 0).
        device_input: the `DeviceInput` that finishes the batches on the
            device (None: they are model-ready).

    Call `start_at(epoch, step)` before `fit` reads the first batch of
    `dataset`; the stream then yields epoch `epoch` from its batch `step` on.
    """

    def __init__(self, passes, steps_per_epoch, device_input=None):
        validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        self.passes = passes
        self.steps_per_epoch = steps_per_epoch
        self.device_input = device_input
        with tf.device("/CPU:0"):
            self._start = tf.Variable([0, 0], dtype=tf.int64, trainable=False, name="stream_start")

    def start_at(self, epoch, step=0):
        """Make the next iterator start at batch `step` of `epoch`."""
        if not 0 <= step < self.steps_per_epoch:
            raise ValueError(f"`step` must be in [0, {self.steps_per_epoch}); got step={step!r}.")
        self._start.assign([int(epoch), int(step)])

    @property
    def position(self):
        """`(epoch, step)` the next iterator starts at."""
        epoch, step = (int(value) for value in self._start.numpy())
        return epoch, step

    def dataset(self):
        """The endless `tf.data.Dataset` of batches, prefetched."""
        start, steps, passes = self._start, self.steps_per_epoch, self.passes
        batch = passes.batch_size

        def epoch_batches(epoch):
            first = start.read_value()
            skip = tf.where(tf.equal(epoch, first[0]), first[1], tf.constant(0, tf.int64))
            repeats = tf.data.Dataset.counter()
            if passes.examples_per_pass:  # leave the consumed examples out before any work
                per_pass = passes.examples_per_pass // batch

                def one_pass(repeat):
                    skipped = tf.clip_by_value(skip - repeat * per_pass, 0, per_pass)
                    return passes.make(pass_key(passes.seed, epoch, repeat), skipped * batch)

                return repeats.flat_map(one_pass).take(steps - skip)
            made = repeats.flat_map(
                lambda repeat: passes.make(pass_key(passes.seed, epoch, repeat), tf.constant(0, tf.int64)))
            return made.take(steps).skip(skip)

        epochs = tf.data.Dataset.counter().map(lambda count: count + start.read_value()[0])
        return epochs.flat_map(epoch_batches).prefetch(tf.data.AUTOTUNE)
