"""Input pipelines (tf.data) for pretraining and evaluation.

TFDS data sets: `pretraining_dataset`, `labelled_dataset` ("cifar10",
"cifar100", "stl10"). Your own images: `from_arrays`, `from_image_folder`.
All of them feed `model.fit` on every Keras backend.
"""

from keras_dsmae.data.arrays import from_arrays
from keras_dsmae.data.catalog import DATASETS, DatasetSpec, get_spec
from keras_dsmae.data.image_folder import from_image_folder
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.data.synthetic import synthetic_images
from keras_dsmae.data.tfds_source import (
    labelled_dataset,
    load_tfds_split,
    normalization_for,
    pretraining_dataset,
)

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "Normalization",
    "from_arrays",
    "from_image_folder",
    "get_spec",
    "labelled_dataset",
    "load_tfds_split",
    "normalization_for",
    "pretraining_dataset",
    "synthetic_images",
]
