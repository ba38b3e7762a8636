"""Frozen-encoder features for kNN and linear-probe evaluation."""

import numpy as np

from keras_dsmae.utils import validation

FEATURE_POOLING = ("mean", "cls")


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
    return outputs[:, num_prefix_tokens:].mean(axis=1)


def extract_features(encoder, data, batch_size=256, pooling="mean"):
    """Pooled features of a frozen encoder.

    Args:
        encoder: a `ViTEncoder` (any `pooling`), or any Keras model mapping
            images to `(B, D)` features.
        data: `(images, labels)` arrays or a labelled `tf.data.Dataset`.
        batch_size: images per forward pass (when `data` is arrays or unbatched).
        pooling: `"mean"` of patch tokens or the `"cls"` token, used when the
            encoder returns tokens.

    Returns:
        `(features, labels)`: `(N, D)` float32 and `(N,)` int64 numpy arrays.
    """
    validation.check_choice("pooling", pooling, FEATURE_POOLING)
    prefix = getattr(encoder, "num_prefix_tokens", 0)
    features, labels = [], []
    for images, batch_labels in as_batches(data, batch_size):
        outputs = np.asarray(encoder.predict_on_batch(images), dtype="float32")
        features.append(pool_tokens(outputs, prefix, pooling))
        labels.append(np.asarray(batch_labels).reshape(-1))
    if not features:
        raise ValueError("The evaluation data is empty.")
    return np.concatenate(features), np.concatenate(labels).astype("int64")


def train_test_features(encoder, train, test, batch_size=256, pooling="mean", num_classes=None):
    """`extract_features` of both splits and the number of classes.

    Returns:
        `(train_features, train_labels, test_features, test_labels, num_classes)`;
        `num_classes` defaults to the largest label + 1.
    """
    train_features, train_labels = extract_features(encoder, train, batch_size, pooling)
    test_features, test_labels = extract_features(encoder, test, batch_size, pooling)
    num_classes = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    return train_features, train_labels, test_features, test_labels, num_classes
