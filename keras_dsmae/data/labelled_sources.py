"""Labelled train/test sets for evaluating an encoder (kNN, linear probe,
fine-tuning) on a `--dataset` name: each kind with labels gives its own
(the catalog's data sets; a folder laid out as `PATH/train/<class>/...` and
`PATH/test/<class>/...`)."""

from keras_dsmae.data.dataset_names import DATASET_KINDS, dataset_forms, parse_dataset


def evaluation_forms():
    """How labelled `--dataset` names are written (for help and errors)."""
    return dataset_forms(labelled=True)


def evaluation_splits(dataset, *, image_size, num_channels, batch_size=256, training=False, seed=0,
                      data_dir=None, use_synthetic_data=False, train_examples=None,
                      normalization=None, on_error="skip"):
    """`(train, test, num_classes, normalization)` for evaluation.

    Args:
        dataset: a `--dataset` name of a kind with labels (`evaluation_forms()`).
        image_size, num_channels: what the encoder takes; images are
            resized (and converted) to it.
        batch_size: images per batch.
        training: the training set shuffled and augmented (fine-tuning);
            otherwise both in a fixed order, un-augmented.
        seed: order and augmentation.
        data_dir, use_synthetic_data: TFDS options (catalog names).
        train_examples: use only the first N training images (catalog).
        normalization: a `Normalization`; default: the catalog's, or that
            of a sample of the training folder.
        on_error: undecodable files in a folder: "skip" or "raise".

    Returns:
        `(train, test, num_classes, normalization)`: `(images, labels)`
        datasets, the class count, and the normalisation used.

    Raises:
        ValueError: a name of a kind without labels, a folder without
            train/ and test/ class folders, or options that do not apply.
    """
    name = parse_dataset(dataset)
    return DATASET_KINDS[name.kind].evaluation_splits(
        name, image_size=image_size, num_channels=num_channels, batch_size=batch_size, training=training,
        seed=seed, data_dir=data_dir, use_synthetic_data=use_synthetic_data, train_examples=train_examples,
        normalization=normalization, on_error=on_error)
