"""Labelled train/test sets for evaluating an encoder (kNN, linear probe,
fine-tuning) on a `--dataset` name: the catalog's data sets, or a folder
laid out as `PATH/train/<class>/...` and `PATH/test/<class>/...`."""

import os

from keras_dsmae.data.catalog import get_spec
from keras_dsmae.data.dataset_names import parse_dataset
from keras_dsmae.data.image_folder import from_image_folder
from keras_dsmae.data.tfds_source import labelled_dataset, normalization_for

EVALUATION_FORMS = "cifar10 | cifar100 | stl10 | folder:PATH (with PATH/train/<class>/ and PATH/test/<class>/)"


def evaluation_splits(dataset, *, image_size, num_channels, batch_size=256, training=False, seed=0,
                      data_dir=None, use_synthetic_data=False, train_examples=None,
                      normalization=None, on_error="skip"):
    """`(train, test, num_classes, normalization)` for evaluation.

    Args:
        dataset: a catalog name or `folder:PATH` (see `EVALUATION_FORMS`).
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
        ValueError: a name of another kind, a folder without train/ and
            test/ class folders, or options that do not apply.
    """
    name = parse_dataset(dataset)
    if name.kind == "catalog":
        spec = get_spec(name.name)
        normalization = normalization or normalization_for(spec.name, num_channels)
        train_split = spec.train_split + (f"[:{train_examples}]" if train_examples else "")
        common = dict(batch_size=batch_size, data_dir=data_dir, use_synthetic_data=use_synthetic_data,
                      image_size=image_size, num_channels=num_channels, normalization=normalization)
        train = labelled_dataset(spec.name, train_split, training=training, seed=seed,
                                 synthetic_examples=train_examples or 1024, **common)
        test = labelled_dataset(spec.name, spec.test_split, seed=seed + 1, synthetic_examples=512, **common)
        return train, test, spec.num_classes, normalization
    if name.kind != "folder":
        raise ValueError(
            f"Evaluation needs labels: `dataset` must be one of {EVALUATION_FORMS}; got "
            f"dataset={dataset!r}. Evaluate other data in Python with keras_dsmae.evaluation."
        )
    if use_synthetic_data or train_examples:
        raise ValueError(
            f"`use_synthetic_data` and `train_examples` apply to the catalog's data sets, not to "
            f"dataset={dataset!r}."
        )
    folders = [os.path.join(name.name, part) for part in ("train", "test")]
    if not all(os.path.isdir(folder) for folder in folders):
        raise ValueError(
            f"`dataset` {dataset!r}: for evaluation the folder must hold train/ and test/, each "
            f"with one sub-folder per class ({EVALUATION_FORMS})."
        )
    common = dict(image_size=image_size, num_channels=num_channels, batch_size=batch_size,
                  on_error=on_error, seed=seed)
    train = from_image_folder(folders[0], training=training, normalization=normalization, **common)
    test = from_image_folder(folders[1], training=False, normalization=train.normalization, **common)
    if train.class_names is None or train.class_names != test.class_names:
        raise ValueError(
            f"`dataset` {dataset!r}: train/ and test/ must hold the same class sub-folders (and "
            f"only them); got {train.class_names} and {test.class_names}."
        )
    return train, test, len(train.class_names), train.normalization
