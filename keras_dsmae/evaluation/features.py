"""Frozen-encoder features for kNN and linear-probe evaluation."""

import numpy as np
from keras import ops

from keras_dsmae.utils import validation
from keras_dsmae.utils.token_math import mean_pool

FEATURE_POOLING = ("mean", "cls", "mean_last2")


def as_batches(data, batch_size):
    """Iterate `(images, labels)` numpy batches from a `(images, labels)` pair
    of arrays or a labelled `tf.data.Dataset` (batched or not)."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = np.asarray(data[0]), np.asarray(data[1])
        if len(images) != len(labels):
            raise ValueError(
                f"images and labels must have the same length; got "
                f"{len(images)} images and {len(labels)} labels."
            )
        for start in range(0, len(images), batch_size):
            yield images[start : start + batch_size], labels[start : start + batch_size]
        return
    if not hasattr(data, "as_numpy_iterator"):
        raise ValueError(
            "Evaluation data must be an `(images, labels)` pair of arrays or a "
            f"labelled tf.data.Dataset; got {type(data).__name__}."
        )
    spec = data.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise ValueError("The evaluation dataset must yield `(images, labels)` pairs.")
    if spec[0].shape.rank == 3:  # unbatched (H, W, C) images
        data = data.batch(batch_size)
    for images, labels in data.as_numpy_iterator():
        yield images, labels


def pool_tokens(outputs, num_prefix_tokens, pooling):
    """`(B, T, D)` encoder tokens (or already pooled `(B, D)`) → `(B, D)`."""
    if outputs.ndim == 2:
        return outputs
    if pooling == "cls":
        if num_prefix_tokens == 0:
            raise ValueError("pooling='cls' needs an encoder with a class token; use pooling='mean'.")
        return outputs[:, 0]
    return np.asarray(ops.convert_to_numpy(mean_pool(outputs, num_prefix_tokens)))


def last_blocks_average(encoder, images, count):
    """`(B, D)` float32 numpy: the mean over patch tokens of the average of
    the last `count` block outputs of a `ViTEncoder`, each through its final
    norm, for `(B, H, W, C)` images."""
    if not encoder.built:
        encoder.build((None, *np.shape(images)[1:]))
    blocks = encoder.block_outputs(encoder.embed(encoder.patchify(ops.convert_to_tensor(images))))
    average = sum(encoder.final_norm(block) for block in blocks[-count:]) / count
    return np.asarray(ops.convert_to_numpy(mean_pool(average, encoder.num_prefix_tokens)), dtype="float32")


def extract_features(encoder, data, batch_size=256, pooling="mean"):
    """Pooled features of a frozen encoder.

    Args:
        encoder: a `ViTEncoder` (any `pooling`), or any Keras model mapping
            images to `(B, D)` features.
        data: `(images, labels)` arrays or a labelled `tf.data.Dataset`.
        batch_size: images per forward pass (when `data` is arrays or unbatched).
        pooling: `"mean"` of patch tokens or the `"cls"` token, used when the
            encoder returns tokens; `"mean_last2"` (a `ViTEncoder` only): the
            mean over patch tokens of the average of the last two blocks'
            outputs, each through the final norm (the features BEiT and
            data2vec probe).

    Returns:
        `(features, labels)`: `(N, D)` float32 and `(N,)` int64 numpy arrays.
    """
    validation.check_choice("pooling", pooling, FEATURE_POOLING)
    if pooling == "mean_last2" and not hasattr(encoder, "block_outputs"):
        raise ValueError(
            f"pooling='mean_last2' needs a ViTEncoder (it reads the block outputs); got "
            f"{type(encoder).__name__}. Allowed for other models: 'mean', 'cls'."
        )
    prefix = getattr(encoder, "num_prefix_tokens", 0)
    features, labels = [], []
    for images, batch_labels in as_batches(data, batch_size):
        if pooling == "mean_last2":
            features.append(last_blocks_average(encoder, images, 2))
        else:
            # `predict`, not `predict_on_batch`: under tf.distribute the latter runs
            # the whole batch on every replica and returns it once per replica.
            outputs = np.asarray(encoder.predict(images, batch_size=len(images), verbose=0), dtype="float32")
            features.append(pool_tokens(outputs, prefix, pooling))
        labels.append(np.asarray(batch_labels).reshape(-1))
    if not features:
        raise ValueError("The evaluation data is empty.")
    return np.concatenate(features), check_labels(np.concatenate(labels))


def check_num_classes(num_classes):
    """`num_classes` must be None or an integer >= 2."""
    if num_classes is not None:
        validation.check_int("num_classes", num_classes, minimum=2)
    return num_classes


def check_labels(labels, num_classes=None, name="labels"):
    """Require integer class labels in `[0, num_classes)`.

    Args:
        labels: array-like of labels.
        num_classes: None (then only `>= 0` is required) or the class count.
        name: how the message names the labels.

    Returns:
        the labels as an int64 numpy array.
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.size and not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.bool_)):
        if not (np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels))):
            raise ValueError(
                f"`{name}` must be integer class indices >= 0; got dtype {labels.dtype} "
                f"(e.g. {labels[0]!r}). Map class names to 0..C-1 first."
            )
    labels = labels.astype("int64")
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"`{name}` must be integer class indices >= 0; got {labels.min()} among them."
        )
    if labels.size and num_classes is not None and labels.max() >= num_classes:
        raise ValueError(
            f"`{name}` must be < num_classes={num_classes}; got label {labels.max()}. "
            f"Pass num_classes={labels.max() + 1} or more, or fix the labels."
        )
    return labels


def labels_of(data):
    """The labels of `(images, labels)` arrays, or None for a dataset."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return np.asarray(data[1])
    return None


def train_test_features(encoder, train, test, batch_size=256, pooling="mean", num_classes=None):
    """`extract_features` of both splits and the number of classes.

    Labels are checked first when they are arrays (before any encoder pass),
    and always after extraction.

    Returns:
        `(train_features, train_labels, test_features, test_labels, num_classes)`;
        `num_classes` defaults to the largest label + 1.
    """
    check_num_classes(num_classes)
    for name, split in (("train labels", train), ("test labels", test)):
        if labels_of(split) is not None:
            check_labels(labels_of(split), num_classes, name)
    train_features, train_labels = extract_features(encoder, train, batch_size, pooling)
    test_features, test_labels = extract_features(encoder, test, batch_size, pooling)
    train_labels = check_labels(train_labels, num_classes, "train labels")
    test_labels = check_labels(test_labels, num_classes, "test labels")
    num_classes = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    return train_features, train_labels, test_features, test_labels, num_classes
