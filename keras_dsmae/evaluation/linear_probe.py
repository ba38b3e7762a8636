"""Linear probe: a linear classifier on frozen, pre-computed features."""

import keras
import numpy as np

from keras_dsmae.evaluation.features import train_test_features
from keras_dsmae.utils import validation


def linear_probe(encoder, train, test, epochs=30, batch_size=256, learning_rate=1e-3,
                 pooling="mean", num_classes=None, seed=0, verbose=0):
    """Test accuracy of a linear classifier on frozen encoder features.

    Features are computed once and standardised per dimension with the
    exact mean and standard deviation of the training features (what MAE's
    affine-free `BatchNormalization` aims at, without depending on moving
    statistics that need many steps to converge); the classifier is one
    `Dense` layer trained with softmax cross-entropy (here with Adam).

    Args:
        encoder: a `ViTEncoder` or any image → feature model (kept frozen).
        train, test: `(images, labels)` arrays or labelled `tf.data.Dataset`s.
        epochs: classifier training epochs.
        batch_size: images per encoder pass and per classifier step.
        learning_rate: Adam learning rate.
        pooling: "mean" or "cls" when the encoder returns tokens.
        num_classes: default: the largest label + 1.
        seed: classifier initialisation and shuffling.
        verbose: passed to the classifier's `fit`.

    Returns:
        accuracy in [0, 1] (a Python float).
    """
    validation.check_int("epochs", epochs, minimum=1)
    train_features, train_labels, test_features, test_labels, num_classes = train_test_features(
        encoder, train, test, batch_size, pooling, num_classes)
    mean = train_features.mean(axis=0)
    std = np.sqrt(train_features.var(axis=0) + 1e-6)
    train_features = (train_features - mean) / std
    test_features = (test_features - mean) / std
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential([
        keras.Input((train_features.shape[1],)),
        keras.layers.Dense(num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.01)),
    ], name="linear_probe")
    probe.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    probe.fit(train_features, train_labels, epochs=epochs, batch_size=batch_size, verbose=verbose)
    logits = probe.predict(test_features, batch_size=4096, verbose=0)
    return float((np.argmax(logits, axis=1) == test_labels).mean())
