"""Decoding image files inside a tf.data pipeline, where an undecodable file
is skipped (and recorded by name) or stops the pipeline with its name.

Each path becomes a one-element dataset holding either its decoded image or,
if decoding failed, a marker; the markers are recorded by a `SkippedFiles`
in a filter, through `tf.py_function` (which runs for failures only, so the
decoding of good files stays in TensorFlow's threads).
"""

import threading

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
ON_ERROR = ("skip", "raise")
MAX_KEPT_NAMES = 10_000  # names held between two take_new calls (the count goes on)


class UndecodableFile(ValueError):
    """An image file could not be decoded and `on_error="raise"`."""


class SkippedFiles:
    """The undecodable files a pipeline met (thread-safe).

    Args:
        on_error: "skip" (record and leave the file out) or "raise" (raise
            `UndecodableFile` naming the file at the first one).

    Attributes:
        total: files skipped so far (repeats count again in later epochs).
        failure: the `UndecodableFile` raised under `on_error="raise"`, or
            None (the backends' data iterators may wrap the exception).
    """

    def __init__(self, on_error="skip"):
        self.on_error = on_error
        self.total = 0
        self.failure = None
        self._new = []
        self._lock = threading.Lock()

    def record(self, path):
        """Called by the pipeline with a path (bytes) that did not decode."""
        name = path.decode("utf-8", "replace") if isinstance(path, bytes) else str(path)
        if self.on_error == "raise":
            self.failure = UndecodableFile(
                f"Could not decode {name!r} as an image (on_error='raise'). Remove or "
                f"repair it, or pass on_error='skip' (--on_error=skip) to leave such files out."
            )
            raise self.failure
        with self._lock:
            self.total += 1
            if len(self._new) < MAX_KEPT_NAMES:
                self._new.append(name)

    def take_new(self):
        """The files skipped since the last call (and forget them)."""
        with self._lock:
            new, self._new = self._new, []
        return new

    def describe(self, names, shown=3):
        """'N undecodable image file(s) skipped: a, b, c, ...' for the
        names `take_new` returned (a file read again, after a repeat or by
        read-ahead, counts once)."""
        distinct = list(dict.fromkeys(names))
        examples = ", ".join(distinct[:shown]) + (", ..." if len(distinct) > shown else "")
        return f"{len(distinct)} undecodable image file(s) skipped: {examples}"


def decode_image_file(path):
    """path → `(H, W, 3)` uint8 (grayscale becomes RGB, alpha is dropped;
    PNG, JPEG, BMP, GIF's first frame)."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.ensure_shape(image, (None, None, 3))


def decoded_images(paths_and_labels, skipped, deterministic=True):
    """`(path, label)` elements → `(uint8 image, label)`, leaving out (or
    raising on) files that do not decode, as `skipped` says.

    Args:
        paths_and_labels: `tf.data.Dataset` of `(string path, label)`; the
            label may be any structure (it is passed through).
        skipped: a `SkippedFiles`.
        deterministic: keep the input order (decoding runs in parallel
            either way).

    Returns:
        `tf.data.Dataset` of `((H, W, 3) uint8, label)`.
    """

    def decoded_or_marker(path, label):
        decoded = tf.data.Dataset.from_tensors((path, label)).map(
            lambda p, l: (decode_image_file(p), l, p, True)
        ).ignore_errors()
        marker = tf.data.Dataset.from_tensors((tf.zeros((1, 1, 3), tf.uint8), label, path, False))
        return decoded.concatenate(marker).take(1)

    def record_failure(path):
        skipped.record(path.numpy())
        return False

    def keep(image, label, path, ok):
        return tf.cond(ok, lambda: tf.constant(True),
                       lambda: tf.py_function(record_failure, [path], tf.bool))

    stream = paths_and_labels.interleave(
        decoded_or_marker, cycle_length=16, num_parallel_calls=AUTOTUNE, deterministic=deterministic
    )
    return stream.filter(keep).map(lambda image, label, path, ok: (image, label))
