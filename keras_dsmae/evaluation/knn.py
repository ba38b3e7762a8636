"""Weighted k-nearest-neighbour accuracy on frozen features (the monitor of
InstDisc / DINO: cosine similarity, temperature-weighted votes)."""

import numpy as np
from keras import ops

from keras_dsmae.evaluation.features import train_test_features
from keras_dsmae.utils import validation
from keras_dsmae.utils.token_math import l2_normalize


def knn_predict(train_features, train_labels, query_features, num_classes, k=20,
                temperature=0.07, chunk_size=512):
    """Class predictions `(M,)` for `(M, D)` queries from `(N, D)` references.

    Cosine similarity; each of the `k` nearest references votes for its label
    with weight `exp(similarity / temperature)`. Works in chunks of
    `chunk_size` queries, so memory is `chunk_size × N` floats.
    """
    train = _unit_rows(train_features)
    query = _unit_rows(query_features)
    k = min(k, len(train))
    predictions = []
    for start in range(0, len(query), chunk_size):
        similarity = query[start : start + chunk_size] @ train.T  # (m, N)
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]  # (m, k)
        nearest_similarity = np.take_along_axis(similarity, nearest, axis=1)
        # exp((s - max s) / T): the same vote ratios, without overflow
        weights = np.exp((nearest_similarity - nearest_similarity.max(axis=1, keepdims=True)) / temperature)
        votes = np.zeros((len(nearest), num_classes), dtype="float64")
        np.add.at(votes, (np.arange(len(nearest))[:, None], train_labels[nearest]), weights)
        predictions.append(votes.argmax(axis=1))
    return np.concatenate(predictions)


def knn_accuracy(encoder, train, test, k=20, temperature=0.07, batch_size=256,
                 pooling="mean", num_classes=None):
    """Top-1 accuracy of a weighted kNN classifier on frozen encoder features.

    Args:
        encoder: a `ViTEncoder` (e.g. `model.encoder`) or any image → feature model.
        train: reference `(images, labels)` arrays or labelled `tf.data.Dataset`.
        test: query data, same forms.
        k: neighbours that vote (≥ 1).
        temperature: vote weight `exp(cos / temperature)` (> 0).
        batch_size: images per encoder pass.
        pooling: "mean" or "cls" when the encoder returns tokens.
        num_classes: default: the largest label + 1.

    Returns:
        accuracy in [0, 1] (a Python float).
    """
    validation.check_int("k", k, minimum=1)
    validation.check_float("temperature", temperature, 0.0, low_open=True)
    train_features, train_labels, test_features, test_labels, num_classes = train_test_features(
        encoder, train, test, batch_size, pooling, num_classes)
    predictions = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature)
    return float((predictions == test_labels).mean())


def _unit_rows(features):
    """`(N, D)` features scaled to unit L2 norm, as a float32 numpy array."""
    return np.asarray(ops.convert_to_numpy(l2_normalize(np.asarray(features, dtype="float32"))))
